"""Consent over the API: record a consent from a system or a staff member, read a person's
preferences and history, and issue receipts.

Recording goes through opendpo.consent.service like every other entry point; the request is
one transaction, so a refused value leaves no person, record or chain entry behind. Audit
details name the purpose, channel and state, never an identity.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator

from opendpo.consent.ledger import (
    Channel,
    CollectionMethod,
    ConsentRecord,
    ConsentState,
    CurrentConsent,
    Proof,
    current_for_person,
    history_for_person,
)
from opendpo.consent.receipt_mail import email_of, send_receipt
from opendpo.consent.receipts import receipt_for
from opendpo.consent.service import record_consent
from opendpo.errors import InvalidValue
from opendpo.security.audit import ActorKind, as_utc
from opendpo.security.roles import Permission
from opendpo.security.staff import get_user_by_id
from opendpo.subjects.identities import normalise
from opendpo.subjects.people import Subscriber, get_person
from opendpo.web.api.people import PERSON_TARGET, IdentityCreate
from opendpo.web.auth import Auth, PeopleReader, Permit, record_audit
from opendpo.web.dependencies import PolicyDep, PolicyVersionDep, SessionDep, StateDep

router = APIRouter(tags=["consent"])

RECORD_TARGET = "consent_record"
ConsentWriter = Annotated[Auth, Depends(Permit(Permission.CONSENT_WRITE))]
PeopleWriter = Annotated[Auth, Depends(Permit(Permission.PEOPLE_WRITE))]
MAX_EVIDENCE_KEYS = 20
# Clocks of connected systems drift; a minute ahead is a clock, not a future consent.
CLOCK_SKEW = dt.timedelta(minutes=1)


class ApiMethod(StrEnum):
    """How the consent was collected, as a system or staff member may report it. Forms,
    the preference centre and unsubscribe links record their own, with the request's proof."""

    API = CollectionMethod.API.value
    IMPORT = CollectionMethod.IMPORT.value
    PHONE = CollectionMethod.PHONE.value
    PAPER = CollectionMethod.PAPER.value
    EMAIL = CollectionMethod.EMAIL.value
    WEB_FORM = CollectionMethod.WEB_FORM.value


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identities: Annotated[list[IdentityCreate], Field(min_length=1, max_length=20)]
    name: Annotated[str | None, Field(max_length=200)] = None
    subscriber: Subscriber | None = None
    purpose: Annotated[str, Field(min_length=1, max_length=120)]
    channel: Channel
    state: ConsentState
    method: ApiMethod
    source: Annotated[str | None, Field(max_length=300)] = None
    evidence: dict[str, Any] | None = Field(
        default=None, description="Call notes, the form's reference…: required for phone, paper"
    )
    staff_id: Annotated[str | None, Field(max_length=36)] = Field(
        default=None, description="The staff member who took it; a staff session is itself."
    )
    at: dt.datetime | None = Field(default=None, description="When it was given; not later.")

    @field_validator("evidence")
    @classmethod
    def _small_evidence(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(value) > MAX_EVIDENCE_KEYS:
            raise ValueError(f"at most {MAX_EVIDENCE_KEYS} entries")
        return value

    @field_validator("at")
    @classmethod
    def _not_in_future(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        if moment > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
            raise ValueError("must not be in the future")
        return moment


class PreferencePublic(BaseModel):
    purpose: str
    channel: str
    state: str
    at: dt.datetime
    expires_at: dt.datetime | None
    needs_renewal: bool
    policy_version: int
    record_seq: int


class ConsentRecordPublic(BaseModel):
    id: str
    seq: int
    person_id: str
    purpose: str
    channel: str
    state: str
    at: dt.datetime
    expires_at: dt.datetime | None
    method: str
    source: str | None
    staff_id: str | None
    api_key_id: str | None
    notice_version: str
    policy_version: int
    wording: str | None


class ConsentRecorded(BaseModel):
    record: ConsentRecordPublic
    current: PreferencePublic


class ConsentProofPublic(ConsentRecordPublic):
    """A record with all of its proof: only for those who may read personal data."""

    client_address: str | None
    user_agent: str | None
    evidence: dict[str, Any] | None
    hash: str


class PersonConsentPublic(BaseModel):
    person_id: str
    preferences: list[PreferencePublic]
    history: list[ConsentProofPublic]  # newest first


class ReceiptSent(BaseModel):
    record_id: str
    sent: bool


def preference_public(current: CurrentConsent) -> PreferencePublic:
    return PreferencePublic(
        purpose=current.purpose,
        channel=current.channel,
        state=current.state,
        at=as_utc(current.at),
        expires_at=as_utc(current.expires_at) if current.expires_at else None,
        needs_renewal=current.needs_renewal,
        policy_version=current.policy_version,
        record_seq=current.record_seq,
    )


def _record_fields(record: ConsentRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "seq": record.seq,
        "person_id": record.person_id,
        "purpose": record.purpose,
        "channel": record.channel,
        "state": record.state,
        "at": as_utc(record.at),
        "expires_at": as_utc(record.expires_at) if record.expires_at else None,
        "method": record.method,
        "source": record.source,
        "staff_id": record.staff_id,
        "api_key_id": record.api_key_id,
        "notice_version": record.notice_version,
        "policy_version": record.policy_version,
        "wording": record.wording,
    }


def proof_public(record: ConsentRecord) -> ConsentProofPublic:
    return ConsentProofPublic(
        **_record_fields(record),
        client_address=record.client_address,
        user_agent=record.user_agent,
        evidence=record.evidence,
        hash=record.hash,
    )


def _staff_id(body: ConsentCreate, auth: Auth, session: SessionDep) -> str | None:
    if auth.user is not None:
        if body.staff_id is not None and body.staff_id != auth.user.id:
            raise InvalidValue("staff_id", "a signed-in staff member records consent as themselves")
        return auth.user.id
    if body.staff_id is not None and get_user_by_id(session=session, user_id=body.staff_id) is None:
        raise InvalidValue("staff_id", "no staff member has this id")
    return body.staff_id


@router.post(
    "/consent",
    response_model=ConsentRecorded,
    status_code=201,
    summary="Record a consent given, withdrawn or refused",
)
def consent_create(
    body: ConsentCreate,
    auth: ConsentWriter,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    version: PolicyVersionDep,
) -> ConsentRecorded:
    # Every identity is checked first, each error naming its place in the body.
    identities = [
        (item.kind.value, normalise(item.kind, item.value, field=f"identities.{index}.value"))
        for index, item in enumerate(body.identities)
    ]
    proof = Proof(
        method=CollectionMethod(body.method.value),
        source=body.source,
        staff_id=_staff_id(body, auth, session),
        api_key_id=auth.principal.id if auth.principal.kind is ActorKind.API_KEY else None,
        evidence=body.evidence,
    )
    person, record = record_consent(
        session=session,
        keyring=state.keyring,
        policy=policy,
        policy_version=version.number,
        identities=identities,
        purpose=body.purpose,
        channel=body.channel.value,
        state=body.state,
        proof=proof,
        name=(body.name or "").strip() or None,
        subscriber=body.subscriber,
        now=body.at,
    )
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="consent.recorded",
        target_kind=RECORD_TARGET,
        target_id=record.id,
        details={
            "person_id": person.id,
            "purpose": record.purpose,
            "channel": record.channel,
            "state": record.state,
            "method": record.method,
        },
    )
    current = session.get_one(CurrentConsent, (person.id, record.purpose, record.channel))
    result = ConsentRecorded(
        record=ConsentRecordPublic(**_record_fields(record)), current=preference_public(current)
    )
    session.commit()
    return result


@router.get(
    "/people/{person_id}/consent",
    response_model=PersonConsentPublic,
    summary="One person's current preferences and consent history",
)
def person_consent(
    auth: PeopleReader, state: StateDep, session: SessionDep, person_id: str
) -> PersonConsentPublic:
    person = get_person(session=session, person_id=person_id)
    preferences = current_for_person(session=session, person_id=person.id)
    history = history_for_person(session=session, person_id=person.id)
    result = PersonConsentPublic(
        person_id=person.id,
        preferences=[preference_public(current) for current in preferences],
        history=[proof_public(record) for record in history],
    )
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="person.consent_viewed",
        target_kind=PERSON_TARGET,
        target_id=person.id,
    )
    session.commit()  # the read is on the log before the values go out
    return result


