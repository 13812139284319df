"""Writers for the concurrency tests: each appends through its own engine and session.

A module of its own so that processes started with `spawn` can import it by name.
"""

from __future__ import annotations

from typing import Any

from opendpo.consent.ledger import CollectionMethod, ConsentState, Proof
from opendpo.consent.service import record_consent
from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import load_keyring
from opendpo.settings import Settings
from opendpo.store.engine import make_engine, make_session_factory

STATES = (ConsentState.GIVEN, ConsentState.WITHDRAWN, ConsentState.REFUSED)


def final_state(count: int) -> str:
    """The last state a writer of `count` records leaves its person in."""
    return STATES[(count - 1) % len(STATES)].value


def append_many(settings: Settings, document: dict[str, Any], writer: int, count: int) -> None:
    """Record `count` answers of one person, one transaction each, as a busy form would."""
    engine = make_engine(settings.database_url, keyring=load_keyring(settings))
    policy = PolicyDocument.model_validate(document)
    try:
        factory = make_session_factory(engine)
        for number in range(count):
            with factory() as session, session.begin():
                record_consent(
                    session=session,
                    keyring=load_keyring(settings),
                    policy=policy,
                    policy_version=1,
                    identities=[("email", f"writer{writer}@example.com")],
                    purpose="marketing_email",
                    channel="email",
                    state=STATES[number % len(STATES)],
                    proof=Proof(method=CollectionMethod.API, source=f"writer {writer}"),
                )
    finally:
        engine.dispose()
