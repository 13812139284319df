"""The emails the public consent forms send: the opt-in confirmation and the preferences link.

Both carry a signed link to the person's preference centre, and both are sent after the
response, so that how long a mail server takes never tells a visitor whether an address is
known, and a mail server that is down never undoes a choice already recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from email.message import EmailMessage

from fastapi import BackgroundTasks

from opendpo.mail.sender import Mailer, MailNotSent
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.links import LINK_LIFETIMES
from opendpo.web.state import WebState

logger = logging.getLogger("opendpo.web.consent_mail")
LINK_DAYS = LINK_LIFETIMES["preferences"] // (24 * 3600)


def preferences_link(state: WebState, person_id: str) -> str:
    token = state.links.sign("preferences", {"p": person_id})
    return f"{state.settings.base_url.rstrip('/')}/preferences/{token}"


def _render(state: WebState, template: str, **context: object) -> str:
    return state.templates.env.get_template(f"privacy/emails/{template}").render(**context)


def send_quietly(sending: Callable[[], None]) -> None:
    """Run after the response: a refusal is logged (the server's answer, never the address)."""
    try:
        sending()
    except MailNotSent as exc:
        logger.error("a consent email was not sent: %s", exc.message)


def _send(mailer: Mailer, message: EmailMessage) -> None:
    send_quietly(lambda: mailer.send(message))


def send_confirmation(
    background: BackgroundTasks,
    state: WebState,
    policy: PolicyDocument,
    *,
    to: str,
    person_id: str,
    agreed: Sequence[str],
) -> None:
    """Tell the person what they agreed to, in the words they were shown, after the response."""
    text = _render(
        state,
        "subscribe_confirmation.txt",
        controller=policy.controller.display_name,
        agreed=agreed,
        link=preferences_link(state, person_id),
        lifetime_days=LINK_DAYS,
    )
    subject = f"You have opted in: {policy.controller.display_name}"
    message = state.mailer.new_message(to=to, subject=subject, text=text)
    background.add_task(_send, state.mailer, message)


def send_link(
    background: BackgroundTasks, state: WebState, policy: PolicyDocument, *, to: str, person_id: str
) -> None:
    """The preference centre link someone asked for, after the response."""
    text = _render(
        state,
        "preferences_link.txt",
        controller=policy.controller.display_name,
        link=preferences_link(state, person_id),
        lifetime_days=LINK_DAYS,
    )
    subject = f"Your privacy choices: {policy.controller.display_name}"
    message = state.mailer.new_message(to=to, subject=subject, text=text)
    background.add_task(_send, state.mailer, message)
