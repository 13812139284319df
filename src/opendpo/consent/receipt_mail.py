"""Emailing a consent receipt to the person: a plain-language body, the receipt attached.

Receipts are sent on request (Art 7(1): the controller must be able to show the consent; the
person may ask for their copy), never as a side effect of recording consent.
"""

from __future__ import annotations

import json
from typing import Any

from opendpo.errors import DomainError
from opendpo.mail.sender import Mailer
from opendpo.subjects.people import Person


def email_of(person: Person) -> str:
    """Where a receipt goes: the person's first email address."""
    for identity in person.identities:
        if identity.kind == "email":
            return identity.value
    raise DomainError("this person has no email address to send the receipt to")


def receipt_text(document: dict[str, Any]) -> str:
    """The plain-language body of the email the receipt is attached to."""
    processing = document["processing"]
    purpose = processing["purposes"][0]
    event = document["events"][0]
    controller = processing["controllers"][0]["name"]
    state = {
        "dpv:ConsentGiven": "gave your consent",
        "dpv:ConsentWithdrawn": "withdrew your consent",
        "dpv:ConsentRefused": "refused consent",
    }[event["state"]]
    lines = [
        f"This is your receipt from {controller}.",
        "",
        f"On {event['time']} you {state} for: {purpose['name']} (by {purpose['channel']}).",
    ]
    if purpose["wording"]:
        lines += ["", "What you were shown:", purpose["wording"]]
    if event["validity"]:
        lines += ["", f"This consent lapses on {event['validity'][:10]} unless you renew it."]
    lines += [
        "",
        "You can change your mind at any time:",
        *(f"- {method['value']}" for method in processing["withdrawalMethod"]),
        "",
        f"Privacy notice (version {processing['notice']['version']}): "
        f"{processing['notice']['url']}",
        f"Receipt id: {document['header']['recordId']} (the attached JSON is the full record).",
    ]
    return "\n".join(lines) + "\n"


def send_receipt(*, mailer: Mailer, to: str, document: dict[str, Any]) -> None:
    """Email the receipt: a plain-language body, the full receipt as a JSON attachment."""
    controller = document["processing"]["controllers"][0]["name"]
    message = mailer.new_message(
        to=to, subject=f"Your consent receipt from {controller}", text=receipt_text(document)
    )
    message.add_attachment(
        json.dumps(document, indent=2, ensure_ascii=False).encode(),
        maintype="application",
        subtype="json",
        filename=f"consent-receipt-{document['header']['recordId']}.json",
    )
    mailer.send(message)
