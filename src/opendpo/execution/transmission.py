"""The transmit step: a portability package's data sent to the controller the person named
(UK GDPR Art 20(2)), then the request completed.

`data.json` (the person-provided rows, structured and machine-readable) is streamed out of
the stored package to the destination with `transmit`. A failure that may pass (timeout,
5xx, 429) is retried with the engine's backoff; once it cannot succeed (not https, a 4xx, a
redirect, or still failing on the last attempt) the step fails with a message staff can act
on, and the person is still sent their own download, told the transfer could not be made.
The receipt (status, bytes, SHA-256, the receiver's reference) goes on the timeline.

Each attempt carries the same Idempotency-Key, so a receiver that took a first attempt whose
answer was lost can tell the second for a repeat.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.connectors.base import ConnectorError
from opendpo.errors import InvalidValue
from opendpo.execution.closing import ENGINE, download_url, letter_text
from opendpo.execution.files import read_blocks
from opendpo.execution.outcome import Outcome
from opendpo.execution.planning import Phase
from opendpo.execution.records import RequestStep, StoredFile
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import MAX_ATTEMPTS, StepStatus
from opendpo.execution.transmit import (
    PackageUnreadable,
    Receipt,
    TransmitFailed,
    check_destination,
    package_member,
    transmit,
)
from opendpo.rights import workflow
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request
from opendpo.security.audit import as_utc

PORTABLE_MEMBER = "data.json"
TIMEOUT_SECONDS = 60.0


def run(runtime: Runtime, session: Session, request: Request, step: RequestStep) -> Outcome:
    destination = str((step.inputs or {}).get("destination", ""))
    packaged = session.scalar(
        select(RequestStep).where(
            RequestStep.request_id == request.id,
            RequestStep.phase == Phase.PACKAGE.value,
            RequestStep.status == StepStatus.DONE.value,
        )
    )
    if packaged is None:  # the plan always packages first; a missing one is a corrupted plan
        raise InvalidValue("plan", "no package to send")
    stored = session.get(StoredFile, str(packaged.summary["file"]))
    if stored is None:
        raise InvalidValue("plan", "the package to send is no longer stored")
    try:
        host = check_destination(destination).host
        receipt = transmit(
            package_member(
                read_blocks(session_factory=runtime.session_factory, file_id=stored.id),
                PORTABLE_MEMBER,
            ),
            url=destination,
            headers={"idempotency-key": f"{request.id}-transmit"},
            timeout=TIMEOUT_SECONDS,
            content_type="application/json",
        )
    except InvalidValue as exc:
        return _refused(runtime, session, request, step, packaged, stored, destination, exc.detail)
    except TransmitFailed as exc:
        if exc.retryable and step.attempts < MAX_ATTEMPTS:
            raise ConnectorError("destination", exc.message, retryable=True) from None
        tried = f" (tried {step.attempts} times)" if exc.retryable else ""
        return _refused(
            runtime, session, request, step, packaged, stored, destination, exc.message + tried
        )
    except PackageUnreadable as exc:
        raise InvalidValue("package", exc.message) from None
    return _sent(runtime, session, request, step, packaged, stored, host, receipt)


def _sent(
    runtime: Runtime,
    session: Session,
    request: Request,
    step: RequestStep,
    packaged: RequestStep,
    stored: StoredFile,
    host: str,
    receipt: Receipt,
) -> Outcome:
    theirs = f"; their reference {receipt.reference}" if receipt.reference else ""
    told = (
        f"\n\nAs you asked, we also sent the data in data.json straight to {host} on "
        f"{dt.datetime.now(dt.UTC):%d %B %Y}{theirs}."
    )
    return Outcome(
        status=StepStatus.DONE,
        summary={
            "attempt": step.attempts,
            "host": host,
            "status": receipt.status,
            "bytes": receipt.bytes_sent,
            "sha256": receipt.sha256,
            "reference": receipt.reference,
        },
        message=f"sent {PORTABLE_MEMBER} to {host}: HTTP {receipt.status}, "
        f"{receipt.bytes_sent} bytes, SHA-256 {receipt.sha256[:16]}…{theirs}",
        letters=_complete(runtime, session, request, packaged, stored, told),
    )


def _refused(
    runtime: Runtime,
    session: Session,
    request: Request,
    step: RequestStep,
    packaged: RequestStep,
    stored: StoredFile,
    destination: str,
    problem: str,
) -> Outcome:
    told = (
        "\n\nYou asked us to send the data straight to another organisation; that was not "
        "possible, so please download it and pass it on yourself (or reply with another "
        "address for us to try)."
    )
    return Outcome(
        status=StepStatus.FAILED,
        summary={"attempt": step.attempts, "error": problem},
        message=f"could not send the package to {destination}: {problem}. The person was "
        "sent their download; check the address with them or the receiving controller",
        letters=_complete(runtime, session, request, packaged, stored, told),
    )


def _complete(
    runtime: Runtime,
    session: Session,
    request: Request,
    packaged: RequestStep,
    stored: StoredFile,
    told: str,
) -> Any:
    summary = packaged.summary
    expires = as_utc(stored.expires_at) if stored.expires_at else dt.datetime.now(dt.UTC)
    link = download_url(runtime.links, runtime.settings.base_url, stored.id)
    response = letter_text(
        "portability", int(summary.get("total", 0)), int(summary.get("systems", 0)), link, expires
    )
    context = LetterContext(runtime.policy(session), runtime.links, runtime.settings.base_url)
    return workflow.complete(
        session=session, request=request, actor=ENGINE, response=response + told, context=context
    )
