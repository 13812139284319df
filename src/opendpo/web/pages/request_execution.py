"""Running a request across the connected systems from its console page: run it, retry the
steps that failed, answer a step that waits on a person (with attachments), and download the
files a request made or was given.

Each change is audited in its own transaction and committed before the steps it made ready
are handed to the queue, so a worker never picks up a step whose change was rolled back.
Downloads are audited and committed before the first byte goes out.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.responses import Response, StreamingResponse

from opendpo.errors import DomainError, InvalidValue, NotFound
from opendpo.execution import engine, person_steps
from opendpo.execution.files import (
    BLOCK_SIZE,
    completed_file,
    open_writer,
    read_blocks,
    remove_files,
)
from opendpo.execution.progress import ready_step_ids, request_step
from opendpo.execution.records import StoredFile
from opendpo.rights.handling import get_request
from opendpo.rights.records import Request as RightsRequest
from opendpo.web.auth import Auth, record_audit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.pages.request_actions import STALE_MESSAGE, StaleForm
from opendpo.web.pages.request_page import REQUEST_TARGET, render_request
from opendpo.web.pages.request_queue import RequestsReader, RequestsWriter
from opendpo.web.pages.request_systems import (
    ATTACHMENT,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
)
from opendpo.web.state import WebState

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)

# The form fields beside the files (a note of at most 10,000 characters) take little room.
MAX_BODY = MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES + 1024 * 1024
MIB = 1024 * 1024
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


class RunForm(BaseModel):
    version: str = ""
    corrections: str = ""


class VersionForm(BaseModel):
    version: str = ""


def check_version(found: RightsRequest, sent: str) -> None:
    if not sent.isdigit() or int(sent) != found.version:
        raise StaleForm()


def _corrections(text: str) -> dict[str, str]:
    """`FIELD=VALUE` lines, as the CLI's --set takes them."""
    fixes: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidValue("corrections", f"write FIELD=VALUE on each line, not '{line}'")
        fixes[name.strip()] = value.strip()
    return fixes


def refused(
    request: Request,
    state: WebState,
    session: Session,
    auth: Auth,
    found: RightsRequest,
    exc: Exception,
    action: str,
    values: dict[str, str],
) -> Response:
    """The request page again, saying why nothing was done."""
    session.rollback()
    if isinstance(exc, InvalidValue):
        status, message = 422, f"Nothing was done: {exc.detail}"
        # "corrections.user.nickname" is shown beside the corrections field.
        field = exc.field.split(".", 1)[0]
        field = "files" if field == "attachments" else field
        errors = {action: {field: exc.detail}}
    elif isinstance(exc, StaleForm | StaleDataError | IntegrityError):
        # IntegrityError: someone else planned the request at the same moment.
        status, message, errors = 409, STALE_MESSAGE, {}
    else:
        status, message, errors = 409, f"Nothing was done: {exc}", {}
    return render_request(
        request,
        state=state,
        session=session,
        auth=auth,
        rights_request=found,
        status_code=status,
        message=message,
        errors=errors,
        values=values,
    )


def _hand_out(state: WebState, session: Session, request_id: str) -> None:
    state.runner.hand_out(request_id, ready_step_ids(session=session, request_id=request_id))


@router.post("/requests/{request_id}/run", name="console_request_run")
def request_run(
    request: Request,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    request_id: str,
    form: Annotated[RunForm, Form()],
) -> Response:
    found = get_request(session=session, key=request_id)
    try:
        check_version(found, form.version)
        fixes = _corrections(form.corrections)
        ready = engine.start(
            session=session,
            runtime=state.runner.runtime,
            request=found,
            actor=auth.principal.actor,
            inputs={"corrections": fixes} if fixes else None,
        )
        record_audit(
            session=session,
            state=state,
            auth=auth,
            action="request.run",
            target_kind=REQUEST_TARGET,
            target_id=found.id,
            details={"ready": len(ready)},
        )
        session.commit()
    except (DomainError, StaleDataError, IntegrityError) as exc:
        values = {"run.corrections": form.corrections}
        return refused(request, state, session, auth, found, exc, "run", values)
    state.runner.hand_out(found.id, [step.id for step in ready])
    return RedirectResponse(f"/console/requests/{found.id}#systems", status_code=303)


@router.post("/requests/{request_id}/retry", name="console_request_retry")
def request_retry(
    request: Request,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    request_id: str,
    form: Annotated[VersionForm, Form()],
) -> Response:
    found = get_request(session=session, key=request_id)
    try:
        check_version(found, form.version)
        retried = engine.retry_failed(session=session, request=found, actor=auth.principal.actor)
        record_audit(
            session=session,
            state=state,
            auth=auth,
            action="request.retry_failed",
            target_kind=REQUEST_TARGET,
            target_id=found.id,
            details={"steps": [step.seq for step in retried]},
        )
        session.commit()
    except (DomainError, StaleDataError) as exc:
        return refused(request, state, session, auth, found, exc, "retry", {})
    _hand_out(state, session, found.id)
    return RedirectResponse(f"/console/requests/{found.id}#systems", status_code=303)


