"""The HTTP API connector's description of the API: inline or in its own file, checked
against the dataset, and errors that name the field at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from http_connecting import crm, crm_server
from http_crm_api import ALICE, COLLECTIONS, TICKETS, connection, connector
from http_crm_server import CrmServer
from pydantic import ValidationError

from opendpo.connectors.base import ConnectorError
from opendpo.connectors.http_api import HttpConnector

__all__ = ["crm", "crm_server"]  # fixtures, used by name


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
