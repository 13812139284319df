"""Letters to the person, rendered from the templates in `letters/` and sent by email.

A workflow step returns the letters it owes; the caller sends them once its transaction has
committed, so a letter never announces a change that was rolled back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from opendpo.mail.sender import Mailer
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights.kinds import (
    ICO_COMPLAINT,
    LABELS,
    REFUSAL_LABELS,
    STATUS_LABELS,
    RefusalReason,
    RequestKind,
    RequestStatus,
)
from opendpo.rights.records import Request
from opendpo.security.links import LinkSigner

STATUS_LINK = "request-status"


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    text: str
    template: str  # which letter, for the timeline


@dataclass(frozen=True)
class LetterContext:
    """What every letter needs besides the request: who writes, and where the person reads."""

    policy: PolicyDocument
    links: LinkSigner
    base_url: str

    def status_url(self, request: Request) -> str:
        token = self.links.sign(STATUS_LINK, {"request": request.id})
        return f"{self.base_url.rstrip('/')}/privacy-centre/requests/{token}"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain-text letters: nothing to escape, and a missing variable is a bug, not a blank.
    return Environment(
        loader=PackageLoader("opendpo.rights", "letters"),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    template: str, *, to: str, request: Request, context: LetterContext, **extra: Any
) -> Letter:
    """The letter `template` for this request; its first line is the subject."""
    controller = context.policy.controller
    text = (
        _environment()
        .get_template(f"{template}.txt")
        .render(
            request=request,
            reference=request.reference,
            kind_label=LABELS[RequestKind(request.kind)],
            status_label=STATUS_LABELS[RequestStatus(request.status)],
            controller=controller.display_name,
            dpo_email=controller.dpo.email,
            status_url=context.status_url(request),
            due_on=_long_date(request.due_on),
            ico=ICO_COMPLAINT,
            refusal=(
                REFUSAL_LABELS[RefusalReason(request.refusal_reason)]
                if request.refusal_reason
                else None
            ),
            **extra,
        )
    )
    subject, _, body = text.partition("\n")
    return Letter(to=to, subject=subject.strip(), text=body.lstrip("\n"), template=template)


def _long_date(day: dt.date | None) -> str | None:
    return f"{day.day} {day:%B %Y}" if day else None


def send(mailer: Mailer, letters: list[Letter]) -> None:
    """Send each letter; MailNotSent propagates, naming the failure (the change stands)."""
    for letter in letters:
        mailer.send(mailer.new_message(to=letter.to, subject=letter.subject, text=letter.text))
