"""Running requests in tests: apply a policy with its connections, read the package back."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from opendpo.execution.files import read_blocks
from opendpo.execution.records import RequestStep, StoredFile
from opendpo.execution.runtime import Runtime
from opendpo.execution.systems import save_connection
from opendpo.policy.loader import load_policy
from opendpo.policy.versions import apply_policy
from opendpo.rights.records import Request
from opendpo.security.audit import Actor, ActorKind

STAFF = Actor(ActorKind.STAFF, "staff-1")
Run = Callable[..., tuple[Request, list[RequestStep]]]


def apply(runtime: Runtime, path: Path, connections: dict[str, dict[str, Any]]) -> None:
    document = load_policy(path).document
    with runtime.session_factory() as session:
        apply_policy(session=session, document=document, source=str(path), applied_by="test")
        for key, config in connections.items():
            save_connection(session=session, key=key, config=config, datasets=[], added_by="test")
        session.commit()


def package(runtime: Runtime, request_id: str) -> zipfile.ZipFile:
    with runtime.session_factory() as session:
        stored = session.scalars(
            select(StoredFile).where(
                StoredFile.request_id == request_id, StoredFile.purpose.like("%package")
            )
        ).one()
    data = b"".join(read_blocks(session_factory=runtime.session_factory, file_id=stored.id))
    return zipfile.ZipFile(io.BytesIO(data))


def data_json(runtime: Runtime, request_id: str) -> dict[str, Any]:
    with package(runtime, request_id) as archive:
        loaded: dict[str, Any] = json.loads(archive.read("data.json"))
    return loaded


def rows_of(data: dict[str, Any], system: str, collection: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = data["systems"][system]["collections"][collection]["rows"]
    return found


def plan_verified(
    runtime: Runtime,
    kind: str,
    identities: list[tuple[str, str]],
    *,
    details: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
) -> tuple[str, list[int]]:
    """Log a request whose identities staff vouched for, and plan it (nothing runs yet):
    the request's id and the ids of the steps ready to run."""
    from opendpo.execution import engine as execution
    from opendpo.rights.intake import submit_request
    from opendpo.rights.letters import LetterContext

    with runtime.session_factory() as session:
        policy = runtime.policy(session)
        request, _ = submit_request(
            session=session,
            keyring=runtime.keyring,
            policy=policy,
            kind=kind,
            identities=identities,
            details=details or {},
            channel="api",
            actor=STAFF,
            context=LetterContext(policy, runtime.links, runtime.settings.base_url),
            verified_evidence="checked by the test",
        )
        ready = execution.start(
            session=session, runtime=runtime, request=request, actor=STAFF, inputs=inputs
        )
        session.commit()
        return request.id, [step.id for step in ready]
