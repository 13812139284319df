"""OpenDSR: requests a controller's tooling sends us as its processor, and what we answer.

The controller has verified the data subject before sending, so a request arrives verified
(its clock starts on the spot). Only raw identities are accepted: a hashed email can be
neither verified nor matched to anyone here. Statuses are told in the spec's four words
(`request_status`); a refusal is told as `cancelled`, never as `completed`, because a
controller reads `completed` as "done as asked".

Errors are OpenDsrRejected, an InvalidValue that also names the spec's `reason`; the web
layer answers them with the spec's error body.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.errors import InvalidValue, NotFound
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import calendar, workflow
from opendpo.rights.intake import MAX_IDENTITIES, submit_request
from opendpo.rights.kinds import RequestChannel, RequestKind, RequestStatus
from opendpo.rights.letters import Letter, LetterContext
from opendpo.rights.records import Request
from opendpo.security.audit import Actor, as_utc
from opendpo.security.keyring import Keyring
from opendpo.subjects.identities import IdentityKind

API_VERSION = "1.0"
SUBJECT_REQUEST_TYPES: dict[str, RequestKind] = {
    "access": RequestKind.ACCESS,
    "portability": RequestKind.PORTABILITY,
    "erasure": RequestKind.ERASURE,
}
IDENTITY_TYPES: dict[str, IdentityKind] = {"email": IdentityKind.EMAIL, "phone": IdentityKind.PHONE}
REGULATIONS = ("gdpr", "ccpa")
MAX_CALLBACK_URLS = 5
MAX_URL = 2000
# A controller's clock may run a little ahead of ours; a request from the future is an error.
CLOCK_SKEW = dt.timedelta(minutes=5)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")

PENDING, IN_PROGRESS, COMPLETED, CANCELLED = "pending", "in_progress", "completed", "cancelled"
REQUEST_STATUS: dict[RequestStatus, str] = {
    RequestStatus.RECEIVED: PENDING,
    RequestStatus.AWAITING_VERIFICATION: PENDING,
    RequestStatus.VERIFIED: PENDING,
    RequestStatus.IN_PROGRESS: IN_PROGRESS,
    RequestStatus.AWAITING_ACTION: IN_PROGRESS,
    RequestStatus.COMPLETED: COMPLETED,
    RequestStatus.REFUSED: CANCELLED,
    RequestStatus.CANCELLED: CANCELLED,
}

# Where intake's field names differ from the spec's, so that errors name what was sent.
_INTAKE_FIELDS = (
    (re.compile(r"^identities\[(\d+)\]\.(kind|value)$"), r"subject_identities[\1].identity_\2"),
    (re.compile(r"^identities$"), "subject_identities"),
    (re.compile(r"^kind$"), "subject_request_type"),
)


class OpenDsrRejected(InvalidValue):
    """A request the spec's error body answers; `reason` is a stable word for software."""

    code = "opendsr_rejected"

    def __init__(self, field: str, message: str, *, reason: str = "invalid_value") -> None:
        super().__init__(field, message)
        self.reason = reason


@dataclass(frozen=True)
class Submission:
    """A well-formed OpenDSR request, in the words of intake."""

    subject_request_id: str
    kind: RequestKind
    submitted_at: dt.datetime
    identities: list[tuple[str, str]]
    regulation: str
    callback_urls: list[str]
    api_version: str | None
    extension_domains: list[str]


def request_status(status: str) -> str:
    return REQUEST_STATUS[RequestStatus(status)]


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_completion(request: Request) -> dt.datetime:
    """The end of the due date in UK time; before the clock starts, the time of receipt."""
    if request.due_on is None:
        return as_utc(request.received_at)
    end = dt.datetime.combine(request.due_on, dt.time(23, 59, 59), tzinfo=calendar.LONDON)
    return end.astimezone(dt.UTC)


