"""People in the console and over the API: found by blind index, shown decrypted to those
who work with personal data, and every lookup, view and change written to the audit log
without the values themselves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine
from staff_sessions import SignedIn, SignIn, as_staff

from opendpo.security import audit
from opendpo.security.api_keys import create_key
from opendpo.security.audit import AuditEntry, AuditQuery
from opendpo.security.keyring import Keyring
from opendpo.security.roles import Role
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.subjects.people import find_or_create_person, get_person

pytestmark = pytest.mark.anyio

EMAIL = "jane.doe@example.com"
PHONE = "+447700900123"
NAME = "Jane Doe"


@dataclass
class World:
    client: httpx.AsyncClient
    engine: Engine
    settings: Settings
    keyring: Keyring
    sign_in: SignIn
    person_id: str

    def as_role(self, role: Role) -> SignedIn:
        for name in ("authorization", "x-csrf-token"):
            self.client.headers.pop(name, None)
        self.client.cookies.clear()
        signed_in = self.sign_in(role)
        as_staff(self.client, self.settings, signed_in)
        return signed_in

    def as_key(self, *scopes: str) -> str:
        self.client.cookies.clear()
        self.client.headers.pop("x-csrf-token", None)
        with make_session_factory(self.engine)() as session, session.begin():
            key, token = create_key(
                session=session, name="system", scopes=list(scopes), created_by="tests"
            )
        self.client.headers["authorization"] = f"Bearer {token}"
        return key.id

    def entries(self, action: str) -> list[AuditEntry]:
        with make_session_factory(self.engine)() as session:
            return list(audit.search(session=session, query=AuditQuery(action=action)))


@pytest.fixture
async def world(
    anonymous_client: httpx.AsyncClient,
    engine: Engine,
    settings: Settings,
    keyring: Keyring,
    sign_in: SignIn,
) -> AsyncIterator[World]:
    with make_session_factory(engine)() as session, session.begin():
        person = find_or_create_person(
            session=session,
            keyring=keyring,
            identities=[("email", EMAIL), ("phone", PHONE)],
            name=NAME,
        )
    yield World(anonymous_client, engine, settings, keyring, sign_in, person.id)


def assert_no_values_in_the_log(world: World) -> None:
    logged = json.dumps([entry.fields() for entry in world.entries("")])
    for value in (EMAIL, "Jane.Doe", "7700900123", NAME):
        assert value.lower() not in logged.lower()


@pytest.mark.parametrize("role", [Role.DPO, Role.AGENT])
async def test_a_lookup_finds_the_person_and_is_audited(world: World, role: Role) -> None:
    me = world.as_role(role)
    response = await world.client.post(
        "/console/people", data={"kind": "email", "value": "  Jane.Doe@EXAMPLE.com "}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/people/{world.person_id}"
    [entry] = world.entries("person.looked_up")
    assert entry.actor_id == me.user_id and entry.target_id == world.person_id
    assert entry.details == {"kind": "email", "found": True}

    page = await world.client.get(response.headers["location"])
    assert page.status_code == 200
    assert NAME in page.text and EMAIL in page.text and PHONE in page.text
    [viewed] = world.entries("person.viewed")
    assert viewed.actor_kind == "staff" and viewed.actor_id == me.user_id
    assert viewed.target_kind == "person" and viewed.target_id == world.person_id
    assert_no_values_in_the_log(world)


async def test_a_lookup_that_finds_no_one_is_audited_too(world: World) -> None:
    world.as_role(Role.AGENT)
    response = await world.client.post(
        "/console/people", data={"kind": "phone", "value": "07700 900999"}
    )
    assert response.status_code == 200
    assert "No one is known by this phone" in response.text
    [entry] = world.entries("person.looked_up")
    assert entry.target_id is None and entry.details == {"kind": "phone", "found": False}


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [("email", "not an address", "value"), ("email", "   ", "value"), ("passport", "X1", "kind")],
)
async def test_a_malformed_lookup_is_named_next_to_its_field(
    world: World, kind: str, value: str, field: str
) -> None:
    world.as_role(Role.DPO)
    response = await world.client.post("/console/people", data={"kind": kind, "value": value})
    assert response.status_code == 422
    assert f'<small id="lookup-{field}-error" class="field-error">' in response.text
    assert world.entries("person.") == []


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ENGINEER])
async def test_auditors_and_engineers_see_no_one(world: World, role: Role) -> None:
    world.as_role(role)
    for response in (
        await world.client.get(f"/console/people/{world.person_id}"),
        await world.client.get(f"/api/v1/people/{world.person_id}"),
        await world.client.post("/console/people", data={"kind": "email", "value": EMAIL}),
    ):
        assert response.status_code == 403
        assert EMAIL not in response.text and NAME not in response.text
    assert world.entries("person.") == []


async def test_an_unknown_person_is_404(world: World) -> None:
    world.as_role(Role.DPO)
    assert (await world.client.get("/console/people/no-such-person")).status_code == 404
    assert (await world.client.get("/api/v1/people/no-such-person")).status_code == 404
    assert world.entries("person.") == []


async def test_the_api_shows_a_person_and_audits_the_key(world: World) -> None:
    key_id = world.as_key("people:read")
    response = await world.client.get(f"/api/v1/people/{world.person_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == NAME
    assert {(i["kind"], i["value"]) for i in body["identities"]} == {
        ("email", EMAIL),
        ("phone", PHONE),
    }
    [entry] = world.entries("person.viewed")
    assert entry.actor_kind == "api_key" and entry.actor_id == key_id
    assert entry.target_id == world.person_id


async def test_the_api_records_people_without_telling_what_it_holds(world: World) -> None:
    key_id = world.as_key("people:write")
    new = {"name": "Sam Roe", "identities": [{"kind": "email", "value": "Sam@Example.com"}]}
    response = await world.client.post("/api/v1/people", json=new)
    assert response.status_code == 201
    created = response.json()
    assert created["created"] is True and set(created) == {"id", "created"}
    [entry] = world.entries("person.created")
    assert entry.actor_id == key_id and entry.target_id == created["id"]
    assert entry.details == {"identity_kinds": ["email"]}
    with make_session_factory(world.engine)() as session:
        person = get_person(session=session, person_id=created["id"])
        assert person.name == "Sam Roe"
        assert [i.value for i in person.identities] == ["sam@example.com"]

    # Jane's email with a new identity: added to Jane, and nothing of Jane's comes back.
    known = {
        "identities": [{"kind": "email", "value": EMAIL}, {"kind": "customer_id", "value": "C-7"}]
    }
    response = await world.client.post("/api/v1/people", json=known)
    assert response.status_code == 200
    assert response.json() == {"id": world.person_id, "created": False}
    assert NAME not in response.text and PHONE not in response.text
    [entry] = world.entries("person.identities_added")
    assert entry.details == {"identity_kinds": ["customer_id", "email"]}
    assert_no_values_in_the_log(world)
    assert (await world.client.get(f"/api/v1/people/{world.person_id}")).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"identities": [{"kind": "email", "value": "nope"}]}, "identities.0.value"),
        (
            {
                "identities": [
                    {"kind": "email", "value": "a@example.com"},
                    {"kind": "phone", "value": "12"},
                ]
            },
            "identities.1.value",
        ),
        ({"identities": [{"kind": "passport", "value": "X1"}]}, "identities.0.kind"),
        ({"identities": []}, "identities"),
        ({"name": "No identities"}, "identities"),
    ],
)
async def test_a_malformed_person_is_refused_naming_the_field(
    world: World, body: dict[str, object], field: str
) -> None:
    world.as_key("people:write")
    response = await world.client.post("/api/v1/people", json=body)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["error"]["errors"]]
    assert world.entries("person.") == []