async def _body_limit(request: Request) -> None:
    """Refuse an upload too large for any answer before its body is read and spooled."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise InvalidValue(
            "files",
            f"attach at most {MAX_ATTACHMENTS} files of {MAX_ATTACHMENT_BYTES // MIB} MiB each",
        )


def _safe_name(name: str) -> str:
    cleaned = UNSAFE_NAME.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return cleaned[:200] or "attachment"


def _store(
    state: WebState, auth: Auth, found: RightsRequest, step_id: int, upload: UploadFile
) -> str:
    """Copy one upload into the store, block by block; its file id."""
    name = _safe_name(upload.filename or "")
    writer = open_writer(
        session_factory=state.session_factory,
        request_id=found.id,
        purpose=ATTACHMENT,
        name=name,
        content_type=(upload.content_type or "application/octet-stream")[:100],
        step_id=step_id,
        created_by=auth.principal.id,
    )
    with writer:
        while chunk := upload.file.read(BLOCK_SIZE):
            if writer.tell() + len(chunk) > MAX_ATTACHMENT_BYTES:
                raise InvalidValue(
                    "attachments", f"{name} is larger than {MAX_ATTACHMENT_BYTES // MIB} MiB"
                )
            writer.write(chunk)
    return writer.file_id


@router.post(
    "/requests/{request_id}/steps/{seq}/answer",
    name="console_request_step_answer",
    dependencies=[Depends(_body_limit)],
)
def step_answer(
    request: Request,
    auth: RequestsWriter,
    state: StateDep,
    session: SessionDep,
    request_id: str,
    seq: int,
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    found = get_request(session=session, key=request_id)
    step = request_step(session=session, request_id=found.id, seq=seq)
    uploads = [f for f in files or [] if f.filename]
    action = f"answer-{seq}"
    values = {f"{action}.outcome": outcome, f"{action}.note": note}
    stored: list[str] = []
    try:
        if len(uploads) > MAX_ATTACHMENTS:
            raise InvalidValue("attachments", f"attach at most {MAX_ATTACHMENTS} files")
        for upload in uploads:
            stored.append(_store(state, auth, found, step.id, upload))
        person_steps.answer(
            session=session,
            request=found,
            step=step,
            actor=auth.principal.actor,
            outcome=outcome,
            note=note,
            attachments=[session.get_one(StoredFile, file_id) for file_id in stored],
        )
        record_audit(
            session=session,
            state=state,
            auth=auth,
            action="request.step_answer",
            target_kind=REQUEST_TARGET,
            target_id=found.id,
            details={"step": seq, "outcome": outcome, "attachments": len(stored)},
        )
        session.commit()
    except (DomainError, StaleDataError) as exc:
        session.rollback()
        _remove(state, stored)
        return refused(request, state, session, auth, found, exc, action, values)
    except BaseException:
        # Files stored for an answer that was never recorded would be orphans.
        session.rollback()
        _remove(state, stored)
        raise
    _hand_out(state, session, found.id)
    return RedirectResponse(f"/console/requests/{found.id}#step-{seq}", status_code=303)


def _remove(state: WebState, file_ids: list[str]) -> None:
    if file_ids:
        remove_files(state.session_factory, file_ids)


def _disposition(name: str) -> str:
    ascii_name = _safe_name(name).replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _logged(blocks: Iterator[bytes], file_id: str) -> Iterator[bytes]:
    try:
        yield from blocks
    except Exception:
        logger.exception("download of stored file %s stopped part way", file_id)
        raise


@router.get("/requests/{request_id}/files/{file_id}", name="console_request_file")
def request_file(
    auth: RequestsReader, state: StateDep, session: SessionDep, request_id: str, file_id: str
) -> Response:
    found = get_request(session=session, key=request_id)
    stored = completed_file(session=session, file_id=file_id)
    if stored.request_id != found.id:
        raise NotFound("file", file_id)
    blocks = read_blocks(session_factory=state.session_factory, file_id=stored.id)
    first = next(blocks, b"")
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="request.file_read",
        target_kind=REQUEST_TARGET,
        target_id=found.id,
        details={"file": stored.id, "purpose": stored.purpose, "bytes": stored.size},
    )
    session.commit()
    # What a person uploaded is served as bytes to save, never as a page the browser renders.
    media_type = "application/octet-stream" if stored.purpose == ATTACHMENT else stored.content_type
    headers = {
        "content-disposition": _disposition(stored.name),
        "content-length": str(stored.size),
        "cache-control": "no-store",
    }
    return StreamingResponse(
        _logged(itertools.chain([first], blocks), stored.id),
        media_type=media_type,
        headers=headers,
    )
