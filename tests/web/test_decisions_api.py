"""POST /api/v1/decisions and /api/v1/decisions/bulk: answers, 422s naming the field, and
campaign lists streamed in and out (CSV and JSON lines), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Engine, func, select

from opendpo.consent.ledger import CollectionMethod, ConsentRecord, ConsentState, Proof
from opendpo.consent.service import record_consent
from opendpo.consent.suppression import SuppressionReason, suppress
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.audit import AuditEntry
from opendpo.security.keyring import Keyring
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.anyio

DECISIONS = "/api/v1/decisions"
BULK = "/api/v1/decisions/bulk"
MARKETING = "marketing_email"
GIVEN = "given@example.com"
SUPPRESSED = "suppressed@example.com"
UNKNOWN = "stranger@example.com"


@pytest.fixture
def people(engine: Engine, keyring: Keyring, applied: PolicyDocument) -> None:
    """One person who consented to marketing email; one who consented and was suppressed."""
    with make_session_factory(engine)() as session, session.begin():
        for email in (GIVEN, SUPPRESSED):
            record_consent(
                session=session,
                keyring=keyring,
                policy=applied,
                policy_version=1,
                identities=[("email", email)],
                purpose=MARKETING,
                channel="email",
                state=ConsentState.GIVEN,
                proof=Proof(method=CollectionMethod.WEB_FORM, source="tests"),
            )
        suppress(
            session=session,
            keyring=keyring,
            kind="email",
            value=SUPPRESSED,
            channel="email",
            reason=SuppressionReason.UNSUBSCRIBED,
        )


def ask(
    email: str, purpose: str = MARKETING, channel: str = "email", **more: object
) -> dict[str, object]:
    return {
        "identity": {"kind": "email", "value": email},
        "purpose": purpose,
        "channel": channel,
        **more,
    }


async def test_a_consenting_person_may_be_emailed(client: httpx.AsyncClient, people: None) -> None:
    response = await client.post(DECISIONS, json=ask(GIVEN))
    assert response.status_code == 200
    body = response.json()
    assert body["allowed"] is True
    assert body["reasons"] == []
    assert (body["purpose"], body["channel"], body["lawful_basis"]) == (
        MARKETING,
        "email",
        "consent",
    )
    assert body["decided_at"].endswith("Z") or "+00:00" in body["decided_at"]


async def test_denials_come_with_every_reason_and_its_message(
    client: httpx.AsyncClient, people: None
) -> None:
    response = await client.post(DECISIONS, json=ask(SUPPRESSED))
    assert response.json()["allowed"] is False
    assert [r["code"] for r in response.json()["reasons"]] == ["suppressed"]
    assert "suppression list" in response.json()["reasons"][0]["message"]
    response = await client.post(DECISIONS, json=ask(GIVEN, recipient="courier"))
    assert [r["code"] for r in response.json()["reasons"]] == ["recipient_not_allowed"]
    response = await client.post(DECISIONS, json=ask(UNKNOWN))
    assert [r["code"] for r in response.json()["reasons"]] == ["no_consent"]


async def test_the_answer_never_says_who_is_known(client: httpx.AsyncClient, people: None) -> None:
    known = await client.post(DECISIONS, json=ask(GIVEN, purpose="client_contracts"))
    unknown = await client.post(DECISIONS, json=ask(UNKNOWN, purpose="client_contracts"))
    for response in (known, unknown):
        body = response.json()
        assert set(body) == {
            "allowed",
            "reasons",
            "purpose",
            "channel",
            "lawful_basis",
            "decided_at",
        }
        assert body["allowed"] is True
    assert GIVEN not in known.text


async def test_sec_gpc_is_honoured_for_sharing_beyond_processors(
    client: httpx.AsyncClient, people: None
) -> None:
    body = ask(GIVEN, purpose="client_contracts", recipient="courier")
    plain = await client.post(DECISIONS, json=body)
    assert plain.json()["allowed"] is True
    signalled = await client.post(DECISIONS, json=body, headers={"Sec-GPC": "1"})
    assert [r["code"] for r in signalled.json()["reasons"]] == ["global_privacy_control"]


async def test_decisions_write_nothing(
    client: httpx.AsyncClient, people: None, engine: Engine
) -> None:
    def counts() -> tuple[int | None, int | None]:
        with make_session_factory(engine)() as session:
            return (
                session.scalar(select(func.count()).select_from(AuditEntry)),
                session.scalar(select(func.count()).select_from(ConsentRecord)),
            )

    before = counts()
    for email in (GIVEN, UNKNOWN, SUPPRESSED):
        assert (await client.post(DECISIONS, json=ask(email))).status_code == 200
    assert counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (ask(GIVEN, purpose="no_such_purpose"), "purpose"),
        (ask(GIVEN, channel="fax"), "channel"),
        (ask(GIVEN, recipient="nobody"), "recipient"),
        ({**ask(GIVEN), "identity": {"kind": "passport", "value": "x"}}, "identity.kind"),
        (ask("not an address"), "identity.value"),
        ({**ask(GIVEN), "identity": {"kind": "phone", "value": "12"}}, "identity.value"),
        ({"purpose": MARKETING, "channel": "email"}, "identity"),
        ({**ask(GIVEN), "identity": {"kind": "email"}}, "identity.value"),
        ({**ask(GIVEN), "extra": 1}, "extra"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.post(DECISIONS, json=body)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["error"]["errors"]]


async def test_an_api_key_needs_the_decisions_scope(
    anonymous_client: httpx.AsyncClient,
) -> None:
    response = await anonymous_client.post(DECISIONS, json=ask(GIVEN))
    assert response.status_code == 401


async def chunked(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    # Small pieces, so that lines arrive split across chunks as they do over a network.
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def bulk(
    client: httpx.AsyncClient, body: bytes, content_type: str, **params: str
) -> httpx.Response:
    return await client.post(
        BULK,
        params={"purpose": MARKETING, "channel": "email", **params},
        content=chunked(body),
        headers={"content-type": content_type},
    )


async def test_bulk_csv_in_and_out_in_order(client: httpx.AsyncClient, people: None) -> None:
    body = (
        "\ufeffname,email\n"
        f"Given,{GIVEN}\n"
        f"Suppressed,{SUPPRESSED}\r\n"
        "Broken,not an address\n"
        "\n"
        "Short\n"
        f'"Quoted, Name",{UNKNOWN}\n'
    ).encode()
    response = await bulk(client, body, "text/csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["name", "email", "allowed", "reasons", "error"]
    assert rows[1] == ["Given", GIVEN, "true", "", ""]
    assert rows[2] == ["Suppressed", SUPPRESSED, "false", "suppressed", ""]
    assert rows[3][:3] == ["Broken", "not an address", "false"]
    assert rows[3][4].startswith("line 4: identity.value")
    assert rows[4][0] == "Short" and rows[4][4] == "line 6: 1 columns where the header has 2"
    assert rows[5] == ["Quoted, Name", UNKNOWN, "false", "no_consent", ""]
    assert len(rows) == 6


async def test_bulk_csv_with_kind_and_value_columns(
    client: httpx.AsyncClient, people: None
) -> None:
    body = f"kind,value\nemail,{GIVEN}\nfax,01234\n".encode()
    response = await bulk(client, body, "text/csv; charset=utf-8")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[1] == ["email", GIVEN, "true", "", ""]
    assert rows[2][2] == "false" and rows[2][4].startswith("line 3: identity.kind")


async def test_bulk_json_lines(client: httpx.AsyncClient, people: None) -> None:
    lines = [
        json.dumps({"email": GIVEN}),
        json.dumps({"kind": "email", "value": SUPPRESSED}),
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"name": "no identity"}),
        json.dumps({"email": UNKNOWN}),
    ]
    response = await bulk(client, ("\n".join(lines)).encode(), "application/x-ndjson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    results = [json.loads(line) for line in response.text.splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5, 6]
    assert [r["allowed"] for r in results] == [True, False, False, False, False, False]
    assert results[1]["reasons"] == ["suppressed"]
    assert results[2]["error"] == "line 3: not a JSON object"
    assert results[3]["error"] == "line 4: not a JSON object"
    assert results[4]["error"].startswith("line 5: no `email`")
    assert results[5] == {
        "line": 6,
        "kind": "email",
        "value": UNKNOWN,
        "allowed": False,
        "reasons": ["no_consent"],
        "error": None,
    }


async def test_bulk_streams_a_long_list_in_batches(client: httpx.AsyncClient, people: None) -> None:
    count = 2500  # more than two batches
    body = "email\n" + "".join(f"p{n}@example.com\n" for n in range(count)) + f"{GIVEN}\n"
    response = await bulk(client, body.encode(), "text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))[1:]
    assert len(rows) == count + 1
    assert [row[0] for row in rows[:3]] == ["p0@example.com", "p1@example.com", "p2@example.com"]
    assert rows[-1] == [GIVEN, "true", "", ""]
    assert {row[2] for row in rows[:-1]} == {"no_consent"}


async def test_a_line_too_long_is_an_error_and_the_list_goes_on(
    client: httpx.AsyncClient, people: None
) -> None:
    body = f'{{"email": "{"x" * 70_000}@example.com"}}\n{{"email": "{GIVEN}"}}\n'.encode()
    response = await bulk(client, body, "application/x-ndjson")
    results = [json.loads(line) for line in response.text.splitlines()]
    assert results[0]["error"] == "line 1: too long or not UTF-8"
    assert results[1]["line"] == 2 and results[1]["allowed"] is True


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"purpose": "no_such_purpose"}, "purpose"),
        ({"channel": "fax"}, "channel"),
        ({"recipient": "x"}, "recipient"),
    ],
)
async def test_bulk_refuses_an_unknown_use_before_streaming(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await bulk(client, b"email\na@example.com\n", "text/csv", **params)
    assert response.status_code == 422
    assert response.json()["error"]["errors"][0]["field"] == field


async def test_bulk_refuses_a_list_it_cannot_read(client: httpx.AsyncClient) -> None:
    response = await bulk(client, b"name,phone\nx,y\n", "text/csv")
    assert response.status_code == 422
    assert response.json()["error"]["errors"][0]["field"] == "body"
    response = await bulk(client, b'{"email": "a@example.com"}', "application/json")
    assert response.status_code == 415
    response = await client.post(BULK, params={"purpose": MARKETING}, content=b"email\n")
    assert response.status_code == 422
    assert response.json()["error"]["errors"][0]["field"] == "channel"
