"""Signed, expiring links: each refusal (altered, expired, misdirected) looks the same."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from itsdangerous import TimestampSigner

from opendpo.security.errors import LinkInvalid
from opendpo.security.links import LINK_LIFETIMES, LinkSigner

SECRET = "a-test-secret-that-is-long-enough-to-sign-links"
PAYLOAD = {"request": "r-1234", "step": 2}


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner(SECRET)


@pytest.fixture
def sign_at(
    signer: LinkSigner, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str, object, int], str]:
    """A token signed `seconds_ago` seconds ago: itsdangerous reads the clock only here."""

    def sign(purpose: str, payload: object, seconds_ago: int) -> str:
        moment = int(time.time()) - seconds_ago
        with monkeypatch.context() as patch:
            patch.setattr(TimestampSigner, "get_timestamp", lambda _self: moment)
            return signer.sign(purpose, payload)

    return sign


def refusal(signer: LinkSigner, purpose: str, token: str, **kwargs: int) -> LinkInvalid:
    with pytest.raises(LinkInvalid) as raised:
        signer.load(purpose, token, **kwargs)
    assert type(raised.value) is LinkInvalid
    return raised.value


def test_a_link_round_trips(signer: LinkSigner) -> None:
    token = signer.sign("verify-email", PAYLOAD)
    assert signer.load("verify-email", token) == PAYLOAD
    # Safe in a URL as it stands.
    assert all(ch.isalnum() or ch in "-_." for ch in token)


@pytest.mark.parametrize("where", ["payload", "timestamp", "signature"])
def test_an_altered_token_is_refused(signer: LinkSigner, where: str) -> None:
    token = signer.sign("download", PAYLOAD)
    parts = token.split(".")
    index = {"payload": 0, "timestamp": 1, "signature": 2}[where]
    # The first character: the last may hold only padding bits, and changing those alone
    # would leave the decoded bytes, and so the token, as they were.
    parts[index] = _other_character(parts[index][0]) + parts[index][1:]
    refusal(signer, "download", ".".join(parts))


def _other_character(ch: str) -> str:
    return "A" if ch != "A" else "B"


def test_a_token_signed_with_another_secret_is_refused(signer: LinkSigner) -> None:
    forged = LinkSigner("another-secret-that-is-also-long-enough").sign("download", PAYLOAD)
    refusal(signer, "download", forged)


def test_a_token_expires_after_its_purposes_lifetime(
    signer: LinkSigner, sign_at: Callable[[str, object, int], str]
) -> None:
    lifetime = LINK_LIFETIMES["verify-email"]
    fresh = sign_at("verify-email", PAYLOAD, lifetime - 60)
    assert signer.load("verify-email", fresh) == PAYLOAD
    stale = sign_at("verify-email", PAYLOAD, lifetime + 1)
    refusal(signer, "verify-email", stale)
    # The same age is fine for a purpose whose links live longer.
    assert signer.load("preferences", sign_at("preferences", PAYLOAD, lifetime + 1)) == PAYLOAD


def test_a_caller_may_ask_for_a_shorter_lifetime(
    signer: LinkSigner, sign_at: Callable[[str, object, int], str]
) -> None:
    token = sign_at("download", PAYLOAD, 5)
    assert signer.load("download", token, max_age=10) == PAYLOAD
    refusal(signer, "download", token, max_age=0)


def test_a_token_made_for_one_purpose_opens_no_other(signer: LinkSigner) -> None:
    token = signer.sign("verify-email", PAYLOAD)
    for purpose in LINK_LIFETIMES:
        if purpose != "verify-email":
            refusal(signer, purpose, token)


def test_every_refusal_says_the_same_thing(
    signer: LinkSigner, sign_at: Callable[[str, object, int], str]
) -> None:
    good = signer.sign("download", PAYLOAD)
    refusals = [
        refusal(signer, "download", _other_character(good[0]) + good[1:]),  # altered
        refusal(signer, "download", sign_at("download", PAYLOAD, 8 * 24 * 3600)),  # expired
        refusal(signer, "unsubscribe", good),  # another purpose
        refusal(signer, "download", "not-a-token-at-all"),  # garbage
    ]
    assert {(e.code, e.message) for e in refusals} == {
        ("link_invalid", "This link is not valid or has expired. Ask for a new one.")
    }


def test_links_cannot_be_made_for_an_unknown_purpose(signer: LinkSigner) -> None:
    with pytest.raises(ValueError, match="no link lifetime"):
        signer.sign("reset-everything", PAYLOAD)
