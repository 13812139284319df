"""People known to OpenDPO and their identities: values encrypted, found by blind index."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from opendpo.errors import DomainError, NotFound
from opendpo.security.keyring import Keyring
from opendpo.store.base import Base
from opendpo.store.encrypted import Encrypted
from opendpo.subjects.identities import IdentityKind, normalise


class Subscriber(StrEnum):
    INDIVIDUAL = "individual"
    CORPORATE = "corporate"
    UNKNOWN = "unknown"  # treated as an individual: the stricter rule applies


class Person(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(Encrypted("people.name"))
    # PECR: marketing emails and texts to individual subscribers (people, sole traders, most
    # partnerships) need consent; corporate subscribers may be emailed unless they object.
    subscriber: Mapped[str] = mapped_column(String(20), default="unknown")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", order_by="Identity.created_at", lazy="selectin"
    )


class Identity(Base):
    __tablename__ = "identities"
    # Covering on PostgreSQL (INCLUDE; other stores ignore it): the decision point finds an
    # address's person, and a person's addresses, from the indexes alone (migration 0006).
    __table_args__ = (
        UniqueConstraint("kind", "blind_index", postgresql_include=["person_id"]),
        Index("ix_identities_person_id", "person_id", "kind", postgresql_include=["blind_index"]),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Encrypted("identities.value"))
    blind_index: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    person: Mapped[Person] = relationship(back_populates="identities")


def find_identity(
    *, session: Session, keyring: Keyring, kind: IdentityKind | str, value: str
) -> Identity | None:
    normal = normalise(kind, value)
    index = keyring.blind_index(IdentityKind(kind).value, normal)
    return session.scalar(
        select(Identity).where(
            Identity.kind == IdentityKind(kind).value, Identity.blind_index == index
        )
    )


def find_person(
    *, session: Session, keyring: Keyring, kind: IdentityKind | str, value: str
) -> Person | None:
    identity = find_identity(session=session, keyring=keyring, kind=kind, value=value)
    return identity.person if identity is not None else None


def get_person(*, session: Session, person_id: str) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("person", person_id)
    return person


def add_identity(
    *,
    session: Session,
    keyring: Keyring,
    person: Person,
    kind: IdentityKind | str,
    value: str,
    now: dt.datetime | None = None,
) -> Identity:
    """Attach an identity; refuses one that already names somebody else."""
    kind = IdentityKind(kind)
    normal = normalise(kind, value)
    index = keyring.blind_index(kind.value, normal)
    existing = session.scalar(
        select(Identity).where(Identity.kind == kind.value, Identity.blind_index == index)
    )
    if existing is not None:
        if existing.person_id == person.id:
            return existing
        raise DomainError(f"this {kind.value} already belongs to another person")
    # Set through the relationship: appending to person.identities would first load the
    # collection, autoflushing this identity into it, and it would then be listed twice.
    identity = Identity(
        id=str(uuid.uuid4()),
        person=person,
        kind=kind.value,
        value=normal,
        blind_index=index,
        created_at=now or dt.datetime.now(dt.UTC),
    )
    session.add(identity)
    session.flush()
    return identity


def find_or_create_person(
    *,
    session: Session,
    keyring: Keyring,
    identities: Sequence[tuple[IdentityKind | str, str]],
    name: str | None = None,
    now: dt.datetime | None = None,
) -> Person:
    """The person any of these identities names, with the others attached; or a new person."""
    if not identities:
        raise DomainError("a person needs at least one identity")
    for kind, value in identities:
        normalise(kind, value)  # every value checked before anything is written
    person = None
    for kind, value in identities:
        person = find_person(session=session, keyring=keyring, kind=kind, value=value)
        if person is not None:
            break
    if person is None:
        person = Person(
            id=str(uuid.uuid4()),
            name=name,
            subscriber=Subscriber.UNKNOWN.value,
            created_at=now or dt.datetime.now(dt.UTC),
        )
        session.add(person)
        session.flush()
    elif name and not person.name:
        person.name = name
    for kind, value in identities:
        add_identity(
            session=session, keyring=keyring, person=person, kind=kind, value=value, now=now
        )
    return person
