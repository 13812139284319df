"""Signed, expiring links: the one way an email lets a person back in (itsdangerous).

Each purpose has its own salt, so a link made to verify an email cannot open a download.
A bad, altered, expired or misdirected token gives one error that does not say which.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from opendpo.security.errors import LinkInvalid

# How long each kind of link stays good, in seconds.
LINK_LIFETIMES: dict[str, int] = {
    "verify-email": 24 * 3600,
    "preferences": 30 * 24 * 3600,
    "download": 7 * 24 * 3600,
    "unsubscribe": 10 * 365 * 24 * 3600,  # RFC 8058: an unsubscribe link keeps working
    # A request's page: the person must be able to read the response for a good while.
    "request-status": 400 * 24 * 3600,
    # The page where a code is typed in, right after the form was sent.
    "request-verify": 24 * 3600,
}


class LinkSigner:
    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in LINK_LIFETIMES:
            raise ValueError(f"no link lifetime is defined for '{purpose}'")
        return URLSafeTimedSerializer(self._secret_key, salt=f"opendpo-link:{purpose}")

    def sign(self, purpose: str, payload: Any) -> str:
        return str(self._serializer(purpose).dumps(payload))

    def load(self, purpose: str, token: str, *, max_age: int | None = None) -> Any:
        serializer = self._serializer(purpose)  # an unknown purpose is a programming error
        lifetime = LINK_LIFETIMES[purpose] if max_age is None else max_age
        try:
            return serializer.loads(token, max_age=lifetime)
        except BadSignature:  # includes SignatureExpired
            raise LinkInvalid() from None
