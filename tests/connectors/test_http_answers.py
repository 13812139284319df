"""What the HTTP API connector makes of what a real local CRM API answers: statuses to retry
or not, Retry-After, bodies not as described, timeouts and an API out of reach."""

from __future__ import annotations

import pytest
from http_connecting import crm, crm_server
from http_crm_api import ALICE, CONTACTS, PROBE, connection, probe, without_secrets
from http_crm_server import CrmServer

from opendpo.connectors.http_api import HttpApiError, HttpConnector

__all__ = ["crm", "crm_server"]  # fixtures, used by name


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