@router.get(
    "/consent/{record_id}/receipt",
    summary="The consent receipt of one record (ISO/IEC TS 27560, Kantara v1.1 fields)",
)
def consent_receipt(
    auth: PeopleReader, state: StateDep, session: SessionDep, record_id: str
) -> dict[str, Any]:
    issued = receipt_for(session=session, settings=state.settings, record_id=record_id)
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="consent.receipt_viewed",
        target_kind=RECORD_TARGET,
        target_id=issued.record.id,
        details={"person_id": issued.person.id},
    )
    session.commit()
    return issued.document


@router.post(
    "/consent/{record_id}/receipt/send",
    response_model=ReceiptSent,
    summary="Email the receipt of one record to the person",
)
def consent_receipt_send(
    auth: PeopleWriter, state: StateDep, session: SessionDep, record_id: str
) -> ReceiptSent:
    issued = receipt_for(session=session, settings=state.settings, record_id=record_id)
    address = email_of(issued.person)
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="consent.receipt_sent",
        target_kind=RECORD_TARGET,
        target_id=issued.record.id,
        details={"person_id": issued.person.id},
    )
    # Sent before the commit: a message the mail server refused is not logged as sent.
    send_receipt(mailer=state.mailer, to=address, document=issued.document)
    session.commit()
    return ReceiptSent(record_id=issued.record.id, sent=True)
