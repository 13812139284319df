"""Consent receipts: the ISO/IEC TS 27560 shape with DPV terms and the Kantara v1.1 fields,
and delivery through a real SMTP server."""

from __future__ import annotations

import email
import json
import socket
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from consent_helpers import NOW, Applied, answer, apply
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opendpo.consent.ledger import Channel, CollectionMethod, ConsentState, Proof
from opendpo.consent.receipt_mail import email_of, send_receipt
from opendpo.consent.receipts import receipt_for
from opendpo.consent.service import record_consent, wording_for
from opendpo.errors import DomainError
from opendpo.mail.sender import Mailer
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring
from opendpo.settings import Settings


@pytest.fixture
def connect_ib_applied(engine: Engine, connect_ib: PolicyDocument) -> Applied:
    return Applied(connect_ib, apply(engine, connect_ib))


def marketing_receipt(
    session: Session, keyring: Keyring, applied: Applied, settings: Settings
) -> dict[str, Any]:
    _, record = record_consent(
        session=session,
        keyring=keyring,
        policy=applied.document,
        policy_version=applied.version,
        identities=[("email", "Ann@Example.com"), ("phone", "07700 900123")],
        purpose="marketing",
        channel="email",
        state=ConsentState.GIVEN,
        proof=Proof(method=CollectionMethod.PHONE, staff_id="s1", evidence={"notes": "call"}),
        now=NOW,
    )
    session.commit()
    return receipt_for(session=session, settings=settings, record_id=record.id).document


def test_receipt_has_the_27560_shape_with_dpv_terms(
    session: Session, keyring: Keyring, connect_ib_applied: Applied, settings: Settings
) -> None:
    receipt = marketing_receipt(session, keyring, connect_ib_applied, settings)
    base = settings.base_url.rstrip("/")
    header = receipt["header"]
    assert header["schemaVersion"] == "ISO/IEC TS 27560:2023"
    assert len(header["recordId"]) == 36
    assert header["piiPrincipalId"] == "ann@example.com"  # the email, normalised

    processing = receipt["processing"]
    assert processing["notice"] == {"url": f"{base}/", "version": "1.0"}
    assert processing["policyVersion"] == 1
    assert processing["language"] == "en-GB"
    [purpose] = processing["purposes"]
    assert purpose["key"] == "marketing"
    assert purpose["name"] == "Marketing communications"
    assert purpose["channel"] == "email"
    assert purpose["purpose"] == ["urn:opendpo:purpose:marketing", "dpv:DirectMarketing"]
    assert purpose["legalBasis"] == {
        "type": "dpv:Consent",
        "article": "UK GDPR Art 6(1)(a)",
        "dpvArticle": "eu-gdpr:A6-1-a",
        "applicableLaw": ["legal-gb:law-GDPR", "legal-gb:law-DPA"],
    }
    # Exactly what the person was shown: the policy's words for this purpose.
    shown = wording_for(connect_ib_applied.document, purpose="marketing", channel=Channel.EMAIL)
    assert purpose["wording"] == shown
    categories = {c["key"]: c for c in processing["personalDataCategories"]}
    assert "user.contact.email" in categories
    assert categories["user.contact.email"]["special"] is False
    [controller] = processing["controllers"]
    assert controller["name"] == "Connect IB Ltd"
    assert controller["contact"]["email"] == "datamanagement@smartspaceplc.com"
    assert controller["type"] == "dpv:DataController"
    assert processing["jurisdiction"] == "GB"
    assert processing["storage"]["retention"]["name"]
    recipients = {r["key"]: r for r in processing["recipients"]}
    assert set(recipients) == {"email_platform_provider", "crm_provider", "website_host"}
    assert recipients["crm_provider"]["type"] == "dpv:DataProcessor"
    withdrawal = processing["withdrawalMethod"]
    assert withdrawal[0] == {
        "kind": "preference_centre",
        "value": f"{base}/preferences",
    }
    kinds = [method["kind"] for method in withdrawal]
    assert kinds[0] == "preference_centre"  # the easiest route comes first
    assert sorted(kinds[1:]) == ["email", "phone", "unsubscribe_link"]
    assert {"kind": "unsubscribe_link", "value": f"{base}/unsubscribe"} in withdrawal

    [event] = receipt["events"]
    assert event["time"] == "2026-03-02T09:00:00+00:00"
    assert event["validity"] is None  # connect-ib's marketing consent does not lapse
    assert event["entity"] == "dpv:DataSubject"
    assert event["recordedBy"] == "dpv:DataController"  # taken by a staff member
    assert event["state"] == "dpv:ConsentGiven"
    assert event["method"] == "phone"
    json.dumps(receipt)  # the whole receipt is plain JSON


