"""Carrying out an objection (Art 21) where OpenDPO decides: flags and suppressions.

Direct marketing is absolute (Art 21(3)): every direct-marketing purpose is flagged for the
person, and each verified address is suppressed for those purposes on its channels, so the
refusal holds for an address OpenDPO has never seen and survives a later erasure. There is
nothing to weigh, so this happens the moment the request is verified (`on_verified`), not
when staff run the request across the systems. An objection on legitimate interests or
research is weighed first (Art 21(1), (6)): a request run on those grounds has been upheld
by staff, and the purposes resting on that ground are flagged. Staff may name the purposes
instead (request details, `purposes`). The systems' own do-not-contact flags are set by the
restrict phase (policy `restriction.flags` with `marks: objection`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from opendpo.consent.suppression import SuppressionReason, suppress
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights.kinds import ObjectionGround, RequestKind
from opendpo.rights.records import Request
from opendpo.rights.timeline import add_event
from opendpo.security.audit import Actor
from opendpo.security.keyring import Keyring
from opendpo.subjects.flags import FlagKind, active_flags, add_flag
from opendpo.subjects.people import find_or_create_person

# The channels on which each kind of identity is reached (and so suppressed).
CHANNELS = {"email": ("email",), "phone": ("phone", "sms")}


def objected_purposes(
    policy: PolicyDocument, ground: str, named: Sequence[str] | None = None
) -> list[str]:
    """The purposes an objection on `ground` covers, or those `named` (checked to exist)."""
    if named:
        known = {p.key for p in policy.purposes}
        unknown = [key for key in named if key not in known]
        if unknown:
            raise InvalidValue("details.purposes", f"unknown purpose '{unknown[0]}'")
        return list(named)
    try:
        chosen = ObjectionGround(ground)
    except ValueError:
        choices = ", ".join(g.value for g in ObjectionGround)
        raise InvalidValue("details.ground", f"choose one of {choices}") from None
    if chosen is ObjectionGround.DIRECT_MARKETING:
        return [p.key for p in policy.purposes if p.direct_marketing]
    if chosen is ObjectionGround.RESEARCH:
        return [p.key for p in policy.purposes if p.research]
    return [
        p.key for p in policy.purposes if p.lawful_basis in ("legitimate_interests", "public_task")
    ]


def objection_action(
    *, session: Session, keyring: Keyring, request: Request, policy: PolicyDocument
) -> tuple[str, Callable[[], None]]:
    """What carrying out the objection will do (a note for the report) and the deed itself,
    kept apart so the report can be stored before this session takes a write lock."""
    details = request.details or {}
    ground = str(details.get("ground", ObjectionGround.DIRECT_MARKETING.value))
    named = details.get("purposes")
    purposes = objected_purposes(policy, ground, named if isinstance(named, list) else None)
    identities = [(i.kind, i.value) for i in request.identities if i.verified_at is not None]
    already = set()
    if request.person_id is not None:
        already = {
            f.purpose
            for f in active_flags(session=session, person_id=request.person_id)
            if f.kind == FlagKind.OBJECTION.value
        }
    new = [p for p in purposes if p not in already]
    absolute = ground == ObjectionGround.DIRECT_MARKETING.value
    addresses = [(kind, value) for kind, value in identities if kind in CHANNELS]

    def act() -> None:
        if new and request.person_id is None:
            request.person_id = find_or_create_person(
                session=session, keyring=keyring, identities=identities
            ).id
        for purpose in new:
            assert request.person_id is not None
            add_flag(
                session=session,
                person_id=request.person_id,
                kind=FlagKind.OBJECTION,
                purpose=purpose,
                reason=f"objection ({ground.replace('_', ' ')}, Art 21)",
                source=request.id,
            )
        if not absolute:
            return
        for kind, value in addresses:
            for channel in CHANNELS[kind]:
                for purpose in purposes:
                    suppress(
                        session=session,
                        keyring=keyring,
                        kind=kind,
                        value=value,
                        channel=channel,
                        purpose=purpose,
                        reason=SuppressionReason.OBJECTION,
                        source=f"request {request.reference}",
                    )

    if not purposes:
        return "no purpose rests on that ground: nothing to flag", act
    note = f"objection recorded at the decision point for {', '.join(purposes)}"
    if absolute and addresses:
        note += f"; {len(addresses)} address(es) suppressed for direct marketing"
    return note, act


def on_verified(
    *,
    session: Session,
    keyring: Keyring,
    request: Request,
    policy: PolicyDocument,
    actor: Actor,
    now: dt.datetime,
) -> None:
    """A direct-marketing objection takes effect as its request is verified, in the same
    transaction; any other request, or ground, waits for staff."""
    if request.kind != RequestKind.OBJECTION.value:
        return
    details = request.details or {}
    if details.get("ground") != ObjectionGround.DIRECT_MARKETING.value:
        return
    note, act = objection_action(session=session, keyring=keyring, request=request, policy=policy)
    act()
    add_event(
        session=session,
        request=request,
        actor=actor,
        kind="objection_applied",
        message=f"Direct marketing stopped on verification (Art 21(3)): {note}.",
        now=now,
    )
