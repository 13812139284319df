"""People over the API: read one person (audited), and record a person from a system.

Reading writes `person.viewed` to the audit log and commits it before the values go out.
Recording answers with the person's id only: a key that may write people but not read them
must not learn, by sending one identity, the name and other identities already held.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from opendpo.security.audit import as_utc
from opendpo.security.roles import Permission
from opendpo.subjects.identities import MAX_OPAQUE_LENGTH, IdentityKind, normalise
from opendpo.subjects.people import Person, find_or_create_person, find_person, get_person
from opendpo.web.auth import Auth, PeopleReader, Permit, record_audit
from opendpo.web.dependencies import SessionDep, StateDep

router = APIRouter(tags=["people"])

PERSON_TARGET = "person"
PeopleWriter = Annotated[Auth, Depends(Permit(Permission.PEOPLE_WRITE))]


class IdentityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: IdentityKind
    value: Annotated[str, Field(max_length=MAX_OPAQUE_LENGTH + 200)]


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(max_length=200)] = None
    identities: Annotated[list[IdentityCreate], Field(min_length=1, max_length=20)]


class IdentityPublic(BaseModel):
    id: str
    kind: IdentityKind
    value: str
    verified_at: dt.datetime | None
    created_at: dt.datetime


class PersonPublic(BaseModel):
    id: str
    name: str | None
    created_at: dt.datetime
    identities: list[IdentityPublic]


class PersonRef(BaseModel):
    id: str
    # False when the identities named a person already known; theirs were added to them.
    created: bool


def person_public(person: Person) -> PersonPublic:
    return PersonPublic(
        id=person.id,
        name=person.name,
        created_at=as_utc(person.created_at),
        identities=[
            IdentityPublic(
                id=identity.id,
                kind=IdentityKind(identity.kind),
                value=identity.value,
                verified_at=as_utc(identity.verified_at) if identity.verified_at else None,
                created_at=as_utc(identity.created_at),
            )
            for identity in person.identities
        ],
    )


@router.get("/people/{person_id}", response_model=PersonPublic, summary="One person")
def person_read(
    auth: PeopleReader, state: StateDep, session: SessionDep, person_id: str
) -> PersonPublic:
    person = get_person(session=session, person_id=person_id)
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="person.viewed",
        target_kind=PERSON_TARGET,
        target_id=person.id,
    )
    session.commit()
    return person_public(person)


@router.post(
    "/people",
    response_model=PersonRef,
    status_code=201,
    summary="Record a person, or add identities to the person they name",
    responses={200: {"model": PersonRef, "description": "The identities named a known person."}},
)
def person_create(
    body: PersonCreate, auth: PeopleWriter, state: StateDep, session: SessionDep, response: Response
) -> PersonRef:
    # Every value is checked first, each error naming its place in the body.
    identities = [
        (item.kind, normalise(item.kind, item.value, field=f"identities.{index}.value"))
        for index, item in enumerate(body.identities)
    ]
    known = any(
        find_person(session=session, keyring=state.keyring, kind=kind, value=value) is not None
        for kind, value in identities
    )
    name = (body.name or "").strip() or None
    person = find_or_create_person(
        session=session, keyring=state.keyring, identities=identities, name=name
    )
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="person.identities_added" if known else "person.created",
        target_kind=PERSON_TARGET,
        target_id=person.id,
        details={"identity_kinds": sorted({kind.value for kind, _ in identities})},
    )
    session.commit()
    if known:
        response.status_code = 200
    return PersonRef(id=person.id, created=not known)
