"""Applied policies, versioned in the store: each apply that changes something adds a version."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, defer, mapped_column

from opendpo.policy.diff import PolicyDiff, diff_documents
from opendpo.policy.model.document import PolicyDocument
from opendpo.store.base import Base


class PolicyVersion(Base):
    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    notice_version: Mapped[str] = mapped_column(String(40))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(500))
    applied_by: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    def policy(self) -> PolicyDocument:
        return PolicyDocument.model_validate(self.document)


@dataclass(frozen=True)
class ApplyResult:
    version: PolicyVersion
    created: bool
    diff: PolicyDiff


def document_json(document: PolicyDocument) -> dict[str, Any]:
    data: dict[str, Any] = document.model_dump(mode="json", exclude_none=True)
    return data


def digest_of(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def current_version(*, session: Session) -> PolicyVersion | None:
    # The document (tens of kilobytes of JSON) loads only when asked for: most callers need
    # the digest, to find the parsed policy in a cache, and the number.
    return session.scalars(
        select(PolicyVersion)
        .options(defer(PolicyVersion.document))
        .order_by(PolicyVersion.number.desc())
        .limit(1)
    ).first()


def list_versions(*, session: Session) -> list[PolicyVersion]:
    return list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.number)))


def diff_against_current(*, session: Session, document: PolicyDocument) -> PolicyDiff:
    current = current_version(session=session)
    before = current.document if current else None
    return diff_documents(before, document_json(document))


def apply_policy(
    *, session: Session, document: PolicyDocument, source: str, applied_by: str
) -> ApplyResult:
    """Store `document` as the new current policy, unless it is identical to the current one."""
    data = document_json(document)
    digest = digest_of(data)
    current = current_version(session=session)
    diff = diff_documents(current.document if current else None, data)
    if current is not None and current.digest == digest:
        return ApplyResult(current, created=False, diff=diff)
    version = PolicyVersion(
        number=(current.number + 1) if current else 1,
        digest=digest,
        notice_version=document.notice.version,
        document=data,
        source=source[:500],
        applied_by=applied_by[:200],
    )
    session.add(version)
    session.flush()
    return ApplyResult(version, created=True, diff=diff)
