"""What the staff shells (console, API and CLI) share around the workflow: finding a request
by its id or reference, and sending a step's letters once its transaction has committed. The
queue itself is opendpo.rights.queue.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opendpo.errors import NotFound
from opendpo.mail.sender import Mailer, MailNotSent
from opendpo.rights import letters
from opendpo.rights.records import Request
from opendpo.rights.timeline import add_event
from opendpo.security.audit import Actor

logger = logging.getLogger("opendpo.rights")


def get_request(*, session: Session, key: str) -> Request:
    """A request by its id or its reference (R-XXXXXXXX, any case); NotFound otherwise."""
    key = key.strip()
    found = session.scalar(
        select(Request).where(or_(Request.id == key, Request.reference == key.upper()))
    )
    if found is None:
        raise NotFound("request", key)
    return found


def deliver(
    *,
    session: Session,
    mailer: Mailer,
    request: Request,
    sent: list[letters.Letter],
    actor: Actor,
) -> bool:
    """Send letters owed by a committed step. A refused message does not undo the step: it
    is written on the timeline (staff only) for staff to follow up, and False returned."""
    try:
        letters.send(mailer, sent)
    except (MailNotSent, OSError) as exc:
        logger.warning("a letter for request %s was not sent: %s", request.reference, exc)
        session.rollback()
        add_event(
            session=session,
            request=request,
            actor=actor,
            kind="letter_not_sent",
            data={"letters": [letter.template for letter in sent]},
            message=str(exc),
            now=dt.datetime.now(dt.UTC),
        )
        session.commit()
        return False
    return True
