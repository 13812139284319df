"""The HTTP API connector signing in to a real local CRM API (tests/support/http_crm_server.py)
in each style, OAuth2 client credentials among them, and checking the connection."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from http_connecting import crm, crm_server
from http_crm_api import (
    ALICE,
    ALICE_ROWS,
    AUTH,
    BOB,
    CONTACTS,
    NOTES,
    ORDERS,
    calls,
    connection,
    connector,
    contact_row,
    without_secrets,
)
from http_crm_server import BEARER_TOKEN, CLIENT_ID, CLIENT_SECRET, STYLES, CrmServer

from opendpo.connectors.base import ConnectorError
from opendpo.connectors.http_api import HttpApiError, HttpConnector

__all__ = ["crm", "crm_server"]  # fixtures, used by name


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
