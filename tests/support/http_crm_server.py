"""A little CRM API for the HTTP connector's tests, served over real HTTP by uvicorn.

The same routes sit under one prefix per sign-in style, each with its own credentials: /key
(X-API-Key header), /qkey (api_key query parameter), /bearer, /basic and /oauth (OAuth2 client
credentials: POST /token issues short-lived tokens, and the API refuses them once expired). It
searches as CRMs do (e-mail by case-insensitive substring), pages in four styles (contacts by
limit/offset, notes by page number, orders by cursor, tickets by Link header) and keeps some
misbehaving endpoints under /errors.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import email.utils
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

API_KEY = "key-5f1d0c7e9a2b"
BEARER_TOKEN = "bearer-8c2e4b6a1f3d"
BASIC_USER = "opendpo"
BASIC_PASSWORD = "basic-pw-3d9f7b1e"
CLIENT_ID = "opendpo-client"
CLIENT_SECRET = "client-secret-6a4e2c0b"
SECRETS = (API_KEY, BEARER_TOKEN, BASIC_PASSWORD, CLIENT_SECRET)
STYLES = ("key", "qkey", "bearer", "basic", "oauth")


def _contact(id: int, email: str, first: str, last: str, job: str, marketing: bool) -> Any:
    return {
        "id": id,
        "email": email,
        "phone": f"+4477009000{id:02d}",
        "first_name": first,
        "last_name": last,
        "job_title": job,
        "preferences": {"marketing": marketing, "newsletter": True},
        "restricted": False,
    }


@dataclass
class CrmState:
    contacts: dict[int, Any] = field(
        default_factory=lambda: {
            c["id"]: c
            for c in (
                _contact(1, "alice@example.com", "Alice", "Archer", "Head of IT", True),
                _contact(2, "alice@example.com", "Alice", "Archer", "IT Manager", False),
                _contact(3, "bob@example.com", "Bob", "Baker", "Buyer", True),
                _contact(4, "ALICE@example.com", "Alicia", "Ames", "Director", False),
                _contact(5, "malice@example.com", "Mal", "Ice", "Intern", True),
                _contact(6, "alice@example.com", "Al", "Archer", "Consultant", False),
            )
        }
    )
    notes: dict[int, Any] = field(
        default_factory=lambda: {
            10: {"id": 10, "contact_id": 1, "text": "Called about renewal"},
            11: {"id": 11, "contact_id": 1, "text": "Prefers email"},
            12: {"id": 12, "contact_id": 1, "text": "Met at trade show"},
            13: {"id": 13, "contact_id": 3, "text": "Wants a quote"},
        }
    )
    orders: list[Any] = field(
        default_factory=lambda: [
            {"id": 100, "customer_email": "alice@example.com", "total": 120.0},
            {"id": 101, "customer_email": "alice@example.com", "total": 75.5},
            {"id": 102, "customer_email": "bob@example.com", "total": 20},
            {"id": 103, "customer_email": "alice@example.com", "total": 9.99},
            {"id": 104, "customer_email": "carol@example.com", "total": 5},
        ]
    )
    tickets: list[Any] = field(
        default_factory=lambda: (
            [
                {"id": 200 + n, "requester": "alice@example.com", "subject": f"Issue {n}"}
                for n in range(7)
            ]
            + [{"id": 207, "requester": "bob@example.com", "subject": "Invoice"}]
        )
    )
    # While set, every API call is refused with 429 and this Retry-After (seconds or a date).
    busy_retry_after: str | None = None
    token_lifetime: float = 300.0
    token_endpoint_down: bool = False
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    refused_tokens: int = 0
    calls: list[str] = field(default_factory=list)  # "GET /contacts?..." under the prefix
    clients: set[tuple[str, int]] = field(default_factory=set)  # one per TCP connection
    lock: threading.Lock = field(default_factory=threading.Lock)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()


class CrmServer:
    def __init__(self) -> None:
        self.state = CrmState()
        self._tokens = itertools.count(1)
        config = uvicorn.Config(
            self._app(),
            host="127.0.0.1",
            port=0,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self.url = ""

    def reset(self) -> CrmState:
        self.state = CrmState()
        return self.state

    def base_url(self, style: str) -> str:
        return f"{self.url}/{style}"

    @contextmanager
    def running(self) -> Iterator[CrmServer]:
        thread = threading.Thread(target=self._server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            self._server.should_exit = True
            thread.join(timeout=20)

    # The application

    def _app(self) -> Starlette:
        api = [
            Route("/", self._root),
            Route("/me", self._me),
            Route("/contacts", self._contacts),
            Route("/contacts/{id:int}", self._contact, methods=["GET", "PATCH", "DELETE"]),
            Route("/contacts/{id:int}/restriction", self._restriction, methods=["POST", "DELETE"]),
            Route("/contacts/{id:int}/notes", self._contact_notes),
            Route("/notes/{id:int}", self._note, methods=["GET", "PUT", "DELETE"]),
            Route("/orders", self._orders),
            Route("/orders/{id:int}", self._order, methods=["PATCH"]),
            Route("/tickets", self._tickets),
            Route("/errors/{kind}", self._error),
        ]
        mounts = [
            Mount(f"/{style}", app=self._guard(style, Starlette(routes=api))) for style in STYLES
        ]
        return Starlette(routes=[Route("/token", self._token, methods=["POST"]), *mounts])

    def _guard(self, style: str, app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope)
            state = self.state
            with state.lock:
                path = request.url.path.removeprefix(f"/{style}")
                query = request.url.query
                state.calls.append(f"{request.method} {path}" + (f"?{query}" if query else ""))
                if request.client is not None:
                    state.clients.add((request.client.host, request.client.port))
                allowed = self._signed_in(style, request, state)
                busy = state.busy_retry_after
            if busy is not None:
                response = JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": busy})
                await response(scope, receive, send)
                return
            if not allowed:
                await JSONResponse({"error": "unauthorised"}, 401)(scope, receive, send)
                return
            await app(scope, receive, send)

        return guarded

    def _signed_in(self, style: str, request: Request, state: CrmState) -> bool:
        authorization = request.headers.get("authorization", "")
        if style == "key":
            return request.headers.get("x-api-key") == API_KEY
        if style == "qkey":
            return request.query_params.getlist("api_key") == [API_KEY]
        if style == "bearer":
            return authorization == f"Bearer {BEARER_TOKEN}"
        if style == "basic":
            pair = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
            return authorization == f"Basic {pair}"
        token = authorization.removeprefix("Bearer ")
        if state.tokens.get(token, 0.0) > time.monotonic():
            return True
        state.refused_tokens += 1
        return False

    async def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        state = self.state
        client_id, secret = form.get("client_id"), form.get("client_secret")
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode()
            client_id, _, secret = decoded.partition(":")
        with state.lock:
            state.token_requests.append(form)
            if state.token_endpoint_down:
                return JSONResponse({"error": "unavailable"}, 503, headers={"Retry-After": "30"})
            if form.get("grant_type") != "client_credentials":
                return JSONResponse({"error": "unsupported_grant_type"}, 400)
            if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
                return JSONResponse({"error": "invalid_client"}, 401)
            token = f"token-{next(self._tokens)}"
            state.tokens[token] = time.monotonic() + state.token_lifetime
            lifetime = state.token_lifetime
        body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def _root(self, request: Request) -> Response:
        return JSONResponse({"service": "crm"})

    async def _me(self, request: Request) -> Response:
        return JSONResponse({"user": "opendpo"})

    async def _contacts(self, request: Request) -> Response:
        query = request.query_params
        email, phone = query.get("email", "").lower(), query.get("phone")
        limit, offset = int(query.get("limit", "50")), int(query.get("offset", "0"))
        with self.state.lock:
            found = [
                c
                for _, c in sorted(self.state.contacts.items())
                if (email and email in c["email"].lower()) or (phone and c["phone"] == phone)
            ]
            return JSONResponse({"data": found[offset : offset + limit], "total": len(found)})

    async def _contact(self, request: Request) -> Response:
        state, id = self.state, request.path_params["id"]
        changes = await request.json() if request.method == "PATCH" else None
        with state.lock:
            contact = state.contacts.get(id)
            if contact is None:
                return JSONResponse({"error": "not found"}, 404)
            if request.method == "DELETE":
                del state.contacts[id]
                return Response(status_code=204)
            if changes is not None:
                if "@" not in changes.get("email", "@"):
                    return JSONResponse({"error": "email is not an address"}, 422)
                _merge(contact, changes)
            return JSONResponse(contact)

    async def _restriction(self, request: Request) -> Response:
        with self.state.lock:
            contact = self.state.contacts.get(request.path_params["id"])
            if contact is None or (request.method == "DELETE" and not contact["restricted"]):
                return JSONResponse({"error": "not found"}, 404)
            contact["restricted"] = request.method == "POST"
        if request.method == "POST":
            return JSONResponse({"restricted": True}, 201)
        return Response(status_code=204)

    async def _contact_notes(self, request: Request) -> Response:
        id = request.path_params["id"]
        page, size = int(request.query_params["page"]), int(request.query_params["per_page"])
        with self.state.lock:
            if id not in self.state.contacts:
                return JSONResponse({"error": "not found"}, 404)
            notes = [
                {"id": n["id"], "text": n["text"]}  # as many APIs do: no parent id inside
                for _, n in sorted(self.state.notes.items())
                if n["contact_id"] == id
            ]
        return JSONResponse({"notes": notes[(page - 1) * size : page * size], "page": page})

    async def _note(self, request: Request) -> Response:
        state, id = self.state, request.path_params["id"]
        replacement = await request.json() if request.method == "PUT" else None
        with state.lock:
            note = state.notes.get(id)
            if note is None:
                return JSONResponse({"error": "not found"}, 404)
            if request.method == "DELETE":
                del state.notes[id]
                return Response(status_code=204)
            if replacement is not None:
                valid = (
                    set(replacement) == {"text", "contact_id"}
                    and isinstance(replacement["text"], str)
                    and isinstance(replacement["contact_id"], int)
                )
                if not valid:
                    return JSONResponse({"error": "a note needs text and contact_id"}, 422)
                note.update(replacement)
            return JSONResponse(note)

    async def _orders(self, request: Request) -> Response:
        wanted = {
            email
            for value in request.query_params.getlist("customer_email")
            for email in value.split(",")
        }
        start = int(base64.b64decode(request.query_params.get("after", "MA==")))
        limit = int(request.query_params.get("limit", "50"))
        with self.state.lock:
            found = [o for o in self.state.orders if o["customer_email"] in wanted]
        end = start + limit
        cursor = base64.b64encode(str(end).encode()).decode() if end < len(found) else None
        return JSONResponse({"items": found[start:end], "meta": {"next": cursor}})

    async def _order(self, request: Request) -> Response:
        changes = await request.json()
        with self.state.lock:
            for order in self.state.orders:
                if order["id"] == request.path_params["id"]:
                    _merge(order, changes)
                    return JSONResponse(order)
        return JSONResponse({"error": "not found"}, 404)

    async def _tickets(self, request: Request) -> Response:
        requester = request.query_params.get("requester")
        page = int(request.query_params.get("page", "1"))
        with self.state.lock:
            found = [t for t in self.state.tickets if t["requester"] == requester]
        headers = {}
        if page * 2 < len(found):
            next_url = request.url.include_query_params(page=page + 1)
            headers["Link"] = f'<{next_url}>; rel="next", <{request.url}>; rel="self"'
        return JSONResponse(found[(page - 1) * 2 : page * 2], headers=headers)

    async def _error(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind == "slow":
            await asyncio.sleep(1.0)
        if kind == "rate-limited-until":
            until = email.utils.formatdate(time.time() + 120, usegmt=True)
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": until})
        return _MISBEHAVIOURS[kind]()


def _merge(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _elsewhere() -> Response:
    link = '<https://elsewhere.invalid/tickets?page=2>; rel="next"'
    return Response(json.dumps([{"id": 1}]), media_type="application/json", headers={"Link": link})


# What /errors/{kind} answers; the records, if any, are at data.items.
_MISBEHAVIOURS: dict[str, Callable[[], Response]] = {
    "rate-limited": lambda: JSONResponse({"error": "slow"}, 429, headers={"Retry-After": "7"}),
    "broken": lambda: PlainTextResponse("Internal Server Error", 500),
    "forbidden": lambda: JSONResponse({"error": "forbidden"}, 403),
    "redirect": lambda: RedirectResponse("https://elsewhere.invalid/contacts", 302),
    "html": lambda: Response("<html><body>Maintenance</body></html>", media_type="text/html"),
    "string": lambda: JSONResponse({"data": {"items": "oops"}}),
    "scalars": lambda: JSONResponse({"data": {"items": [1, 2]}}),
    "missing": lambda: JSONResponse({"data": {}}),
    "slow": lambda: JSONResponse({"data": {"items": []}}),
    "elsewhere": _elsewhere,
    "cursor-loop": lambda: JSONResponse(
        {"data": {"items": [{"email": "x@example.com"}]}, "next": "same"}
    ),
}
