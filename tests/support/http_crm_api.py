"""The CRM API as the HTTP connector's tests see it: its dataset, its description, and ways to
open a connector on the local server (http_crm_server.py) with each sign-in style."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from fideslang.models import Dataset
from http_crm_server import (
    API_KEY,
    BASIC_PASSWORD,
    BASIC_USER,
    BEARER_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    SECRETS,
    CrmServer,
    CrmState,
)

from opendpo.connectors.base import Change, ChangeAction, CollectionSpec, dataset_specs
from opendpo.connectors.http_api import HttpConnection, HttpConnector

ALICE = "alice@example.com"
BOB = "bob@example.com"

DATASET = Dataset.model_validate(
    {
        "fides_key": "crm_api",
        "name": "CRM API",
        "collections": [
            {
                "name": "contacts",
                "fields": [
                    {"name": "id", "fides_meta": {"primary_key": True, "data_type": "integer"}},
                    {"name": "email", "data_categories": ["user.contact.email"],
                     "fides_meta": {"identity": "email"}},
                    {"name": "phone", "data_categories": ["user.contact.phone_number"],
                     "fides_meta": {"identity": "phone_number"}},
                    {"name": "name", "fields": [
                        {"name": "first", "data_categories": ["user.name.first"]},
                        {"name": "last", "data_categories": ["user.name.last"]},
                    ]},
                    {"name": "job_title", "data_categories": ["user.job_title"]},
                    {"name": "marketing_opt_in", "data_categories": ["user.privacy_preferences"]},
                    {"name": "restricted", "data_categories": ["system.operations"]},
                ],
            },
            {
                "name": "notes",
                "fields": [
                    {"name": "id", "fides_meta": {"primary_key": True}},
                    {"name": "contact_id", "fides_meta": {"references": [
                        {"dataset": "crm_api", "field": "contacts.id", "direction": "from"}
                    ]}},
                    {"name": "text", "data_categories": ["user.content.private"]},
                ],
            },
            {
                "name": "orders",
                "fields": [
                    {"name": "id", "fides_meta": {"primary_key": True}},
                    {"name": "customer_email", "fides_meta": {"identity": "email"}},
                    {"name": "total"},
                ],
            },
            {
                "name": "tickets",
                "fields": [
                    {"name": "id", "fides_meta": {"primary_key": True}},
                    {"name": "requester", "fides_meta": {"identity": "email"}},
                    {"name": "subject"},
                ],
            },
        ],
    }
)  # fmt: skip
SPECS = {spec.name: spec for spec in dataset_specs(DATASET)}
CONTACTS, NOTES, ORDERS, TICKETS = (SPECS[n] for n in ("contacts", "notes", "orders", "tickets"))
PROBE = dataset_specs(
    Dataset.model_validate(
        {
            "fides_key": "probe_api",
            "name": "Probe",
            "collections": [{"name": "probe", "fields": [{"name": "email"}]}],
        }
    )
)[0]

COLLECTIONS: dict[str, Any] = {
    "contacts": {
        "fields": {
            "name.first": "first_name",
            "name.last": "last_name",
            "marketing_opt_in": "preferences.marketing",
        },
        "read": [
            {
                "path": "/contacts",
                "query": {"email": "{email}"},
                "data_path": "data",
                "pagination": {"strategy": "offset", "limit": 2},
            },
            {"path": "/contacts", "query": {"phone": "{phone}"}, "data_path": "data"},
            {"path": "/contacts/{id}"},
        ],
        "update": {"method": "PATCH", "path": "/contacts/{id}"},
        "delete": {"path": "/contacts/{id}"},
        "restrict": {"path": "/contacts/{id}/restriction", "flag": "restricted"},
        "unrestrict": {"method": "DELETE", "path": "/contacts/{id}/restriction"},
    },
    "notes": {
        "read": [
            {
                "path": "/contacts/{contact_id}/notes",
                "data_path": "notes",
                "pagination": {"strategy": "page", "size": 2, "size_param": "per_page"},
            },
            {"path": "/notes/{id}"},
        ],
        "update": {
            "method": "PUT",
            "path": "/notes/{id}",
            "body": {"text": "{text}", "contact_id": "{contact_id}"},
        },
        "delete": {"path": "/notes/{id}"},
    },
    "orders": {
        "read": {
            "path": "/orders",
            "query": {"customer_email": "{customer_email}", "limit": 2},
            "batch_size": 10,
            "data_path": "items",
            "pagination": {
                "strategy": "cursor",
                "cursor_path": "meta.next",
                "cursor_param": "after",
            },
        },
        "update": {"path": "/orders/{id}"},
    },
    "tickets": {
        "read": {
            "path": "/tickets",
            "query": {"requester": "{requester}"},
            "pagination": {"strategy": "link"},
        },
    },
}

AUTH: dict[str, dict[str, Any]] = {
    "key": {"type": "api_key", "header": "X-API-Key", "value": API_KEY},
    "qkey": {"type": "api_key", "query_param": "api_key", "value": API_KEY},
    "bearer": {"type": "bearer", "token": BEARER_TOKEN},
    "basic": {"type": "basic", "username": BASIC_USER, "password": BASIC_PASSWORD},
    "oauth": {
        "type": "oauth2_client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": "contacts",
    },
}


def contact_row(id: int, email: str, first: str, last: str, job: str, marketing: bool) -> Any:
    return {
        "id": id,
        "email": email,
        "phone": f"+4477009000{id:02d}",
        "name": {"first": first, "last": last},
        "job_title": job,
        "marketing_opt_in": marketing,
        "restricted": False,
    }


ALICE_ROWS = [
    contact_row(1, ALICE, "Alice", "Archer", "Head of IT", True),
    contact_row(2, ALICE, "Alice", "Archer", "IT Manager", False),
    contact_row(6, ALICE, "Al", "Archer", "Consultant", False),
]


def connection(crm: CrmServer, style: str = "key", **overrides: Any) -> HttpConnection:
    auth = dict(AUTH[style])
    if style == "oauth":
        auth["token_url"] = f"{crm.url}/token"
    config: dict[str, Any] = {
        "type": "http",
        "base_url": crm.base_url(style),
        "auth": auth,
        "check": {"path": "/me"},
        "collections": COLLECTIONS,
    }
    config.update(overrides)
    return HttpConnection.model_validate(config)


def connector(
    crm: CrmServer,
    style: str = "key",
    specs: tuple[CollectionSpec, ...] = tuple(SPECS.values()),
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> HttpConnector:
    config = connection(crm, style, **overrides)
    return HttpConnector("crm", config, specs, environ=environ or {})


def probe(crm: CrmServer, kind: str, **read: Any) -> HttpConnector:
    """A connector whose one collection reads /errors/{kind} (data at data.items)."""
    request = {"path": "/errors/{kind}", "query": {"email": "{email}"}, "data_path": "data.items"}
    return HttpConnector(
        "crm",
        connection(
            crm,
            params={"kind": kind},
            check=None,
            collections={"probe": {"read": {**request, **read}}},
        ),
        [PROBE],
        environ={},
    )


def without_secrets(error: BaseException) -> str:
    message = str(error)
    for secret in SECRETS:
        assert secret not in message
    return message


def calls(state: CrmState, prefix: str) -> list[tuple[str, dict[str, list[str]]]]:
    """(path, query) of each API call whose "METHOD /path" starts with `prefix`."""
    found = []
    for call in state.calls:
        if call.startswith(prefix):
            split = urlsplit(call.split(" ", 1)[1])
            found.append((split.path, parse_qs(split.query)))
    return found


def update(spec: CollectionSpec, key: dict[str, Any], **values: Any) -> Change:
    return Change(
        spec, key, ChangeAction.UPDATE, {k.replace("__", "."): v for k, v in values.items()}
    )


def delete(spec: CollectionSpec, key: dict[str, Any]) -> Change:
    return Change(spec, key, ChangeAction.DELETE)
