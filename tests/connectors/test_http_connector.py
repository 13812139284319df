"""The HTTP API connector against a real local CRM API (tests/connectors/http_crm_server.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from http_crm_api import (
    ALICE,
    ALICE_ROWS,
    AUTH,
    BOB,
    COLLECTIONS,
    CONTACTS,
    NOTES,
    ORDERS,
    PROBE,
    TICKETS,
    calls,
    connection,
    connector,
    contact_row,
    delete,
    probe,
    update,
    without_secrets,
)
from http_crm_server import BEARER_TOKEN, CLIENT_ID, CLIENT_SECRET, STYLES, CrmServer
from pydantic import ValidationError

from opendpo.connectors.base import Applied, ConnectorError, NotSupported
from opendpo.connectors.http_api import HttpApiError, HttpConnector


@pytest.fixture(scope="module")
def crm_server() -> Iterator[CrmServer]:
    server = CrmServer()
    with server.running():
        yield server


@pytest.fixture
def crm(crm_server: CrmServer) -> CrmServer:
    crm_server.reset()
    return crm_server


# Signing in and checking


@pytest.mark.parametrize("style", STYLES)
def test_each_sign_in_style_checks_and_reads_every_page(crm: CrmServer, style: str) -> None:
    with connector(crm, style) as api:
        assert api.check() == f"HTTP API {crm.base_url(style)} (200)"
        assert list(api.find(CONTACTS, {"email": [ALICE]})) == ALICE_ROWS
    offsets = [query["offset"] for _, query in calls(crm.state, "GET /contacts?")]
    assert offsets == [["0"], ["2"], ["4"]]


@pytest.mark.parametrize(
    ("style", "wrong"),
    [
        ("key", {"value": "wrong-key-1"}),
        ("qkey", {"value": "wrong-key-2"}),
        ("bearer", {"token": "wrong-token-3"}),
        ("basic", {"password": "wrong-password-4"}),
    ],
)
def test_refused_credentials_are_not_retried_and_never_repeated(
    crm: CrmServer, style: str, wrong: dict[str, str]
) -> None:
    config = connection(crm, style, auth={**AUTH[style], **wrong})
    with (
        HttpConnector("crm", config, [CONTACTS], environ={}) as api,
        pytest.raises(HttpApiError) as raised,
    ):
        list(api.find(CONTACTS, {"email": [ALICE]}))
    assert raised.value.retryable is False
    assert raised.value.status == 401
    message = without_secrets(raised.value)
    assert next(iter(wrong.values())) not in message
    assert message == "crm: contacts GET /contacts: refused the credentials (401 Unauthorized)"


def test_check_without_a_check_request_gets_the_base_url(crm: CrmServer) -> None:
    with connector(crm, "bearer", check=None) as api:
        assert api.check() == f"HTTP API {crm.base_url('bearer')} (200)"
    assert crm.state.calls == ["GET /"]


def test_secrets_come_from_the_environment_mapping_given(crm: CrmServer) -> None:
    auth = {"type": "bearer", "token_env": "CRM_TOKEN"}
    environ = {"CRM_TOKEN": BEARER_TOKEN}
    with connector(crm, "bearer", auth=auth, environ=environ) as api:
        assert api.check().endswith("(200)")
    with pytest.raises(ConnectorError) as raised:
        connector(crm, "bearer", auth=auth, environ={})
    assert raised.value.retryable is False
    assert str(raised.value) == (
        "crm: token_env names CRM_TOKEN, which is not set in the environment"
    )


def test_a_ca_file_that_cannot_be_read_is_a_configuration_error(
    crm: CrmServer, tmp_path: Path
) -> None:
    missing = tmp_path / "ca.pem"
    with pytest.raises(ConnectorError) as raised:
        connector(crm, ca_file=str(missing))
    assert raised.value.retryable is False
    assert str(raised.value).startswith(f"crm: ca_file {missing} cannot be used: ")


def test_one_connection_is_kept_alive_across_calls(crm: CrmServer) -> None:
    with connector(crm) as api:
        api.check()
        list(api.find(CONTACTS, {"email": [ALICE], "phone": ["+447700900003"]}))
        list(api.find(NOTES, {"contact_id": [1]}))
    assert len(crm.state.calls) == 7
    assert len(crm.state.clients) == 1


# OAuth2 client credentials


def test_a_token_is_fetched_once_and_shared(crm: CrmServer) -> None:
    with connector(crm, "oauth") as api:
        for _ in range(3):
            assert list(api.find(CONTACTS, {"id": [3]})) == [
                contact_row(3, BOB, "Bob", "Baker", "Buyer", True)
            ]
        with ThreadPoolExecutor(8) as pool:
            found = list(
                pool.map(lambda _: list(api.find(ORDERS, {"customer_email": [BOB]})), range(16))
            )
    assert found == [[{"id": 102, "customer_email": BOB, "total": 20}]] * 16
    assert crm.state.token_requests == [{"grant_type": "client_credentials", "scope": "contacts"}]
    assert crm.state.refused_tokens == 0


def test_concurrent_first_calls_fetch_one_token(crm: CrmServer) -> None:
    start = threading.Barrier(6)

    def first_call(api: HttpConnector) -> str:
        start.wait()
        return api.check()

    with connector(crm, "oauth") as api, ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: first_call(api), range(6)))
    assert results == [f"HTTP API {crm.base_url('oauth')} (200)"] * 6
    assert len(crm.state.token_requests) == 1


def test_a_token_is_renewed_before_it_expires(crm: CrmServer) -> None:
    crm.state.token_lifetime = 1.0
    with connector(crm, "oauth") as api:
        api.check()
        api.check()
        time.sleep(1.0)
        api.check()
    assert len(crm.state.token_requests) == 2
    assert crm.state.refused_tokens == 0


def test_a_revoked_token_is_replaced_once_on_401(crm: CrmServer) -> None:
    with connector(crm, "oauth") as api:
        api.check()
        crm.state.revoke_tokens()
        assert list(api.find(ORDERS, {"customer_email": [BOB]})) == [
            {"id": 102, "customer_email": BOB, "total": 20}
        ]
    assert len(crm.state.token_requests) == 2
    assert crm.state.refused_tokens == 1
    orders = "GET /orders?customer_email=bob%40example.com&limit=2"
    assert crm.state.calls == ["GET /me", orders, orders]


@pytest.mark.parametrize("client_auth", ["basic", "body"])
def test_client_credentials_go_as_basic_or_form_fields(crm: CrmServer, client_auth: str) -> None:
    auth = {**AUTH["oauth"], "token_url": f"{crm.url}/token", "client_auth": client_auth}
    auth["audience"] = "https://api.crm.example"
    with connector(crm, "oauth", auth=auth) as api:
        api.check()
    (form,) = crm.state.token_requests
    expected = {
        "grant_type": "client_credentials",
        "scope": "contacts",
        "audience": "https://api.crm.example",
    }
    if client_auth == "body":
        expected |= {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert form == expected


def test_wrong_client_secret_is_not_retried_and_never_repeated(crm: CrmServer) -> None:
    auth = {**AUTH["oauth"], "token_url": f"{crm.url}/token", "client_secret": "not-the-secret-9"}
    with connector(crm, "oauth", auth=auth) as api, pytest.raises(HttpApiError) as raised:
        api.check()
    assert raised.value.retryable is False
    message = without_secrets(raised.value)
    assert "not-the-secret-9" not in message
    assert message == "crm: the OAuth2 token endpoint refused the client credentials (401)"
    assert crm.state.calls == []


def test_a_token_endpoint_that_is_down_may_be_retried(crm: CrmServer) -> None:
    crm.state.token_endpoint_down = True
    with connector(crm, "oauth") as api, pytest.raises(HttpApiError) as raised:
        api.check()
    assert (raised.value.retryable, raised.value.retry_after) == (True, 30.0)
    assert str(raised.value) == (
        "crm: OAuth2 token endpoint: is unavailable for now (503 Service Unavailable)"
    )


# Reading


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


# Changing


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


# What the API answers


@pytest.mark.parametrize(
    ("kind", "retryable", "status", "message"),
    [
        ("rate-limited", True, 429, "is unavailable for now (429 Too Many Requests)"),
        ("broken", True, 500, "is unavailable for now (500 Internal Server Error)"),
        (
            "forbidden",
            False,
            403,
            "denied access: check what the credentials may do (403 Forbidden)",
        ),
        (
            "redirect",
            False,
            302,
            "redirects elsewhere; set base_url to the API's own address (302 Found)",
        ),
    ],
)
def test_statuses_say_whether_to_retry(
    crm: CrmServer, kind: str, retryable: bool, status: int, message: str
) -> None:
    with probe(crm, kind) as api, pytest.raises(HttpApiError) as raised:
        list(api.find(PROBE, {"email": [ALICE]}))
    assert (raised.value.retryable, raised.value.status) == (retryable, status)
    assert str(raised.value) == f"crm: probe GET /errors/{{kind}}: {message}"
    assert raised.value.retry_after == (7.0 if kind == "rate-limited" else None)


def test_retry_after_as_a_date_is_seconds_from_now(crm: CrmServer) -> None:
    with probe(crm, "rate-limited-until") as api, pytest.raises(HttpApiError) as raised:
        list(api.find(PROBE, {"email": [ALICE]}))
    assert raised.value.retryable is True
    assert raised.value.retry_after is not None
    assert 110 <= raised.value.retry_after <= 120


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("html", "the response is not JSON (text/html; charset=utf-8)"),
        ("string", "data_path data.items is a string, not records"),
        ("scalars", "data_path data.items[0] is a number, not a record"),
        ("missing", "the response has no data.items (data_path)"),
    ],
)
def test_a_body_not_as_described_is_not_retried(crm: CrmServer, kind: str, what: str) -> None:
    with probe(crm, kind) as api, pytest.raises(HttpApiError) as raised:
        list(api.find(PROBE, {"email": [ALICE]}))
    assert raised.value.retryable is False
    assert str(raised.value) == f"crm: probe GET /errors/{{kind}}: {what}"


def test_a_slow_api_times_out_and_may_be_retried(crm: CrmServer) -> None:
    config = connection(
        crm, params={"kind": "slow"}, timeout_seconds=0.2, check=None,
        collections={"probe": {"read": {"path": "/errors/{kind}", "query": {"email": "{email}"}}}},
    )  # fmt: skip
    with (
        HttpConnector("crm", config, [PROBE], environ={}) as api,
        pytest.raises(HttpApiError) as raised,
    ):
        list(api.find(PROBE, {"email": [ALICE]}))
    assert raised.value.retryable is True
    assert str(raised.value) == "crm: probe GET /errors/{kind}: no answer within 0.2 s"


def test_an_unreachable_api_may_be_retried(crm: CrmServer) -> None:
    config = connection(crm, "qkey", base_url="http://127.0.0.1:9/qkey")
    with (
        HttpConnector("crm", config, [CONTACTS], environ={}) as api,
        pytest.raises(HttpApiError) as raised,
    ):
        api.check()
    assert raised.value.retryable is True
    message = without_secrets(raised.value)
    assert message.startswith("crm: check GET /me: could not reach the API (ConnectError: ")


# The description


def test_the_description_may_live_in_its_own_file(crm: CrmServer, tmp_path: Path) -> None:
    (tmp_path / "crm-api.yaml").write_text(
        "check: {path: /me}\n"
        "collections:\n"
        "  tickets:\n"
        "    read:\n"
        "      path: /tickets\n"
        "      query: {requester: '{requester}'}\n"
        "      pagination: {strategy: link}\n",
        encoding="utf-8",
    )
    config = connection(crm, check=None, collections={}, spec_file="crm-api.yaml")
    with pytest.raises(ConnectorError) as raised:
        HttpConnector("crm", config, [TICKETS], environ={})
    assert str(raised.value) == (
        "crm: spec_file: crm-api.yaml is relative: anchor it to the policy's folder"
    )
    with HttpConnector("crm", config.anchored(tmp_path), [TICKETS], environ={}) as api:
        assert api.check().endswith("(200)")
        assert len(list(api.find(TICKETS, {"requester": [ALICE]}))) == 7


def test_a_wrong_description_file_is_located(crm: CrmServer, tmp_path: Path) -> None:
    path = tmp_path / "crm-api.yaml"
    path.write_text("collections:\n  tickets:\n    read: {path: tickets}\n", encoding="utf-8")
    config = connection(crm, check=None, collections={}, spec_file=str(path))
    with pytest.raises(ConnectorError) as raised:
        HttpConnector("crm", config, [TICKETS], environ={})
    assert raised.value.retryable is False
    assert str(raised.value) == (
        f"crm: spec_file: {path}: collections.tickets.read.0.path: Value error, 'tickets' must "
        "be a path under base_url starting with '/' (query parameters go in `query`)"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"contacts": {"read": {"path": "/c", "query": {"q": "{emial}"}}}},
            "collections.contacts.read[0]: {emial} is neither a field of crm_api.contacts "
            "nor a param",
        ),
        (
            {"contact": COLLECTIONS["contacts"], "contacts": None},
            "collections.contacts: the API description says nothing of crm_api.contacts, which "
            "the dataset places on this system (is 'contact' meant to be 'contacts'?)",
        ),
        (
            {"notes": {"read": {"path": "/notes"}}},
            "collections.notes.read[0]: GET /notes names no field of crm_api.notes to look up by",
        ),
        (
            {"tickets": {"read": {"path": "/t/{requester}", "batch_size": 5}}},
            "collections.tickets.read[0]: batch_size needs the one field looked up to be a whole "
            "query or body value, outside the path",
        ),
        (
            {"contacts": {**COLLECTIONS["contacts"], "fields": {"surname": "last_name"}}},
            "collections.contacts.fields: surname is not a field of crm_api.contacts",
        ),
    ],
)  # fmt: skip
def test_a_description_that_does_not_fit_the_dataset_is_refused(
    crm: CrmServer, change: dict[str, Any], message: str
) -> None:
    described = {k: v for k, v in {**COLLECTIONS, **change}.items() if v is not None}
    with pytest.raises(ConnectorError) as raised:
        connector(crm, collections=described)
    assert raised.value.retryable is False
    assert str(raised.value) == f"crm: {message}"


@pytest.mark.parametrize(
    ("change", "location", "message"),
    [
        ({"auth": {"type": "api_key", "header": "X-Key", "query_param": "k", "value": "s"}},
         ("auth", "api_key"), "give exactly one of header or query_param for the API key"),
        ({"base_url": "ftp://crm.example"}, ("base_url",), "is not an http(s) URL"),
        ({"spec_file": "crm.yaml"}, (), "describe the endpoints inline or in spec_file, not both"),
        ({"collections": {}, "check": None}, (), "describe the API's collections inline"),
        ({"timeout_seconds": 0}, ("timeout_seconds",), "greater than 0"),
        ({"collections": {"tickets": {"read": {"path": "/t", "pagniation": {}}}}},
         ("collections", "tickets", "read", 0, "pagniation"), "Extra inputs are not permitted"),
        ({"collections": {"tickets": {"read": {"path": "/t/{x", "query": {}}}}},
         ("collections", "tickets", "read", 0), "has an unpaired '{' (write {{)"),
        ({"auth": {"type": "oauth2_client_credentials", "token_url": "/token", "client_id": "c"}},
         ("auth", "oauth2_client_credentials", "token_url"), "is not an http(s) URL"),
    ],
)  # fmt: skip
def test_connection_errors_name_the_field(
    crm: CrmServer, change: dict[str, Any], location: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        connection(crm, **change)
    (error,) = raised.value.errors()
    assert error["loc"] == location
    assert message in error["msg"]
