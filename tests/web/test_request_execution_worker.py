"""The server's embedded worker lives and dies with the app's lifespan; without it, the
server only queues the steps for `opendpo worker` processes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from execution_estate import Console, apply_estate, serve, working_app
from sqlalchemy import Engine
from staff_sessions import SignIn, as_staff

from opendpo.policy.model.document import PolicyDocument
from opendpo.security.roles import Role
from opendpo.settings import Settings
from opendpo.tasks.queue import make_huey
from opendpo.web.app import create_app

pytestmark = pytest.mark.anyio


async def test_the_embedded_worker_stops_with_the_server(
    applied: PolicyDocument, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    before = set(threading.enumerate())
    async with serve(working_app(settings, tmp_path)):
        during = set(threading.enumerate()) - before
        assert any(t.name == "opendpo-sweeper" for t in during)
    # AnyIO keeps its idle thread pool (which ran the lifespan's blocking calls) for reuse.
    left = [
        t
        for t in set(threading.enumerate()) - before
        if t.is_alive() and not t.name.startswith("AnyIO worker thread")
    ]
    assert left == []


async def test_without_the_embedded_worker_the_steps_wait_on_the_queue(
    applied: PolicyDocument, settings: Settings, engine: Engine, sign_in: SignIn, tmp_path: Path
) -> None:
    """`opendpo worker` processes do the work: the server only queues the steps."""
    apply_estate(engine, tmp_path, archive=False)
    app = create_app(settings.model_copy(update={"outbox_path": tmp_path / "outbox"}))
    async with serve(app) as client:
        assert not any(t.name == "opendpo-sweeper" for t in threading.enumerate())
        as_staff(client, settings, sign_in(Role.AGENT))
        console = Console(client, engine)
        request_id = await console.log_access()
        assert (await console.post(request_id, "run")).status_code == 303
    assert console.steps(request_id) == [(1, "find", "pending"), (2, "package", "pending")]
    huey = make_huey(settings)
    try:
        assert huey.pending_count() == 1  # the find step; the package step waits for it
    finally:
        huey.storage.close()
