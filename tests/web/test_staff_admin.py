"""Staff accounts and API keys in the console: each action, its audit entry, and its secrets
shown once and never stored in the clear."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine, inspect
from staff_sessions import SignedIn, SignIn, as_staff

from opendpo.security import audit
from opendpo.security.audit import AuditEntry, AuditQuery
from opendpo.security.roles import Role
from opendpo.security.staff import StaffUser, authenticate, get_user
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.anyio

SECRET = re.compile(r'<code class="secret-value">([^<]+)</code>')


@dataclass
class Console:
    client: httpx.AsyncClient
    me: SignedIn
    engine: Engine
    settings: Settings


@pytest.fixture
async def console(
    anonymous_client: httpx.AsyncClient, engine: Engine, settings: Settings, sign_in: SignIn
) -> AsyncIterator[Console]:
    """The console as a signed-in DPO, whose account id the tests compare actors with."""
    me = sign_in(Role.DPO)
    as_staff(anonymous_client, settings, me)
    yield Console(anonymous_client, me, engine, settings)


def entries(engine: Engine, action: str) -> list[AuditEntry]:
    with make_session_factory(engine)() as session:
        return list(audit.search(session=session, query=AuditQuery(action=action)))


def user(engine: Engine, username: str) -> StaffUser:
    with make_session_factory(engine)() as session:
        return get_user(session=session, username=username)


def stored_text(engine: Engine) -> str:
    """Every row of every table as stored, ciphertexts and hashes included."""
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        rows = [
            repr(tuple(row))
            for table in tables
            for row in connection.exec_driver_sql(f'SELECT * FROM "{table}"')
        ]
    return "\n".join(rows)


async def add(console: Console, username: str, role: str = "agent") -> httpx.Response:
    return await console.client.post(
        "/console/staff", data={"username": username, "display_name": "Pat Doe", "role": role}
    )


async def test_the_staff_list_shows_each_account(console: Console) -> None:
    response = await console.client.get("/console/staff")
    assert response.status_code == 200
    assert console.me.username in response.text
    assert "never" in response.text  # last sign-in of an account that has not signed in
    assert "active" in response.text and "off" in response.text  # status, two-factor
    assert 'name="csrf_token"' in response.text


async def test_adding_shows_the_one_time_password_once(console: Console) -> None:
    response = await add(console, "pat")
    assert response.status_code == 201
    password = SECRET.search(response.text)
    assert password is not None
    one_time = password.group(1)
    assert "shown only this once" in response.text

    listing = await console.client.get("/console/staff")
    assert one_time not in listing.text and "secret-value" not in listing.text
    assert one_time not in stored_text(console.engine)

    added = user(console.engine, "pat")
    assert added.role == "agent" and added.must_change_password
    with make_session_factory(console.engine)() as session:
        assert authenticate(
            session=session,
            username="pat",
            password=one_time,
            max_failures=5,
            lockout=dt.timedelta(minutes=1),
        )

    [entry] = entries(console.engine, "staff.created")
    assert entry.actor_kind == "staff" and entry.actor_id == console.me.user_id
    assert entry.target_kind == "staff_user" and entry.target_id == added.id
    assert entry.details == {"role": "agent"}


@pytest.mark.parametrize(
    ("username", "role", "marker"),
    [
        ("Not A Name!", "agent", '<small id="staff-username-note" class="field-error">use 2-40'),
        ("pat", "overlord", '<small id="staff-role-error" class="field-error">choose one of'),
    ],
)
async def test_a_malformed_member_is_refused_next_to_its_field(
    console: Console, username: str, role: str, marker: str
) -> None:
    response = await add(console, username, role)
    assert response.status_code == 422
    assert marker in response.text
    assert 'aria-invalid="true"' in response.text
    assert f'value="{username}"' in response.text or role == "overlord"  # what was typed stays
    assert entries(console.engine, "staff.") == []


async def test_a_taken_name_is_refused(console: Console) -> None:
    assert (await add(console, "pat")).status_code == 201
    response = await add(console, "pat")
    assert response.status_code == 409
    assert "already exists" in response.text


async def test_disabling_ends_their_sessions_and_enabling_lets_them_back(
    console: Console, sign_in: SignIn, settings: Settings
) -> None:
    them = sign_in(Role.AGENT)
    response = await console.client.post(f"/console/staff/{them.user_id}/disable")
    assert response.status_code == 303 and response.headers["location"] == "/console/staff"
    assert not user(console.engine, them.username).active
    [entry] = entries(console.engine, "staff.disabled")
    assert entry.actor_id == console.me.user_id and entry.target_id == them.user_id
    assert entry.details == {"sessions_ended": 1}
    assert "disabled" in (await console.client.get("/console/staff")).text

    # Their old cookie is worth nothing now.
    transport = console.client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as theirs:
        as_staff(theirs, settings, them)
        response = await theirs.get("/console/")
        assert response.status_code == 303 and "/console/login" in response.headers["location"]

    response = await console.client.post(f"/console/staff/{them.user_id}/enable")
    assert response.status_code == 303
    assert user(console.engine, them.username).active
    [entry] = entries(console.engine, "staff.enabled")
    assert entry.target_id == them.user_id


async def test_no_one_disables_or_demotes_themselves(console: Console) -> None:
    me = console.me.user_id
    assert (await console.client.post(f"/console/staff/{me}/disable")).status_code == 409
    response = await console.client.post(f"/console/staff/{me}/role", data={"role": "auditor"})
    assert response.status_code == 409
    assert user(console.engine, console.me.username).role == "dpo"


async def test_changing_a_role(console: Console, sign_in: SignIn) -> None:
    them = sign_in(Role.AGENT)
    path = f"/console/staff/{them.user_id}/role"
    response = await console.client.post(path, data={"role": "auditor"})
    assert response.status_code == 303
    assert user(console.engine, them.username).role == "auditor"
    [entry] = entries(console.engine, "staff.role_changed")
    assert entry.details == {"from": "agent", "to": "auditor"}

    response = await console.client.post(path, data={"role": "overlord"})
    assert response.status_code == 422
    assert f'id="role-{them.user_id}-error"' in response.text
    assert (await console.client.post("/console/staff/no-such-id/role")).status_code == 404


async def test_resetting_a_password_shows_it_once_and_ends_their_sessions(
    console: Console, sign_in: SignIn
) -> None:
    them = sign_in(Role.AGENT)
    response = await console.client.post(f"/console/staff/{them.user_id}/password")
    assert response.status_code == 200
    found = SECRET.search(response.text)
    assert found is not None
    assert found.group(1) not in (await console.client.get("/console/staff")).text
    assert found.group(1) not in stored_text(console.engine)
    assert user(console.engine, them.username).must_change_password
    [entry] = entries(console.engine, "staff.password_reset")
    assert entry.target_id == them.user_id and entry.details == {"sessions_ended": 1}


async def test_a_form_without_its_csrf_token_is_refused(console: Console) -> None:
    del console.client.headers["x-csrf-token"]
    response = await add(console, "pat")
    assert response.status_code == 403
    assert entries(console.engine, "staff.") == []


async def create_key(console: Console, name: str, *scopes: str) -> httpx.Response:
    return await console.client.post("/console/api-keys", data={"name": name, "scopes": scopes})


async def test_a_key_token_is_shown_once_and_stored_only_as_a_hash(console: Console) -> None:
    response = await create_key(console, "CRM sync", "policy:read", "people:read")
    assert response.status_code == 201
    assert "cannot be shown again" in response.text
    found = SECRET.search(response.text)
    assert found is not None
    token = found.group(1)
    _, key_id, secret = token.split("_", 2)

    listing = await console.client.get("/console/api-keys")
    assert key_id in listing.text and "CRM sync" in listing.text
    assert secret not in listing.text and "secret-value" not in listing.text
    stored = stored_text(console.engine)
    assert token not in stored and secret not in stored

    [entry] = entries(console.engine, "api_key.created")
    assert entry.actor_id == console.me.user_id and entry.target_id == key_id
    assert entry.details == {"scopes": ["policy:read", "people:read"]}

    transport = console.client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as system:
        bearer = {"authorization": f"Bearer {token}"}
        assert (await system.get("/api/v1/policy", headers=bearer)).status_code == 200
        revoked = await console.client.post(f"/console/api-keys/{key_id}/revoke")
        assert revoked.status_code == 303
        assert (await system.get("/api/v1/policy", headers=bearer)).status_code == 401
    [entry] = entries(console.engine, "api_key.revoked")
    assert entry.target_id == key_id
    assert "revoked" in (await console.client.get("/console/api-keys")).text


@pytest.mark.parametrize(
    ("name", "scopes", "field"),
    [("", ("policy:read",), "name"), ("CRM", (), "scopes"), ("CRM", ("staff:manage",), "scopes")],
)
async def test_a_malformed_key_is_refused_next_to_its_field(
    console: Console, name: str, scopes: tuple[str, ...], field: str
) -> None:
    response = await create_key(console, name, *scopes)
    assert response.status_code == 422
    assert f'id="key-{field}' in response.text and 'class="field-error"' in response.text
    assert entries(console.engine, "api_key.") == []


async def test_a_key_carries_no_more_than_its_maker_holds(
    anonymous_client: httpx.AsyncClient, settings: Settings, sign_in: SignIn, engine: Engine
) -> None:
    as_staff(anonymous_client, settings, sign_in(Role.ENGINEER))
    form = await anonymous_client.get("/console/api-keys")
    assert 'value="systems:write"' in form.text and 'value="people:read"' not in form.text
    response = await anonymous_client.post(
        "/console/api-keys", data={"name": "sneaky", "scopes": ["people:read"]}
    )
    assert response.status_code == 422
    assert "does not hold" in response.text
    assert entries(engine, "api_key.") == []
