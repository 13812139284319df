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
