"""The HTTP API connector changing records on a real local CRM API: updates and deletes done
once, restrictions set and lifted, and what the API cannot do refused before any write."""

from __future__ import annotations

import pytest
from http_connecting import crm, crm_server
from http_crm_api import (
    ALICE,
    COLLECTIONS,
    CONTACTS,
    NOTES,
    ORDERS,
    TICKETS,
    connector,
    delete,
    update,
)
from http_crm_server import CrmServer

from opendpo.connectors.base import Applied, NotSupported
from opendpo.connectors.http_api import HttpApiError

__all__ = ["crm", "crm_server"]  # fixtures, used by name


def test_an_update_sends_only_the_mapped_changed_fields_once(crm: CrmServer) -> None:
    rectify = [update(CONTACTS, {"id": 1}, name__first="Alicia", marketing_opt_in=False)]
    with connector(crm) as api:
        assert api.apply(rectify) == Applied({"crm_api.contacts": 1})
        assert api.apply(rectify) == Applied({"crm_api.contacts": 0})
    assert crm.state.contacts[1] == {
        "id": 1,
        "email": ALICE,
        "phone": "+447700900001",
        "first_name": "Alicia",
        "last_name": "Archer",
        "job_title": "Head of IT",
        "preferences": {"marketing": False, "newsletter": True},
        "restricted": False,
    }
    assert crm.state.calls == ["GET /contacts/1", "PATCH /contacts/1", "GET /contacts/1"]


def test_a_body_template_takes_typed_values_from_the_record(crm: CrmServer) -> None:
    erase = [update(NOTES, {"id": 10}, text="[erased]")]
    with connector(crm) as api:
        assert api.apply(erase) == Applied({"crm_api.notes": 1})
        assert api.apply(erase) == Applied({"crm_api.notes": 0})
    # The server refuses a PUT whose contact_id is not a number.
    assert crm.state.notes[10] == {"id": 10, "contact_id": 1, "text": "[erased]"}
    assert crm.state.calls == ["GET /notes/10", "PUT /notes/10", "GET /notes/10"]


def test_deletes_are_done_once_and_404_counts_as_done(crm: CrmServer) -> None:
    erase = [delete(CONTACTS, {"id": 2}), delete(NOTES, {"id": 11}), delete(NOTES, {"id": 13})]
    with connector(crm) as api:
        assert api.apply(erase) == Applied({"crm_api.contacts": 1, "crm_api.notes": 2})
        assert api.apply(erase) == Applied({"crm_api.contacts": 0, "crm_api.notes": 0})
    assert sorted(crm.state.contacts) == [1, 3, 4, 5, 6]
    assert sorted(crm.state.notes) == [10, 12]


def test_a_row_gone_since_it_was_read_is_not_updated(crm: CrmServer) -> None:
    with connector(crm) as api:
        assert api.apply([update(CONTACTS, {"id": 42}, job_title="x")]) == Applied(
            {"crm_api.contacts": 0}
        )
    assert crm.state.calls == ["GET /contacts/42"]


def test_restriction_is_its_own_request_and_can_be_lifted(crm: CrmServer) -> None:
    restrict = [update(CONTACTS, {"id": 3}, restricted=True)]
    lift = [update(CONTACTS, {"id": 3}, restricted=False)]
    with connector(crm) as api:
        assert api.apply(restrict) == Applied({"crm_api.contacts": 1})
        assert crm.state.contacts[3]["restricted"] is True
        assert api.apply(restrict) == Applied({"crm_api.contacts": 0})
        assert api.apply(lift) == Applied({"crm_api.contacts": 1})
    assert crm.state.contacts[3]["restricted"] is False
    writes = [c for c in crm.state.calls if not c.startswith("GET")]
    assert writes == ["POST /contacts/3/restriction", "DELETE /contacts/3/restriction"]


def test_a_restriction_the_api_does_not_show_is_requested_each_time(crm: CrmServer) -> None:
    contacts = {**COLLECTIONS["contacts"], "fields": {"restricted": "meta.restricted"}}
    with connector(crm, collections={**COLLECTIONS, "contacts": contacts}) as api:
        # Lifting a restriction that is not there: the API answers 404, nothing was to do.
        assert api.apply([update(CONTACTS, {"id": 3}, restricted=False)]) == Applied(
            {"crm_api.contacts": 0}
        )
        restrict = [update(CONTACTS, {"id": 3}, restricted=True)]
        assert api.apply(restrict) == Applied({"crm_api.contacts": 1})
        assert api.apply(restrict) == Applied({"crm_api.contacts": 1})
    assert crm.state.contacts[3]["restricted"] is True
    writes = [c for c in crm.state.calls if not c.startswith("GET")]
    assert writes == [
        "DELETE /contacts/3/restriction",
        "POST /contacts/3/restriction",
        "POST /contacts/3/restriction",
    ]


def test_without_a_read_by_key_an_update_is_sent_each_time(crm: CrmServer) -> None:
    # Orders can be read only by customer_email, so a change to one cannot be compared first.
    change = [update(ORDERS, {"id": 101}, total=0)]
    with connector(crm) as api:
        assert api.apply(change) == Applied({"crm_api.orders": 1})
        assert api.apply(change) == Applied({"crm_api.orders": 1})
        # Without a read, a 404 is a record already gone: nothing there to change.
        assert api.apply([update(ORDERS, {"id": 999}, total=0)]) == Applied({"crm_api.orders": 0})
    assert crm.state.orders[1] == {"id": 101, "customer_email": ALICE, "total": 0}
    assert crm.state.calls == ["PATCH /orders/101", "PATCH /orders/101", "PATCH /orders/999"]


def test_what_the_api_cannot_do_is_refused_before_anything_is_written(crm: CrmServer) -> None:
    with connector(crm) as api:
        with pytest.raises(NotSupported) as raised:
            api.apply([delete(CONTACTS, {"id": 3}), delete(TICKETS, {"id": 200})])
        assert (
            str(raised.value) == "crm: crm_api.tickets: the API description has no delete request"
        )
        with pytest.raises(NotSupported) as raised:
            api.apply([update(TICKETS, {"id": 200}, subject="x")])
        assert (
            str(raised.value) == "crm: crm_api.tickets: the API description has no update request"
        )
        with pytest.raises(NotSupported) as raised:
            api.find(TICKETS, {"id": [200]})
        assert str(raised.value) == (
            "crm: crm_api.tickets: no read request looks records up by id "
            "(one whose path or query has {id})"
        )
    assert 3 in crm.state.contacts
    assert crm.state.calls == []


def test_a_rejected_change_is_not_retried(crm: CrmServer) -> None:
    with connector(crm) as api, pytest.raises(HttpApiError) as raised:
        api.apply([update(CONTACTS, {"id": 1}, email="not an address")])
    assert raised.value.retryable is False
    assert raised.value.status == 422
    assert str(raised.value) == (
        "crm: contacts PATCH /contacts/{id}: rejected the request (422 Unprocessable Entity)"
    )
    assert crm.state.contacts[1]["email"] == ALICE