def parse(
    *,
    subject_request_id: str,
    subject_request_type: str,
    submitted_time: str,
    subject_identities: Sequence[tuple[str, str, str]],
    regulation: str,
    status_callback_urls: Sequence[str] = (),
    api_version: str | None = None,
    extensions: Mapping[str, Any] | None = None,
    allow_http_callbacks: bool = False,
    now: dt.datetime,
) -> Submission:
    """Check everything the spec and this processor require; errors name the spec's field.

    `subject_identities`: (identity_type, identity_value, identity_format) in the order sent.
    """
    if not UUID4.match(subject_request_id):
        raise OpenDsrRejected(
            "subject_request_id", "must be a lowercase UUID version 4", reason="invalid_uuid"
        )
    kind = SUBJECT_REQUEST_TYPES.get(subject_request_type)
    if kind is None:
        raise OpenDsrRejected(
            "subject_request_type",
            f"'{subject_request_type}' is not supported ({', '.join(SUBJECT_REQUEST_TYPES)})",
            reason="unsupported_request_type",
        )
    submitted_at = _time("submitted_time", submitted_time)
    if submitted_at > now + CLOCK_SKEW:
        raise OpenDsrRejected("submitted_time", "is in the future", reason="invalid_time")
    if regulation not in REGULATIONS:
        raise OpenDsrRejected(
            "regulation",
            f"'{regulation}' is not supported ({', '.join(REGULATIONS)})",
            reason="unsupported_regulation",
        )
    return Submission(
        subject_request_id=subject_request_id,
        kind=kind,
        submitted_at=submitted_at,
        identities=_identities(subject_identities),
        regulation=regulation,
        callback_urls=_callback_urls(status_callback_urls, allow_http=allow_http_callbacks),
        api_version=api_version,
        extension_domains=sorted(extensions or {})[:10],
    )


