"""Every route, against every kind of caller: the roles table is what the server does.

The test finds each route's Permit in its dependencies, and asks the route as nobody, as each
role and as API keys with and without the route's scope. A new route needs no change here
unless it has path parameters: then it must be given sample values in PATH_PARAMETERS.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy import Engine

from opendpo.policy.model.document import PolicyDocument
from opendpo.security.api_keys import create_key
from opendpo.security.keyring import Keyring
from opendpo.security.roles import API_KEY_SCOPES, ROLE_PERMISSIONS, Permission, Role
from opendpo.security.sessions import start_session
from opendpo.security.staff import StaffUser, add_user
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.subjects.people import find_or_create_person
from opendpo.web.auth import Permit, permit, session_cookie_name
from opendpo.web.docs import OPENAPI_URL

pytestmark = pytest.mark.anyio

# Placeholders for records the fixture makes; anything else is used as it stands.
PERSON, STAFF_MEMBER, API_KEY = "<person>", "<staff member>", "<api key>"

PATH_PARAMETERS: dict[str, dict[str, str]] = {
    "/api/v1/purposes/{key}": {"key": "client_contracts"},
    "/privacy/downloads/{token}": {"token": "not-a-signed-token"},
    "/api/v1/recipients/{key}": {"key": "courier"},
    "/api/v1/systems/{key}": {"key": "crm"},
    "/api/v1/policy/versions/{number}": {"number": "1"},
    "/api/v1/people/{person_id}": {"person_id": PERSON},
    "/api/v1/people/{person_id}/consent": {"person_id": PERSON},
    "/api/v1/consent/{record_id}/receipt": {"record_id": "no-such-record"},
    "/api/v1/consent/{record_id}/receipt/send": {"record_id": "no-such-record"},
    "/api/v1/requests/{request_id}": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/events": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/verify-identity": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/begin": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/await": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/extend": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/pause": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/resume": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/refuse": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/complete": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/cancel": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/assign": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/actions/note": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/run": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/dry-run": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/steps": {"request_id": "no-such-request"},
    "/api/v1/requests/{request_id}/steps/{seq}/answer": {
        "request_id": "no-such-request",
        "seq": "1",
    },
    "/console/ropa.{fmt}": {"fmt": "csv"},
    "/console/people/{person_id}": {"person_id": PERSON},
    "/console/people/{person_id}/consent": {"person_id": PERSON},
    "/console/requests/{request_id}": {"request_id": "no-such-request"},
    "/console/outbox/{name}": {"name": "0" * 32 + ".eml"},
    "/console/requests/{request_id}/{action}": {"request_id": "no-such-request", "action": "begin"},
    "/console/requests/{request_id}/run": {"request_id": "no-such-request"},
    "/console/requests/{request_id}/dry-run": {"request_id": "no-such-request"},
    "/console/requests/{request_id}/dry-run.json": {"request_id": "no-such-request"},
    "/console/requests/{request_id}/retry": {"request_id": "no-such-request"},
    "/console/requests/{request_id}/steps/{seq}/answer": {
        "request_id": "no-such-request",
        "seq": "1",
    },
    "/console/requests/{request_id}/files/{file_id}": {
        "request_id": "no-such-request",
        "file_id": "no-such-file",
    },
    "/console/staff/{user_id}/disable": {"user_id": STAFF_MEMBER},
    "/console/staff/{user_id}/enable": {"user_id": STAFF_MEMBER},
    "/console/staff/{user_id}/role": {"user_id": STAFF_MEMBER},
    "/console/staff/{user_id}/password": {"user_id": STAFF_MEMBER},
    "/console/api-keys/{key_id}/revoke": {"key_id": API_KEY},
    "/u/{token}": {"token": "not-a-signed-token"},
    "/preferences/{token}": {"token": "not-a-signed-token"},
    "/preferences/{token}/receipt": {"token": "not-a-signed-token"},
    "/privacy-centre/verify/{token}": {"token": "not-a-signed-token"},
    "/privacy-centre/verify/{token}/resend": {"token": "not-a-signed-token"},
    "/privacy-centre/requests/{token}": {"token": "not-a-signed-token"},
    "/privacy-centre/requests/{token}/cancel": {"token": "not-a-signed-token"},
    "/opendsr/v1/opendsr_requests/{subject_request_id}": {
        "subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798"
    },
}

# Routes that are not APIRoutes carry no Permit: only these may exist.
PLAIN_ROUTES = {"/static", OPENAPI_URL}

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def permits(dependant: Dependant) -> Iterator[Permit]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Permit):
            yield dependency.call
        yield from permits(dependency)


def route_permission(route: RouteContext) -> Permission:
    # The effective route's dependant: the dependencies of every router it was included by too.
    found = {permit.permission for permit in permits(route.dependant)}
    assert found, f"{route.path} declares no Permit"
    assert len(found) == 1, f"{route.path} declares several permissions: {sorted(found)}"
    return found.pop()


def template(route: RouteContext) -> str:
    """The path as declared, parameters in braces."""
    return route.path or ""


def methods(route: RouteContext) -> list[str]:
    return sorted(route.methods or ())


def api_routes(app: FastAPI) -> list[RouteContext]:
    """Every APIRoute as served, with the prefixes and dependencies of its routers."""
    return [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]


@dataclass(frozen=True)
class Caller:
    """Who sends a request: nobody, a role, or a key with the given scopes."""

    label: str
    role: Role | None = None
    scope: Permission | None = None

    def permissions(self) -> frozenset[Permission]:
        if self.role is not None:
            return ROLE_PERMISSIONS[self.role]
        if self.scope is not None:
            return frozenset({self.scope, Permission.PUBLIC})
        return frozenset({Permission.PUBLIC})


ANONYMOUS = Caller("anonymous")


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    engine: Engine
    settings: Settings
    users: dict[Role, StaffUser]
    tokens: dict[Permission, str]
    samples: dict[str, str]

    def path(self, route: RouteContext) -> str:
        path = template(route)
        if route.param_convertors:
            assert path in PATH_PARAMETERS, (
                f"{path} has path parameters: add sample values to PATH_PARAMETERS"
            )
            for name, value in PATH_PARAMETERS[template(route)].items():
                path = path.replace("{" + name + "}", self.samples.get(value, value))
        return path

    def headers(self, caller: Caller) -> dict[str, str]:
        if caller.role is not None:
            # A fresh session each time: a request may end the one before (sign-out, reset).
            with make_session_factory(self.engine)() as session, session.begin():
                user = session.get(StaffUser, self.users[caller.role].id)
                assert user is not None
                staff_session, token = start_session(
                    session=session,
                    user=user,
                    absolute=dt.timedelta(hours=1),
                    client_address="127.0.0.1",
                    user_agent="role matrix",
                )
            cookie = f"{session_cookie_name(self.settings)}={token}"
            return {"cookie": cookie, "x-csrf-token": staff_session.csrf_token}
        if caller.scope is not None:
            return {"authorization": f"Bearer {self.tokens[caller.scope]}"}
        return {}

    async def public_form(self, path: str) -> tuple[dict[str, str], str]:
        """What a form at `path` carries for anyone: its own CSRF token and cookie, if any.

        Public forms (sign-in) protect themselves with a token of their own; sending it makes
        the response depend on the permission alone, as for staff forms with theirs.
        """
        page = await self.client.get(path)
        self.client.cookies.clear()
        found = CSRF_FIELD.search(page.text) if page.status_code == 200 else None
        form = {"csrf_token": found.group(1)} if found else {"x": ""}
        cookies = "; ".join(f"{name}={value}" for name, value in page.cookies.items())
        return form, cookies

    async def send(self, route: RouteContext, method: str, caller: Caller) -> httpx.Response:
        path = self.path(route)
        headers = self.headers(caller)
        if method == "GET":
            response = await self.client.get(path, headers=headers)
        elif wants_json_path(path):
            response = await self.client.request(method, path, headers=headers, json={})
        else:
            form, cookies = await self.public_form(path)
            if cookies:
                headers["cookie"] = "; ".join(filter(None, [headers.get("cookie"), cookies]))
            response = await self.client.request(method, path, headers=headers, data=form)
        # Whatever a response set, the next caller starts with an empty jar.
        self.client.cookies.clear()
        return response


def wants_json_path(path: str) -> bool:
    return path.startswith(("/api/", "/healthz", "/opendsr/"))


@pytest.fixture
async def world(
    app: FastAPI, applied: PolicyDocument, engine: Engine, settings: Settings, keyring: Keyring
) -> AsyncIterator[World]:
    with make_session_factory(engine)() as session, session.begin():
        users = {}
        for role in Role:
            user, _ = add_user(
                session=session, username=f"matrix-{role.value}", role=role, display_name=role.value
            )
            user.must_change_password = False
            users[role] = user
        target, _ = add_user(
            session=session, username="matrix-target", role=Role.AGENT, display_name="Target"
        )
        tokens = {}
        for scope in API_KEY_SCOPES:
            _, tokens[scope] = create_key(
                session=session, name=f"matrix {scope.value}", scopes=[scope], created_by="tests"
            )
        key, _ = create_key(
            session=session, name="target", scopes=["policy:read"], created_by="tests"
        )
        person = find_or_create_person(
            session=session, keyring=keyring, identities=[("email", "matrix@example.com")]
        )
        samples = {PERSON: person.id, STAFF_MEMBER: target.id, API_KEY: key.id}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield World(app, client, engine, settings, users, tokens, samples)


def callers_for(permission: Permission) -> list[Caller]:
    callers = [ANONYMOUS, *(Caller(role.value, role=role) for role in Role)]
    if permission in API_KEY_SCOPES:
        callers.append(Caller(f"key {permission.value}", scope=permission))
    other = (
        Permission.PEOPLE_READ if permission is Permission.POLICY_READ else Permission.POLICY_READ
    )
    callers.append(Caller(f"key {other.value}", scope=other))
    return callers


# The codes of a refusal by Permit; any other 401 or 403 is the route's own answer (a wrong
# password at sign-in is a 401 `login_failed`, given to whoever may try to sign in).
REFUSALS = {
    "not_authenticated",
    "password_change_required",
    "second_factor_required",
    "permission_denied",
    "csrf_failed",
}
ERROR_CODE = re.compile(r"<dt>Error code</dt><dd><code>([a-z_]+)</code>")


def error_code(response: httpx.Response) -> str | None:
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and isinstance(error["code"], int):
            return str(error["errors"][0]["reason"])  # OpenDSR's body: the code is the status
        return str(error["code"]) if isinstance(error, dict) else None
    found = ERROR_CODE.search(response.text)
    return found.group(1) if found else None


def check(route: RouteContext, method: str, caller: Caller, response: httpx.Response) -> str | None:
    """What is wrong with this response for this caller, or None."""
    permission = route_permission(route)
    status = response.status_code
    code = error_code(response)
    location = response.headers.get("location", "")
    to_sign_in = status == 303 and location.startswith("/console/login")
    refused = status in (401, 403) and code in REFUSALS
    allowed = permission is Permission.PUBLIC or permission in caller.permissions()
    if status >= 500:
        return f"failed with {status}"
    if allowed:
        if refused or (method == "GET" and to_sign_in and caller.role is not None):
            return f"refused with {status} {code or location}"
        return None
    if caller is ANONYMOUS:
        if method == "GET" and not wants_json_path(template(route)):
            return None if to_sign_in else f"gave {status}, not a 303 to /console/login"
        return None if status == 401 and code == "not_authenticated" else f"gave {status} {code}"
    return None if status == 403 and code == "permission_denied" else f"gave {status} {code}"


async def test_every_route_declares_one_permission(app: FastAPI) -> None:
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            route_permission(route)
        else:
            assert route.path in PLAIN_ROUTES, f"{route.path} is not an APIRoute with a Permit"
    stale = set(PATH_PARAMETERS) - {route.path for route in api_routes(app)}
    assert not stale, f"PATH_PARAMETERS names routes that no longer exist: {sorted(stale)}"


async def test_every_route_admits_exactly_whom_the_roles_table_says(world: World) -> None:
    problems, checked = [], 0
    for route in api_routes(world.app):
        permission = route_permission(route)
        for method in methods(route):
            for caller in callers_for(permission):
                response = await world.send(route, method, caller)
                checked += 1
                problem = check(route, method, caller, response)
                if problem is not None:
                    problems.append(f"{method} {route.path} as {caller.label}: {problem}")
    assert not problems, "\n".join(problems)
    assert checked >= 250  # about 45 routes, each asked by six or seven callers


async def test_personal_data_stays_with_those_who_work_with_it(world: World) -> None:
    people_routes = [
        r for r in api_routes(world.app) if route_permission(r) is Permission.PEOPLE_READ
    ]
    assert {r.path for r in people_routes} >= {
        "/console/people",
        "/console/people/{person_id}",
        "/api/v1/people/{person_id}",
    }
    for route in people_routes:
        for role in (Role.AUDITOR, Role.ENGINEER):
            for method in methods(route):
                response = await world.send(route, method, Caller(role.value, role=role))
                assert response.status_code == 403, (method, route.path, role)


async def test_auditors_read_the_audit_log_and_engineers_do_not(world: World) -> None:
    auditor, engineer = Caller("auditor", role=Role.AUDITOR), Caller("engineer", role=Role.ENGINEER)
    for path in ("/console/audit", "/console/audit.csv", "/api/v1/audit"):
        response = await world.client.get(path, headers=world.headers(auditor))
        assert response.status_code == 200, path
        response = await world.client.get(path, headers=world.headers(engineer))
        assert response.status_code == 403, path


async def test_the_matrix_catches_a_route_without_a_permit_or_with_two() -> None:
    app = FastAPI()

    @app.get("/open")
    def open_route() -> None:
        return None

    @app.get("/torn", dependencies=[permit(Permission.POLICY_READ), permit(Permission.AUDIT_READ)])
    def torn_route() -> None:
        return None

    routes = {route.path: route for route in api_routes(app)}
    with pytest.raises(AssertionError, match="declares no Permit"):
        route_permission(routes["/open"])
    with pytest.raises(AssertionError, match="several permissions"):
        route_permission(routes["/torn"])
