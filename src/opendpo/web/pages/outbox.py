"""The outbox: with no mail server configured (the embedded default and the demo), every
email OpenDPO sends is written to a folder, and staff read it here: the codes and letters a
person would have received.

Messages carry personal data (addresses, codes, responses), so reading one is audited, and
the page is for staff who work requests. With a mail server configured there is no outbox.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

from opendpo.errors import NotFound
from opendpo.mail.sender import outbox_messages
from opendpo.web.auth import record_audit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.pages.request_queue import RequestsWriter

router = APIRouter(prefix="/console", include_in_schema=False)

SHOWN = 200  # the newest messages; older ones stay in the folder
MESSAGE_NAME = re.compile(r"[0-9a-f]{32}\.eml")


@dataclass(frozen=True)
class Sent:
    name: str
    to: str
    subject: str
    date: str


def _read(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if isinstance(part, EmailMessage) else ""


@router.get("/outbox", name="console_outbox")
def outbox(request: Request, auth: RequestsWriter, state: StateDep) -> Response:
    settings = state.settings
    messages = []
    if not settings.smtp_host:
        for path in outbox_messages(settings.outbox_path)[:SHOWN]:
            message = _read(path)
            messages.append(
                Sent(path.name, str(message["To"]), str(message["Subject"]), str(message["Date"]))
            )
    context = {
        "page": "outbox",
        "smtp_host": settings.smtp_host,
        "folder": settings.outbox_path,
        "messages": messages,
    }
    return state.templates.TemplateResponse(request, "console/outbox.html", context)


@router.get("/outbox/{name}", name="console_outbox_message")
def outbox_message(
    request: Request, name: str, auth: RequestsWriter, state: StateDep, session: SessionDep
) -> Response:
    settings = state.settings
    # Only a name the folder listing could show: never a path of the caller's choosing.
    path = settings.outbox_path / name
    if settings.smtp_host or not MESSAGE_NAME.fullmatch(name) or not path.is_file():
        raise NotFound("message", name)
    message = _read(path)
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="outbox.viewed",
        target_kind="message",
        target_id=name,
    )
    session.commit()
    context = {
        "page": "outbox",
        "sent": Sent(name, str(message["To"]), str(message["Subject"]), str(message["Date"])),
        "body": _body(message),
    }
    return state.templates.TemplateResponse(request, "console/outbox_message.html", context)