def test_receipt_carries_the_kantara_fields(
    session: Session, keyring: Keyring, connect_ib_applied: Applied, settings: Settings
) -> None:
    receipt = marketing_receipt(session, keyring, connect_ib_applied, settings)
    base = settings.base_url.rstrip("/")
    kantara = receipt["kantara"]
    assert kantara["version"] == "KI-CR-v1.1.0"
    assert kantara["jurisdiction"] == "GB"
    assert kantara["consentTimestamp"] == int(NOW.timestamp()) == 1772442000
    assert kantara["collectionMethod"] == "Telephone call, recorded by staff"
    assert kantara["consentReceiptID"] == receipt["header"]["recordId"]
    assert kantara["piiPrincipalId"] == "ann@example.com"
    [controller] = kantara["piiControllers"]
    assert controller["piiController"] == "Connect IB Ltd"
    assert controller["email"] == "datamanagement@smartspaceplc.com"
    assert controller["onBehalf"] is False
    assert kantara["policyUrl"] == f"{base}/"
    [service] = kantara["services"]
    assert service["service"] == "Marketing communications"
    [purpose] = service["purposes"]
    assert purpose["purpose"] == "Marketing communications"
    assert purpose["consentType"] == "EXPLICIT"
    assert "Email" in purpose["piiCategory"]
    assert purpose["purposeCategory"]  # the fideslang data uses, by name
    assert purpose["termination"] == f"Withdraw at any time at {base}/preferences."
    # Every marketing recipient is a processor: nothing goes to a third party.
    assert (purpose["thirdPartyDisclosure"], purpose["thirdPartyName"]) == (False, "")
    assert (kantara["sensitive"], kantara["spiCat"]) == (False, [])


def test_a_withdrawal_with_expiry_policy_reads_as_withdrawn(
    session: Session, keyring: Keyring, applied: Applied, settings: Settings
) -> None:
    _, record = answer(session, keyring, applied, ConsentState.WITHDRAWN)
    receipt = receipt_for(session=session, settings=settings, record_id=record.id).document
    assert receipt["events"][0]["state"] == "dpv:ConsentWithdrawn"
    assert receipt["processing"]["purposes"][0]["legalBasis"]["type"] == "dpv:Consent"
    # The minimal policy's courier is a controller, but not a recipient of marketing.
    assert receipt["kantara"]["services"][0]["purposes"][0]["thirdPartyDisclosure"] is False
    assert receipt["kantara"]["collectionMethod"] == "Web form"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(content)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_send_receipt_delivers_it_by_smtp(
    session: Session,
    keyring: Keyring,
    connect_ib_applied: Applied,
    settings: Settings,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    base = settings.base_url.rstrip("/")
    receipt = marketing_receipt(session, keyring, connect_ib_applied, settings)
    base = settings.base_url.rstrip("/")
    issued = receipt_for(
        session=session, settings=settings, record_id=receipt["header"]["recordId"]
    )
    mailer = Mailer(settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port}))
    send_receipt(mailer=mailer, to=email_of(issued.person), document=issued.document)

    [(recipients, message)] = inbox.messages
    assert recipients == ["ann@example.com"]
    assert message["Subject"] == "Your consent receipt from Connect IB Ltd"
    parts = list(message.walk())
    text = next(p for p in parts if p.get_content_type() == "text/plain")
    body = text.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert "you gave your consent for: Marketing communications (by email)" in body.decode()
    assert f"{base}/preferences" in body.decode()
    attachment = next(p for p in parts if p.get_content_type() == "application/json")
    assert attachment.get_filename() == f"consent-receipt-{receipt['header']['recordId']}.json"
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert json.loads(payload) == receipt


def test_no_email_address_no_receipt(
    session: Session, keyring: Keyring, applied: Applied, settings: Settings
) -> None:
    person, _ = answer(session, keyring, applied, ConsentState.GIVEN)
    assert email_of(person) == "ann@example.com"
    person.identities[0].kind = "customer_id"  # in memory only: a person known by id alone
    with pytest.raises(DomainError, match="no email address"):
        email_of(person)
    session.rollback()
