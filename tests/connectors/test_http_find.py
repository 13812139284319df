"""The HTTP API connector finding records on a real local CRM API: search results filtered,
fields ORed, values batched, and every pagination style followed, within bounds."""

from __future__ import annotations

import pytest
from http_connecting import crm, crm_server
from http_crm_api import (
    ALICE,
    ALICE_ROWS,
    BOB,
    COLLECTIONS,
    CONTACTS,
    NOTES,
    ORDERS,
    PROBE,
    TICKETS,
    calls,
    connector,
    probe,
)
from http_crm_server import CrmServer

from opendpo.connectors.http_api import HttpApiError

__all__ = ["crm", "crm_server"]  # fixtures, used by name


def test_search_results_are_kept_only_when_they_hold_the_value(crm: CrmServer) -> None:
    # The CRM's search also returns ALICE@example.com and malice@example.com.
    with connector(crm) as api:
        assert list(api.find(CONTACTS, {"email": [ALICE]})) == ALICE_ROWS
    contacts = dict(COLLECTIONS["contacts"])
    contacts["read"] = [{**contacts["read"][0], "ignore_case": True}]
    with connector(crm, collections={**COLLECTIONS, "contacts": contacts}) as api:
        ids = [row["id"] for row in api.find(CONTACTS, {"email": [ALICE]})]
    assert ids == [1, 2, 4, 6]


def test_fields_are_ored_and_a_record_comes_once(crm: CrmServer) -> None:
    with connector(crm) as api:
        rows = list(
            api.find(CONTACTS, {"email": [ALICE], "phone": ["+447700900001", "+447700900003"]})
        )
    assert [row["id"] for row in rows] == [1, 2, 6, 3]


def test_values_of_the_wrong_type_match_nothing(crm: CrmServer) -> None:
    with connector(crm) as api:
        rows = list(api.find(CONTACTS, {"id": [1, "abc", None, 99, "", True], "email": [""]}))
    assert rows == [ALICE_ROWS[0]]
    assert crm.state.calls == ["GET /contacts/1", "GET /contacts/99"]


def test_page_numbers_and_records_without_their_parent_id(crm: CrmServer) -> None:
    with connector(crm) as api:
        rows = list(api.find(NOTES, {"contact_id": [1, 99]}))
    assert rows == [
        {"id": 10, "contact_id": 1, "text": "Called about renewal"},
        {"id": 11, "contact_id": 1, "text": "Prefers email"},
        {"id": 12, "contact_id": 1, "text": "Met at trade show"},
    ]
    assert crm.state.calls == [
        "GET /contacts/1/notes?page=1&per_page=2",
        "GET /contacts/1/notes?page=2&per_page=2",
        "GET /contacts/99/notes?page=1&per_page=2",
    ]


@pytest.mark.parametrize("list_style", ["repeat", "comma"])
def test_cursor_pages_and_values_batched_in_a_list_parameter(
    crm: CrmServer, list_style: str
) -> None:
    orders = {**COLLECTIONS["orders"]}
    orders["read"] = {**orders["read"], "list_style": list_style}
    with connector(crm, collections={**COLLECTIONS, "orders": orders}) as api:
        rows = list(api.find(ORDERS, {"customer_email": [ALICE, BOB, "dave@example.com"]}))
    assert rows == [
        {"id": 100, "customer_email": ALICE, "total": 120.0},
        {"id": 101, "customer_email": ALICE, "total": 75.5},
        {"id": 102, "customer_email": BOB, "total": 20},
        {"id": 103, "customer_email": ALICE, "total": 9.99},
    ]
    queries = [query for _, query in calls(crm.state, "GET /orders")]
    emails = [ALICE, BOB, "dave@example.com"]
    sent = emails if list_style == "repeat" else [",".join(emails)]
    assert queries == [
        {"customer_email": sent, "limit": ["2"]},
        {"customer_email": sent, "limit": ["2"], "after": ["Mg=="]},
    ]


@pytest.mark.parametrize("style", ["key", "qkey"])
def test_link_header_pages(crm: CrmServer, style: str) -> None:
    with connector(crm, style) as api:
        rows = list(api.find(TICKETS, {"requester": [ALICE]}))
    assert [row["id"] for row in rows] == [200, 201, 202, 203, 204, 205, 206]
    pages = [query.get("page", ["1"]) for _, query in calls(crm.state, "GET /tickets")]
    assert pages == [["1"], ["2"], ["3"], ["4"]]


def test_a_runaway_pager_is_stopped(crm: CrmServer) -> None:
    tickets = {
        "read": {
            **COLLECTIONS["tickets"]["read"],
            "pagination": {"strategy": "link", "max_pages": 2},
        }
    }
    with (
        connector(crm, collections={**COLLECTIONS, "tickets": tickets}) as api,
        pytest.raises(HttpApiError) as raised,
    ):
        list(api.find(TICKETS, {"requester": [ALICE]}))
    assert raised.value.retryable is False
    assert str(raised.value) == (
        "crm: tickets GET /tickets: more than 2 pages; raise pagination.max_pages if the API "
        "really holds that many records"
    )


def test_a_cursor_given_twice_is_an_error(crm: CrmServer) -> None:
    paging = {"strategy": "cursor", "cursor_path": "next", "cursor_param": "after"}
    with probe(crm, "cursor-loop", pagination=paging) as api, pytest.raises(HttpApiError) as raised:
        list(api.find(PROBE, {"email": ["x@example.com"]}))
    assert raised.value.retryable is False
    assert str(raised.value) == (
        "crm: probe GET /errors/{kind}: the API gave the cursor at next twice"
    )


def test_a_next_link_to_another_server_is_not_followed(crm: CrmServer) -> None:
    with (
        probe(crm, "elsewhere", data_path="", pagination={"strategy": "link"}) as api,
        pytest.raises(HttpApiError) as raised,
    ):
        list(api.find(PROBE, {"email": ["x@example.com"]}))
    assert raised.value.retryable is False
    assert str(raised.value) == (
        "crm: probe GET /errors/{kind}: the rel=next link leads to another server"
    )
