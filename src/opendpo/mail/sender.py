"""Sending one message: SMTP when OPENDPO_SMTP_HOST is set, else a file in the outbox folder.

The outbox keeps the embedded set-up whole (no mail server needed): every message is an
.eml file the console and the person running the demo can open. Files are written whole or
not at all, so a crash never leaves half a message.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from opendpo.errors import DomainError
from opendpo.settings import Settings

SMTP_TIMEOUT_SECONDS = 30


class MailNotSent(DomainError):
    code = "mail_not_sent"


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def new_message(
        self, *, to: str, subject: str, text: str, html: str | None = None
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.settings.mail_from.rpartition("@")[2])
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message

    def send(self, message: EmailMessage) -> None:
        if self.settings.smtp_host:
            self._send_smtp(message)
        else:
            self._write_outbox(message)

    def _send_smtp(self, message: EmailMessage) -> None:
        settings = self.settings
        assert settings.smtp_host is not None
        try:
            with smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
            ) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_username and settings.smtp_password:
                    smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            # The address goes nowhere near the log or the error: only the server's answer.
            raise MailNotSent(
                f"the mail server at {settings.smtp_host} refused the message: {exc}"
            ) from None

    def _write_outbox(self, message: EmailMessage) -> None:
        folder = self.settings.outbox_path
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid4().hex}.eml"
        partial = folder / f".{name}.partial"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(bytes(message))
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(folder / name)


def outbox_messages(folder: Path) -> list[Path]:
    """The outbox's messages, newest first."""
    if not folder.exists():
        return []
    return sorted(folder.glob("*.eml"), key=lambda path: path.stat().st_mtime, reverse=True)
