"""A small estate for running requests through the web: the minimal policy's CRM, connected
to a SQLite file holding Alice and Bob, and (optionally) an archive with no connection, which
a person works by hand. Also an app whose embedded worker runs the steps, a way to wait for a
request to reach a status, and a staff member's console over it."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from ruamel.yaml import YAML
from sqlalchemy import Engine, create_engine, select, text

from opendpo.execution.records import RequestStep, StoredFile
from opendpo.execution.systems import save_connection
from opendpo.policy.loader import load_policy
from opendpo.policy.versions import apply_policy
from opendpo.rights.records import Request
from opendpo.security import audit
from opendpo.security.audit import AuditEntry, AuditQuery
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.app import create_app

ALICE = "alice@example.com"
BOB = "bob@example.com"
POLICY_FILES = Path(__file__).resolve().parent.parent / "policy_files"
ARCHIVE_TASK = "Look for the person in the paper archive"


def seed_crm(path: Path) -> str:
    """The CRM's database: contacts and their notes, Alice's and Bob's."""
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE contacts (id integer PRIMARY KEY, email text, name text)"))
        c.execute(text("CREATE TABLE notes (contact_id integer NOT NULL, body text)"))
        c.execute(
            text("INSERT INTO contacts VALUES (1, :a, 'Alice Archer'), (2, :b, 'Bob Baker')"),
            {"a": ALICE, "b": BOB},
        )
        c.execute(text("INSERT INTO notes VALUES (1, 'Prefers email'), (2, 'Call on Fridays')"))
    engine.dispose()
    return url


def apply_estate(engine: Engine, folder: Path, *, archive: bool) -> None:
    """The minimal policy, its CRM connected to a seeded SQLite file (as `opendpo systems add`
    stores it), and with `archive` a second system nobody connected: a task for staff."""
    yaml = YAML(typ="safe")
    data = yaml.load((POLICY_FILES / "minimal.yaml").read_text(encoding="utf-8"))
    for key in ("erasure", "rectification"):
        data["rights"]["available"].append(
            {
                "key": key,
                "name": f"Right to {key}",
                "description": f"The right to {key}.",
                "routes": ["dpo_email"],
            }
        )
    if archive:
        data["systems"].append(
            {"key": "archive", "name": "Paper archive", "kind": "other", "datasets": []}
        )
        for purpose in data["purposes"]:
            purpose["systems"] = ["crm", "archive"]
    path = folder / "estate.yaml"
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    document = load_policy(path).document
    crm = seed_crm(folder / "crm.db")
    with make_session_factory(engine)() as session, session.begin():
        apply_policy(session=session, document=document, source=str(path), applied_by="tests")
        save_connection(
            session=session,
            key="crm",
            config={"type": "sql", "url": crm},
            datasets=[],
            added_by="tests",
        )
        if archive:
            save_connection(
                session=session,
                key="archive",
                config={"type": "manual", "instructions": ARCHIVE_TASK},
                datasets=[],
                added_by="tests",
            )


def working_settings(settings: Settings, folder: Path) -> Settings:
    """Settings whose server works the steps itself, quickly, writing mail to `folder`."""
    return settings.model_copy(
        update={
            "embedded_worker": True,
            "worker_threads": 1,
            "sweep_interval_seconds": 0.2,
            "outbox_path": folder / "outbox",
        }
    )


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


def working_app(settings: Settings, folder: Path) -> FastAPI:
    return create_app(working_settings(settings, folder))


async def eventually(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    """Poll until `check()` holds; fail after `seconds`, saying `what` was awaited."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{what} did not happen within {seconds} s")


def status_of(engine: Engine, request_id: str) -> str:
    with make_session_factory(engine)() as session:
        return session.get_one(Request, request_id).status


async def wait_for(engine: Engine, request_id: str, status: str, seconds: float = 30) -> None:
    """Poll until the request reaches `status`; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    seen = ""
    while time.monotonic() < deadline:
        seen = status_of(engine, request_id)
        if seen == status:
            return
        await asyncio.sleep(0.05)
    with make_session_factory(engine)() as session:
        steps = [
            f"{s.seq} {s.phase} {s.status} {s.error or ''}".strip()
            for s in session.scalars(
                select(RequestStep)
                .where(RequestStep.request_id == request_id)
                .order_by(RequestStep.seq)
            )
        ]
    pytest.fail(f"request {request_id} is {seen}, not {status}, after {seconds} s: {steps}")


VERSION = re.compile(r'name="version" value="(\d+)"')


@dataclass
class Console:
    client: httpx.AsyncClient
    engine: Engine

    async def log_access(self) -> str:
        """An access request for Alice, her identity vouched for by staff."""
        response = await self.client.post(
            "/api/v1/requests",
            json={
                "kind": "access",
                "identities": [{"kind": "email", "value": ALICE}],
                "verified_evidence": "Passport seen at the desk",
            },
        )
        assert response.status_code == 201, response.text
        request_id: str = response.json()["id"]
        return request_id

    async def page(self, request_id: str) -> str:
        response = await self.client.get(f"/console/requests/{request_id}")
        assert response.status_code == 200, response.text
        return response.text

    async def post(self, request_id: str, action: str, **fields: str) -> httpx.Response:
        found = VERSION.search(await self.page(request_id))
        assert found is not None
        data = {"version": found.group(1), **fields}
        return await self.client.post(f"/console/requests/{request_id}/{action}", data=data)

    def steps(self, request_id: str) -> list[tuple[int, str, str]]:
        with make_session_factory(self.engine)() as session:
            found = session.scalars(
                select(RequestStep)
                .where(RequestStep.request_id == request_id)
                .order_by(RequestStep.seq)
            )
            return [(s.seq, s.phase, s.status) for s in found]

    def files(self, request_id: str) -> list[StoredFile]:
        with make_session_factory(self.engine)() as session:
            found = session.scalars(select(StoredFile).where(StoredFile.request_id == request_id))
            return list(found)

    def entries(self, action: str) -> list[AuditEntry]:
        with make_session_factory(self.engine)() as session:
            return list(audit.search(session=session, query=AuditQuery(action=action)))
