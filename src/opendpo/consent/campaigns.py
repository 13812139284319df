"""Marketing campaigns: what each recipient's email must carry, and what an unsubscribe does.

Every prepared recipient gets a personal unsubscribe link, the RFC 8058 one-click headers and
a footer naming the sender. The link's signed token holds the blind index of the address
(never the address), the purpose and the channel: it is the only credential the one-click
POST needs, and what it unsubscribes from is fixed when the email is sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.consent.ledger import (
    Channel,
    CollectionMethod,
    ConsentState,
    CurrentConsent,
    Proof,
)
from opendpo.consent.service import record_consent
from opendpo.consent.suppression import Suppression, SuppressionReason
from opendpo.errors import DomainError, InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.security import audit
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.errors import LinkInvalid
from opendpo.security.keyring import Keyring
from opendpo.security.links import LinkSigner
from opendpo.settings import Settings
from opendpo.subjects.identities import IdentityKind
from opendpo.subjects.people import Identity

LINK_PURPOSE = "unsubscribe"
UNSUBSCRIBE_PATH = "/u/"
ONE_CLICK = "List-Unsubscribe=One-Click"
DEMO_WARNING = (
    "Demo mode: the unsubscribe links use http, which RFC 8058 does not allow; "
    "mailbox providers will not offer one-click unsubscribe for these emails."
)


class CampaignNotReady(DomainError):
    """The installation cannot yet send marketing that meets RFC 8058 (a 409 over HTTP)."""

    code = "campaign_not_ready"


@dataclass(frozen=True)
class Sender:
    """Who the email is from, as PECR regulation 23 requires it to say."""

    name: str
    address: str


@dataclass(frozen=True)
class Prepared:
    """One recipient who may be contacted, with everything their email must carry."""

    email: str
    unsubscribe_url: str
    headers: dict[str, str]
    footer_text: str
    footer_html: str


@dataclass(frozen=True)
class Unsubscribed:
    changed: bool  # False when the address was already unsubscribed: nothing was written
    person_id: str | None


def readiness(settings: Settings) -> list[str]:
    """Warnings to pass on; CampaignNotReady when RFC 8058 headers cannot be made at all."""
    if not settings.unsubscribe_mailbox:
        raise CampaignNotReady(
            "Set OPENDPO_UNSUBSCRIBE_MAILBOX before preparing marketing: List-Unsubscribe "
            "carries a mailto: address as well as the one-click link."
        )
    if settings.base_url.startswith("https://"):
        return []
    if not settings.demo:
        raise CampaignNotReady(
            "OPENDPO_BASE_URL must start with https:// before preparing marketing: RFC 8058 "
            "one-click unsubscribe requires an https link."
        )
    return [DEMO_WARNING]


def campaign_channel(channel: str) -> Channel:
    if channel != Channel.EMAIL.value:
        raise InvalidValue("channel", "campaigns are prepared for email only")
    return Channel.EMAIL


def sender(policy: PolicyDocument) -> Sender:
    controller = policy.controller
    post = controller.registered_address
    address = ", ".join([*post.lines, post.town, post.postcode])
    return Sender(name=controller.display_name, address=address)


def unsubscribe_token(links: LinkSigner, *, blind_index: str, purpose: str, channel: str) -> str:
    return links.sign(LINK_PURPOSE, {"i": blind_index, "p": purpose, "c": channel})


@dataclass(frozen=True)
class Campaign:
    """What stays the same for every recipient of one campaign: worked out once per list."""

    settings: Settings
    keyring: Keyring
    links: LinkSigner
    purpose: str
    purpose_name: str
    sender: Sender

    @classmethod
    def start(
        cls,
        *,
        settings: Settings,
        keyring: Keyring,
        links: LinkSigner,
        policy: PolicyDocument,
        purpose: str,
    ) -> Campaign:
        name = policy.purpose(purpose).name
        return cls(settings, keyring, links, purpose, name, sender(policy))

    def prepare(self, email: str, normal: str) -> Prepared:
        """`email` as the caller gave it; `normal` its normal form (what the index is of)."""
        index = self.keyring.blind_index(IdentityKind.EMAIL.value, normal)
        token = unsubscribe_token(
            self.links, blind_index=index, purpose=self.purpose, channel=Channel.EMAIL.value
        )
        url = self.settings.base_url.rstrip("/") + UNSUBSCRIBE_PATH + token
        mailbox = self.settings.unsubscribe_mailbox or ""
        mailto = f"mailto:{mailbox}?subject={quote('unsubscribe-' + token)}"
        headers = {
            "List-Unsubscribe": f"<{url}>, <{mailto}>",
            "List-Unsubscribe-Post": ONE_CLICK,
        }
        who = self.sender
        text = (
            f"You are receiving this email about {self.purpose_name} from {who.name}.\n"
            f"Unsubscribe: {url}\n"
            f"{who.name}, {who.address}"
        )
        html = Markup(
            "<p>You are receiving this email about {purpose} from {name}. "
            '<a href="{url}">Unsubscribe</a>.<br>{name}, {address}</p>'
        ).format(purpose=self.purpose_name, name=who.name, url=url, address=who.address)
        return Prepared(email, url, headers, text, str(html))


def read_token(links: LinkSigner, token: str) -> tuple[str, str, str]:
    """(blind index, purpose, channel) from an unsubscribe token; LinkInvalid if not one."""
    payload: Any = links.load(LINK_PURPOSE, token)
    if not isinstance(payload, dict):
        raise LinkInvalid()
    values = (payload.get("i"), payload.get("p"), payload.get("c"))
    if not all(isinstance(value, str) and value for value in values):
        raise LinkInvalid()
    index, purpose, channel = (str(value) for value in values)
    return index, purpose, channel


def unsubscribe(
    *,
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    policy_version: int,
    blind_index: str,
    purpose: str,
    channel: str,
    client_address: str | None = None,
    user_agent: str | None = None,
    now: dt.datetime | None = None,
) -> Unsubscribed:
    """Suppress the address for this purpose and channel and, for a known person, withdraw.

    Idempotent: a second call writes nothing. Runs in the caller's transaction; a concurrent
    identical unsubscribe that wins the race surfaces as IntegrityError on commit, and means
    the work is done.
    """
    moment = now or dt.datetime.now(dt.UTC)
    changed = _suppress_index(session, blind_index, channel, purpose, moment)
    identity = session.scalar(
        select(Identity).where(
            Identity.kind == IdentityKind.EMAIL.value, Identity.blind_index == blind_index
        )
    )
    person_id = identity.person_id if identity is not None else None
    # A purpose removed from the policy since the email went out cannot take a record; the
    # suppression above still stops every later email.
    in_policy = any(p.key == purpose for p in policy.purposes)
    if (
        identity is not None
        and in_policy
        and _withdrawal_needed(session, identity.person_id, purpose, channel)
    ):
        record_consent(
            session=session,
            keyring=keyring,
            policy=policy,
            policy_version=policy_version,
            identities=[(IdentityKind.EMAIL.value, identity.value)],
            purpose=purpose,
            channel=channel,
            state=ConsentState.WITHDRAWN,
            proof=Proof(
                method=CollectionMethod.UNSUBSCRIBE,
                source="unsubscribe link",
                client_address=client_address,
                user_agent=user_agent,
            ),
            now=moment,
        )
        changed = True
    if changed:
        audit.record(
            session=session,
            keyring=keyring,
            actor=Actor(ActorKind.SUBJECT, person_id, client_address),
            action="consent.unsubscribed",
            target_kind="person" if person_id else "suppression",
            target_id=person_id,
            details={"purpose": purpose, "channel": channel},
            now=moment,
        )
    return Unsubscribed(changed=changed, person_id=person_id)


def _suppress_index(
    session: Session, index: str, channel: str, purpose: str, moment: dt.datetime
) -> bool:
    """Like suppression.suppress, from the blind index the token carries; True if added."""
    existing = session.scalar(
        select(Suppression.id).where(
            Suppression.blind_index == index,
            Suppression.channel == channel,
            Suppression.purpose == purpose,
        )
    )
    if existing is not None:
        return False
    session.add(
        Suppression(
            kind=IdentityKind.EMAIL.value,
            blind_index=index,
            channel=channel,
            purpose=purpose,
            reason=SuppressionReason.UNSUBSCRIBED.value,
            source="unsubscribe link",
            at=moment,
        )
    )
    session.flush()
    return True


def _withdrawal_needed(session: Session, person_id: str, purpose: str, channel: str) -> bool:
    # Given, or never answered: record the "no". Already withdrawn or refused: nothing to add.
    current = session.get(CurrentConsent, (person_id, purpose, channel))
    return current is None or current.state == ConsentState.GIVEN.value
