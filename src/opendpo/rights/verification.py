"""Proving each identity of a request: a 6-digit code by email, or staff with evidence.

Each identity is verified on its own: a code sent to an email address verifies that address
and nothing else. Only when every identity given is verified does the request become
verified, the clock start and the person on file (if any) get linked. Until then nothing
about who is on file is looked at, so nothing can leak.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.errors import DomainError, InvalidValue
from opendpo.rights import objection
from opendpo.rights.clock import start_clock
from opendpo.rights.kinds import CLOSED, RequestKind, RequestStatus
from opendpo.rights.letters import Letter, LetterContext, render
from opendpo.rights.records import Request, RequestIdentity
from opendpo.rights.timeline import add_event
from opendpo.rights.workflow import contact_email, move
from opendpo.security.audit import Actor, as_utc
from opendpo.security.keyring import Keyring
from opendpo.store.encrypted import keyring_of
from opendpo.subjects.identities import IdentityKind
from opendpo.subjects.people import Identity

CODE_DIGITS = 6
CODE_LIFETIME = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 5  # wrong codes before a code stops working: 5 in a million to guess
MAX_SENDS = 5  # codes per identity, ever: more is someone else's mailbox being flooded
RESEND_AFTER = dt.timedelta(seconds=60)


class CodeRejected(DomainError):
    """One message for every failure: wrong, expired, used up or never sent."""

    code = "code_rejected"

    def __init__(self) -> None:
        super().__init__(
            "That code is not right or has expired. Check the latest email we sent, "
            "or ask for a new code."
        )


class CodeNotSent(DomainError):
    code = "code_not_sent"

    def __init__(self, message: str) -> None:
        super().__init__(message)


def _code_hash(keyring: Keyring, identity_id: int, code: str) -> str:
    key = keyring.derived_key("request-codes")
    return hmac.new(key, f"{identity_id}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_code(
    *,
    session: Session,
    keyring: Keyring,
    request: Request,
    identity: RequestIdentity,
    actor: Actor,
    context: LetterContext,
    now: dt.datetime | None = None,
) -> Letter:
    """A new code for an email identity (the old one stops working), as the letter to send."""
    moment = now or dt.datetime.now(dt.UTC)
    if identity.kind != IdentityKind.EMAIL.value:
        raise InvalidValue("identity", "codes are sent to email addresses only")
    if identity.verified_at is not None or RequestStatus(request.status) in CLOSED:
        raise CodeNotSent("This address is already confirmed, or the request is closed.")
    if identity.codes_sent >= MAX_SENDS:
        raise CodeNotSent(
            "We have sent as many codes as we can. Contact us to confirm your identity."
        )
    if identity.code_sent_at is not None and moment - as_utc(identity.code_sent_at) < RESEND_AFTER:
        raise CodeNotSent("We sent a code a moment ago. Wait a minute before asking again.")
    session.flush()  # the identity needs its id before the code is bound to it
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    identity.code_hash = _code_hash(keyring, identity.id, code)
    identity.code_expires_at = moment + CODE_LIFETIME
    identity.code_attempts = 0
    identity.codes_sent += 1
    identity.code_sent_at = moment
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="code_sent",
        data={"identity": identity.id, "sends": identity.codes_sent},
        now=moment,
    )
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    return render(
        "code", to=identity.value, request=request, context=context, code=code, minutes=minutes
    )


def check_code(
    *,
    session: Session,
    keyring: Keyring,
    request: Request,
    code: str,
    actor: Actor,
    context: LetterContext,
    now: dt.datetime | None = None,
) -> list[Letter]:
    """Verify the email identity whose live code this is; CodeRejected otherwise."""
    moment = now or dt.datetime.now(dt.UTC)
    code = "".join(code.split())
    live = [
        identity
        for identity in request.identities
        if identity.verified_at is None
        and identity.code_hash is not None
        and identity.code_expires_at is not None
        and as_utc(identity.code_expires_at) > moment
        and identity.code_attempts < MAX_ATTEMPTS
    ]
    if RequestStatus(request.status) in CLOSED or not live:
        raise CodeRejected()
    for identity in live:
        if len(code) == CODE_DIGITS and hmac.compare_digest(
            identity.code_hash or "", _code_hash(keyring, identity.id, code)
        ):
            identity.code_hash = None  # used once
            return identity_verified(
                session=session,
                request=request,
                identity=identity,
                actor=actor,
                verified_by="code",
                evidence=None,
                context=context,
                now=moment,
            )
    for identity in live:
        identity.code_attempts += 1
    add_event(session=session, request=request, actor=actor, kind="code_rejected", now=moment)
    raise CodeRejected()


def verify_by_staff(
    *,
    session: Session,
    request: Request,
    identity_id: int,
    actor: Actor,
    evidence: str,
    context: LetterContext,
    now: dt.datetime | None = None,
) -> list[Letter]:
    """A staff member vouches for one identity, saying how (documents seen, call-back made)."""
    evidence = evidence.strip()
    if not evidence:
        raise InvalidValue("evidence", "say how the identity was confirmed")
    identity = next((i for i in request.identities if i.id == identity_id), None)
    if identity is None:
        raise InvalidValue("identity", f"request {request.reference} has no identity {identity_id}")
    if identity.verified_at is not None:
        raise InvalidValue("identity", "this identity is already verified")
    return identity_verified(
        session=session,
        request=request,
        identity=identity,
        actor=actor,
        verified_by=actor.id or actor.kind.value,
        evidence=evidence,
        context=context,
        now=now or dt.datetime.now(dt.UTC),
    )


def identity_verified(
    *,
    session: Session,
    request: Request,
    identity: RequestIdentity,
    actor: Actor,
    verified_by: str,
    evidence: str | None,
    context: LetterContext,
    now: dt.datetime,
) -> list[Letter]:
    identity.verified_at = now
    identity.verified_by = verified_by[:40]
    identity.evidence = evidence
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="identity_verified",
        data={"identity": identity.id, "kind": identity.kind, "by": identity.verified_by},
        now=now,
    )
    if any(i.verified_at is None for i in request.identities):
        return []
    return _request_verified(
        session=session, request=request, actor=actor, context=context, now=now
    )


def _request_verified(
    *, session: Session, request: Request, actor: Actor, context: LetterContext, now: dt.datetime
) -> list[Letter]:
    move(
        session=session,
        request=request,
        to=RequestStatus.VERIFIED,
        actor=actor,
        message="Identity confirmed.",
        now=now,
    )
    start_clock(request, verified_at=now)
    link_person(session=session, request=request, actor=actor, now=now)
    link_duplicates(session=session, request=request, actor=actor, now=now)
    objection.on_verified(
        session=session,
        # The store's own keys (blind indexes for the suppression list): every caller's.
        keyring=keyring_of(session.get_bind().dialect),
        request=request,
        policy=context.policy,
        actor=actor,
        now=now,
    )
    to = contact_email(request)
    if to is None:
        return []
    request.acknowledged_at = now
    template = (
        "complaint_acknowledgement"
        if request.kind == RequestKind.COMPLAINT.value
        else "acknowledgement"
    )
    return [render(template, to=to, request=request, context=context)]


def link_person(*, session: Session, request: Request, actor: Actor, now: dt.datetime) -> None:
    """Point the request at the person on file its verified identities belong to, if any."""
    found: list[str] = []
    for identity in request.identities:
        person_id = session.scalar(
            select(Identity.person_id).where(
                Identity.kind == identity.kind, Identity.blind_index == identity.blind_index
            )
        )
        if person_id is not None and person_id not in found:
            found.append(person_id)
    if not found:
        return
    request.person_id = found[0]
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="person_linked",
        data={"person": found[0], "other_records": found[1:]},
        message=(
            "The identities belong to more than one record on file: check before acting."
            if len(found) > 1
            else None
        ),
        now=now,
    )


def link_duplicates(*, session: Session, request: Request, actor: Actor, now: dt.datetime) -> None:
    """Link an earlier open request of the same kind from the same verified identities."""
    indexes = [(i.kind, i.blind_index) for i in request.identities]
    earlier = session.scalars(
        select(Request)
        .join(RequestIdentity, RequestIdentity.request_id == Request.id)
        .where(
            Request.id != request.id,
            Request.kind == request.kind,
            Request.status.in_([s.value for s in RequestStatus if s not in CLOSED]),
            Request.received_at <= request.received_at,
            RequestIdentity.verified_at.is_not(None),
            RequestIdentity.blind_index.in_([index for _, index in indexes]),
        )
        .order_by(Request.received_at)
    ).unique()
    for other in earlier:
        if any((i.kind, i.blind_index) in indexes for i in other.identities if i.verified_at):
            request.duplicate_of = other.duplicate_of or other.id
            for target, text in (
                (request, f"Same person and right as open request {other.reference}."),
                (other, f"The same person asked again: request {request.reference}."),
            ):
                add_event(
                    session=session,
                    request=target,
                    actor=actor,
                    kind="duplicate_linked",
                    message=text,
                    now=now,
                )
            return