def _time(field: str, value: str) -> dt.datetime:
    if not RFC3339.match(value):
        raise OpenDsrRejected(
            field,
            "must be an RFC 3339 time with a zone, e.g. 2026-03-01T09:30:00Z",
            reason="invalid_time",
        )
    try:
        return dt.datetime.fromisoformat(value.upper().replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        raise OpenDsrRejected(field, "is not a real date and time", reason="invalid_time") from None


def _identities(identities: Sequence[tuple[str, str, str]]) -> list[tuple[str, str]]:
    if not identities:
        raise OpenDsrRejected(
            "subject_identities", "give at least one identity", reason="missing_identity"
        )
    if len(identities) > MAX_IDENTITIES:
        raise OpenDsrRejected("subject_identities", f"give at most {MAX_IDENTITIES} identities")
    parsed: list[tuple[str, str]] = []
    for position, (identity_type, value, identity_format) in enumerate(identities):
        name = f"subject_identities[{position}]"
        kind = IDENTITY_TYPES.get(identity_type)
        if kind is None:
            raise OpenDsrRejected(
                f"{name}.identity_type",
                f"'{identity_type}' is not supported ({', '.join(IDENTITY_TYPES)})",
                reason="unsupported_identity_type",
            )
        if identity_format != "raw":
            raise OpenDsrRejected(
                f"{name}.identity_format",
                "only 'raw' is accepted: a hashed identity can be neither verified nor matched",
                reason="unsupported_identity_format",
            )
        parsed.append((kind.value, value))
    return parsed


def _callback_urls(urls: Sequence[str], *, allow_http: bool) -> list[str]:
    if len(urls) > MAX_CALLBACK_URLS:
        raise OpenDsrRejected(
            "status_callback_urls", f"give at most {MAX_CALLBACK_URLS} callback URLs"
        )
    chosen: list[str] = []
    for position, url in enumerate(urls):
        field = f"status_callback_urls[{position}]"
        parts = urlsplit(url)
        local_http = allow_http and parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
        if len(url) > MAX_URL or not parts.hostname or (parts.scheme != "https" and not local_http):
            raise OpenDsrRejected(field, "must be an https:// URL", reason="invalid_url")
        if parts.username is not None or parts.password is not None:
            raise OpenDsrRejected(
                field, "must not carry credentials: callbacks are signed", reason="invalid_url"
            )
        if url not in chosen:
            chosen.append(url)
    return chosen


def create(
    *,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    submission: Submission,
    actor: Actor,
    controller_name: str,
    context: LetterContext,
    now: dt.datetime,
) -> tuple[Request, list[Letter]]:
    """The request, verified on the controller's word; OpenDsrRejected for a repeated id."""
    if find_any(session=session, subject_request_id=submission.subject_request_id) is not None:
        raise duplicate()
    try:
        return submit_request(
            session=session,
            keyring=keyring,
            policy=policy,
            kind=submission.kind.value,
            identities=submission.identities,
            details={},
            channel=RequestChannel.OPENDSR,
            actor=actor,
            context=context,
            verified_evidence=f"Verified by the controller (OpenDSR request from API key "
            f"{controller_name})",
            evidence={
                "opendsr": {
                    "controller": controller_name,
                    "regulation": submission.regulation,
                    "api_version": submission.api_version,
                    "extensions": submission.extension_domains,
                }
            },
            received_at=submission.submitted_at,
            opendsr_id=submission.subject_request_id,
            callback_urls=submission.callback_urls,
            now=now,
        )
    except OpenDsrRejected:
        raise
    except InvalidValue as exc:
        raise OpenDsrRejected(_spec_field(exc.field), exc.detail) from None


def duplicate() -> OpenDsrRejected:
    # The spec says nothing of a repeated id: refusing keeps one request per id, and the
    # controller can ask for the status of the one it sent.
    return OpenDsrRejected(
        "subject_request_id",
        "a request with this id has already been received; ask for its status instead",
        reason="duplicate_subject_request_id",
    )


def _spec_field(field: str) -> str:
    for pattern, replacement in _INTAKE_FIELDS:
        if pattern.match(field):
            return pattern.sub(replacement, field)
    return field


def find_any(*, session: Session, subject_request_id: str) -> Request | None:
    return session.scalar(select(Request).where(Request.opendsr_id == subject_request_id))


def find(*, session: Session, subject_request_id: str, controller_id: str | None) -> Request:
    """The controller's own request: another controller's is as good as absent to it."""
    request = find_any(session=session, subject_request_id=subject_request_id)
    if request is None or request.created_by != controller_id:
        raise NotFound("OpenDSR request", subject_request_id)
    return request


def cancel(*, session: Session, request: Request, actor: Actor, now: dt.datetime) -> None:
    """The spec lets a controller cancel only while the request is pending."""
    current = request_status(request.status)
    if current != PENDING:
        raise OpenDsrRejected(
            "subject_request_id",
            f"only a pending request can be cancelled; this one is {current}",
            reason="not_pending",
        )
    workflow.cancel(
        session=session,
        request=request,
        actor=actor,
        reason="Cancelled by the controller (OpenDSR).",
        context=None,
        now=now,
    )


def created_body(request: Request, *, encoded_request: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "controller_id": request.created_by,
        "expected_completion_time": rfc3339(expected_completion(request)),
        "received_time": rfc3339(now),
        "encoded_request": encoded_request,
        "subject_request_id": request.opendsr_id,
    }


def status_body(request: Request) -> dict[str, Any]:
    return {
        "controller_id": request.created_by,
        "expected_completion_time": rfc3339(expected_completion(request)),
        "subject_request_id": request.opendsr_id,
        "request_status": request_status(request.status),
        "api_version": API_VERSION,
    }


def cancelled_body(request: Request, *, now: dt.datetime) -> dict[str, Any]:
    return {
        "controller_id": request.created_by,
        "subject_request_id": request.opendsr_id,
        "received_time": rfc3339(now),
        "api_version": API_VERSION,
    }


def callback_body(request: Request, *, url: str, status: str) -> dict[str, Any]:
    """What a callback announces: `status` is the one the change led to, not the latest."""
    return {
        "controller_id": request.created_by,
        "expected_completion_time": rfc3339(expected_completion(request)),
        "status_callback_url": url,
        "subject_request_id": request.opendsr_id,
        "request_status": request_status(status),
    }
