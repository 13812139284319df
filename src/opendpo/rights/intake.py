"""Receiving a request, by any route: the privacy centre, the API, OpenDSR, or staff logging a
call, email or letter.

Intake never looks anyone up: what comes back for a known person and for a stranger is the
same, because nothing about either is read until an identity is verified.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights.kinds import (
    POLICY_RIGHT,
    STAFF_CHANNELS,
    ObjectionGround,
    RequestChannel,
    RequestKind,
    RequestStatus,
)
from opendpo.rights.letters import Letter, LetterContext
from opendpo.rights.records import Request, RequestIdentity
from opendpo.rights.timeline import add_event
from opendpo.rights.verification import identity_verified, issue_code
from opendpo.rights.workflow import MAX_TEXT, move
from opendpo.security.audit import Actor
from opendpo.security.keyring import Keyring
from opendpo.subjects.identities import IdentityKind, normalise

MAX_IDENTITIES = 5
# Crockford's base32 without look-alikes: read out on the phone without spelling mistakes.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# The fields a request may carry besides identities, per kind; `True`: required.
COMMON_FIELDS = {"name": False, "description": False}
KIND_FIELDS: dict[RequestKind, dict[str, bool]] = {
    RequestKind.RECTIFICATION: {"corrections": True},
    RequestKind.OBJECTION: {"ground": True},
    RequestKind.PORTABILITY: {"destination": False},
    RequestKind.HUMAN_REVIEW: {"decision": True},
    RequestKind.COMPLAINT: {"complaint": True},
    RequestKind.CONSENT_WITHDRAWAL: {"purposes": False},
    RequestKind.RESTRICTION: {"grounds": False},
}


def parse_kind(value: str, policy: PolicyDocument, *, field: str = "kind") -> RequestKind:
    try:
        kind = RequestKind(value)
    except ValueError:
        choices = ", ".join(k.value for k in RequestKind)
        raise InvalidValue(field, f"'{value}' is not a request kind ({choices})") from None
    right = POLICY_RIGHT[kind]
    offered = {r.key for r in policy.rights.available}
    if right is not None and right not in offered:
        raise InvalidValue(field, f"the notice does not offer the right '{right}'")
    return kind


def parse_identities(
    identities: Sequence[tuple[str, str]], *, field: str = "identities"
) -> list[tuple[IdentityKind, str]]:
    """Each identity in its normal form; errors name `identities[i].kind` or `.value`."""
    if not identities:
        raise InvalidValue(field, "give at least one way to identify you (an email address)")
    if len(identities) > MAX_IDENTITIES:
        raise InvalidValue(field, f"give at most {MAX_IDENTITIES} identities")
    parsed: list[tuple[IdentityKind, str]] = []
    for position, (kind, value) in enumerate(identities):
        name = f"{field}[{position}]"
        try:
            known = IdentityKind(kind)
        except ValueError:
            choices = ", ".join(k.value for k in IdentityKind)
            raise InvalidValue(
                f"{name}.kind", f"'{kind}' is not an identity kind ({choices})"
            ) from None
        normal = normalise(known, value, field=f"{name}.value")
        if (known, normal) not in parsed:
            parsed.append((known, normal))
    return parsed


def parse_details(kind: RequestKind, details: Mapping[str, Any]) -> dict[str, str]:
    allowed = {**COMMON_FIELDS, **KIND_FIELDS.get(kind, {})}
    clean: dict[str, str] = {}
    for key, value in details.items():
        if key not in allowed:
            raise InvalidValue(f"details.{key}", f"not a field of a {kind.value} request")
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidValue(f"details.{key}", "must be text")
        value = value.strip()
        if len(value) > MAX_TEXT:
            raise InvalidValue(f"details.{key}", f"must be at most {MAX_TEXT} characters")
        if value:
            clean[key] = value
    for key, required in allowed.items():
        if required and key not in clean:
            raise InvalidValue(f"details.{key}", "is required for this kind of request")
    if "ground" in clean:
        try:
            ObjectionGround(clean["ground"])
        except ValueError:
            choices = ", ".join(g.value for g in ObjectionGround)
            raise InvalidValue("details.ground", f"choose one of {choices}") from None
    if "destination" in clean and not clean["destination"].startswith("https://"):
        raise InvalidValue("details.destination", "must be an https:// address")
    return clean


def new_reference(session: Session) -> str:
    while True:
        reference = "R-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
        if session.scalar(select(Request.id).where(Request.reference == reference)) is None:
            return reference


def submit_request(
    *,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    kind: str,
    identities: Sequence[tuple[str, str]],
    details: Mapping[str, Any],
    channel: RequestChannel | str,
    actor: Actor,
    context: LetterContext,
    verified_evidence: str | None = None,
    evidence: Mapping[str, Any] | None = None,
    authority_on: dt.date | None = None,
    received_at: dt.datetime | None = None,
    opendsr_id: str | None = None,
    callback_urls: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> tuple[Request, list[Letter]]:
    """A new request and the letters it owes (codes to each email, or the acknowledgement).

    `verified_evidence`: the caller (staff, an API system, an OpenDSR controller) vouches for
    every identity and says how; otherwise each email identity gets a code. Staff-logged
    channels need `evidence` of how the request arrived (the call, email or letter).
    """
    moment = now or dt.datetime.now(dt.UTC)
    chosen = parse_kind(kind, policy)
    parsed = parse_identities(identities)
    clean = parse_details(chosen, details)
    try:
        route = RequestChannel(channel)
    except ValueError:
        choices = ", ".join(c.value for c in RequestChannel)
        raise InvalidValue("channel", f"'{channel}' is not a channel ({choices})") from None
    if route in STAFF_CHANNELS and not evidence:
        raise InvalidValue("evidence", "say how the request arrived (call, email or letter)")
    if verified_evidence is not None and not verified_evidence.strip():
        raise InvalidValue("verified_evidence", "say how the identities were confirmed")
    if verified_evidence is None and not any(k is IdentityKind.EMAIL for k, _ in parsed):
        raise InvalidValue(
            "identities", "give an email address: we send a code there to confirm it is yours"
        )
    request = Request(
        id=str(uuid.uuid4()),
        reference=new_reference(session),
        kind=chosen.value,
        status=RequestStatus.RECEIVED.value,
        channel=route.value,
        received_at=received_at or moment,
        authority_on=authority_on,
        details=clean,
        evidence=dict(evidence) if evidence else None,
        created_by=actor.id,
        opendsr_id=opendsr_id,
        callback_urls=list(callback_urls),
        updated_at=moment,
    )
    for identity_kind, normal in parsed:
        request.identities.append(
            RequestIdentity(
                kind=identity_kind.value,
                value=normal,
                blind_index=keyring.blind_index(identity_kind.value, normal),
            )
        )
    session.add(request)
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="received",
        to_status=RequestStatus.RECEIVED.value,
        data={"channel": route.value, "identities": [k.value for k, _ in parsed]},
        public=True,
        now=moment,
    )
    session.flush()
    if verified_evidence is not None:
        letters: list[Letter] = []
        for identity in request.identities:
            letters = identity_verified(
                session=session,
                request=request,
                identity=identity,
                actor=actor,
                verified_by=actor.id or actor.kind.value,
                evidence=verified_evidence.strip(),
                context=context,
                now=moment,
            )
        return request, letters
    move(
        session=session,
        request=request,
        to=RequestStatus.AWAITING_VERIFICATION,
        actor=actor,
        now=moment,
    )
    letters = [
        issue_code(
            session=session,
            keyring=keyring,
            request=request,
            identity=identity,
            actor=actor,
            context=context,
            now=moment,
        )
        for identity in request.identities
        if identity.kind == IdentityKind.EMAIL.value
    ]
    return request, letters
