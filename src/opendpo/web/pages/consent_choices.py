"""What the public consent forms ask, in the policy's own words, and what a person answered.

Each consent purpose is asked once per channel it covers ("marketing by email", "by post"),
each cookie category that needs consent or allows objection once. The label a person sees is
the text recorded with their answer, so the ledger holds exactly what they were shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request

from opendpo.consent.ledger import (
    Channel,
    CollectionMethod,
    ConsentState,
    CurrentConsent,
    Proof,
    current_for_person,
)
from opendpo.consent.service import wording_for
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.audit import as_utc
from opendpo.web.auth import client_address
from opendpo.web.gpc import honoured_categories

CHANNEL_PHRASES = {
    Channel.EMAIL: "by email",
    Channel.PHONE: "by phone",
    Channel.SMS: "by text message",
    Channel.POST: "by post",
    Channel.IN_PERSON: "in person",
}


class Answer(StrEnum):
    YES = "yes"
    NO = "no"


@dataclass(frozen=True)
class Choice:
    """One question: a purpose on one channel, or a cookie category."""

    purpose: str
    channel: Channel
    title: str
    label: str  # shown beside the box and recorded as the wording
    cookie_consent: str | None = None  # "required" or "objection" for cookie categories

    @property
    def key(self) -> str:
        """The form field's name, also usable as an HTML id."""
        return f"{self.channel.value}--{self.purpose}"


def consent_choices(policy: PolicyDocument) -> list[Choice]:
    """Every purpose resting on consent, once per channel its terms cover."""
    choices = []
    for purpose in policy.purposes:
        if purpose.lawful_basis != "consent" or purpose.consent is None:
            continue
        for name in purpose.consent.channels:
            channel = Channel(name)
            wording = wording_for(policy, purpose=purpose.key, channel=channel)
            label = f"{wording} ({CHANNEL_PHRASES.get(channel, channel.value)})"
            choices.append(Choice(purpose.key, channel, purpose.name, label))
    return choices


def cookie_choices(policy: PolicyDocument) -> list[Choice]:
    """Every cookie category a person may say yes or no to (not the strictly necessary)."""
    if policy.cookies is None:
        return []
    return [
        Choice(
            category.key,
            Channel.COOKIE,
            category.name,
            wording_for(policy, purpose=category.key, channel=Channel.COOKIE),
            category.consent,
        )
        for category in policy.cookies.categories
        if category.consent != "not_required"
    ]


@dataclass(frozen=True)
class Preference:
    """One question with the person's current answer, as the preference centre shows it."""

    choice: Choice
    state: str | None  # the latest record's state, None if never asked
    since: dt.datetime | None
    ask_again: str | None  # why an earlier "yes" no longer counts: renewal or lapse
    gpc: bool  # the browser's Global Privacy Control stands in for an answer
    shown: Answer | None  # the answer selected when the page opens

    @property
    def status(self) -> str:
        if self.ask_again:
            return self.ask_again
        if self.state == ConsentState.GIVEN:
            return "You said yes."
        if self.state in (ConsentState.WITHDRAWN, ConsentState.REFUSED):
            return "You said no."
        if self.gpc:
            return "Your browser sends Global Privacy Control, which we treat as no."
        if self.choice.cookie_consent == "objection":
            return "On, unless you say no."
        return "Not asked yet."


def _preference(
    choice: Choice, current: CurrentConsent | None, *, gpc: bool, now: dt.datetime
) -> Preference:
    state = current.state if current else None
    ask_again = None
    if current is not None and state == ConsentState.GIVEN:
        if current.needs_renewal:
            ask_again = "We have changed what this covers since you said yes: please answer again."
        elif current.expires_at is not None and as_utc(current.expires_at) <= now:
            ask_again = "Your earlier yes has lapsed: please answer again."
    shown: Answer | None
    if ask_again:
        shown = None  # never a pre-selected yes to words the person has not agreed to
    elif state == ConsentState.GIVEN:
        shown = Answer.YES
    elif state is not None or gpc:
        shown = Answer.NO  # a refusal or withdrawal on file, or the browser's signal
    elif choice.cookie_consent == "objection":
        shown = Answer.YES  # PECR's analytics exception: on until the person objects
    else:
        shown = None
    return Preference(choice, state, as_utc(current.at) if current else None, ask_again, gpc, shown)


def preferences_for(
    *,
    session: Session,
    policy: PolicyDocument,
    person_id: str,
    gpc: bool,
    now: dt.datetime | None = None,
) -> list[Preference]:
    """The person's answer to every question the policy asks, consent purposes first."""
    moment = now or dt.datetime.now(dt.UTC)
    current = {
        (c.purpose, c.channel): c for c in current_for_person(session=session, person_id=person_id)
    }
    signalled = {c.key for c in honoured_categories(policy)} if gpc else set()
    return [
        _preference(
            choice,
            current.get((choice.purpose, choice.channel.value)),
            gpc=choice.purpose in signalled and choice.channel is Channel.COOKIE,
            now=moment,
        )
        for choice in consent_choices(policy) + cookie_choices(policy)
    ]


def changes(
    preferences: list[Preference], submitted: Mapping[str, str]
) -> list[tuple[Choice, ConsentState]]:
    """What to record for a submitted form: one record per answer that changed.

    Yes becomes `given`; no becomes `withdrawn` where the person had said yes, else `refused`.
    An unanswered question, or an answer as the page showed it, records nothing.
    """
    found = []
    for preference in preferences:
        answer = submitted.get(preference.choice.key)
        if answer not in (Answer.YES, Answer.NO) or answer == preference.shown:
            continue
        if answer == Answer.YES:
            state = ConsentState.GIVEN
        elif preference.state == ConsentState.GIVEN:
            state = ConsentState.WITHDRAWN
        else:
            state = ConsentState.REFUSED
        found.append((preference.choice, state))
    return found


def request_proof(
    request: Request, *, method: CollectionMethod, source: str, **evidence: Any
) -> Proof:
    """The proof a web form leaves: where, from which address and browser, and what else."""
    return Proof(
        method=method,
        source=source,
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        evidence=evidence or None,
    )
