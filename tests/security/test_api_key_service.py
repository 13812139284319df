"""API keys at the service level: shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from opendpo.errors import InvalidValue
from opendpo.security.api_keys import authenticate_key, create_key, revoke_key
from opendpo.security.roles import Permission


def test_a_key_authenticates_with_its_scopes_and_only_its_hash_is_stored(
    session: Session,
) -> None:
    with session.begin():
        key, token = create_key(
            session=session,
            name="CRM sync",
            scopes=["consent:write", "decisions:read"],
            created_by="dpo",
        )
    found = authenticate_key(session=session, token=token)
    assert found is not None and found.id == key.id
    assert found.permissions == {Permission.CONSENT_WRITE, Permission.DECISIONS_READ}
    secret = token.split("_", 2)[2]  # the secret may itself contain "_"
    stored = session.execute(text("SELECT secret_hash FROM api_keys")).scalar_one()
    assert secret not in stored and len(stored) == 64


def test_wrong_forged_and_revoked_keys_are_refused(session: Session) -> None:
    with session.begin():
        key, token = create_key(
            session=session, name="billing", scopes=["decisions:read"], created_by="dpo"
        )
    assert (
        authenticate_key(session=session, token=token[:-1] + ("A" if token[-1] != "A" else "B"))
        is None
    )
    assert authenticate_key(session=session, token="odpo_nothing") is None
    with session.begin():
        revoke_key(session=session, key_id=key.id)
    assert authenticate_key(session=session, token=token) is None


def test_last_use_is_recorded_but_not_written_on_every_request(session: Session) -> None:
    with session.begin():
        key, token = create_key(
            session=session, name="website", scopes=["decisions:read"], created_by="dpo"
        )
    start = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    authenticate_key(session=session, token=token, now=start)
    assert key.last_used_at == start
    authenticate_key(session=session, token=token, now=start + dt.timedelta(seconds=30))
    assert key.last_used_at == start
    authenticate_key(session=session, token=token, now=start + dt.timedelta(seconds=90))
    assert key.last_used_at == start + dt.timedelta(seconds=90)


@pytest.mark.parametrize(
    ("scopes", "words"),
    [
        ([], "at least one scope"),
        (["staff:manage"], "not a scope"),
        (["everything"], "not a scope"),
    ],
)
def test_bad_scopes_are_refused_by_name(session: Session, scopes: list[str], words: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        create_key(session=session, name="x", scopes=scopes, created_by="dpo")
    assert caught.value.field == "scopes" and words in caught.value.detail
