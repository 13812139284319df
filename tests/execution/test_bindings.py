"""A runtime binds its systems once: its steps reuse the bindings, decrypted and validated,
until a connection is changed (or a policy applied), and then see the change at once."""

from __future__ import annotations

from pathlib import Path

from five_systems import write_policy
from running import apply

from opendpo.connectors.sql import SqlConnection
from opendpo.execution.runtime import Runtime
from opendpo.execution.systems import bindings, save_connection


def newsletter_url(runtime: Runtime) -> str:
    with runtime.session_factory() as session:
        policy = runtime.policy(session)
        found = next(s for s in bindings(session=session, policy=policy) if s.key == "newsletter")
        assert isinstance(found.config, SqlConnection) and found.config.url is not None
        return found.config.url.get_secret_value()


def test_bindings_are_reused_until_a_connection_changes(runtime: Runtime, tmp_path: Path) -> None:
    first = f"sqlite:///{tmp_path / 'one.db'}"
    apply(runtime, write_policy(tmp_path, only=("newsletter",)), {"newsletter": {
        "type": "sql", "url": first}})  # fmt: skip
    with runtime.session_factory() as one, runtime.session_factory() as two:
        policy = runtime.policy(one)
        held = bindings(session=one, policy=policy)
        again = bindings(session=two, policy=runtime.policy(two))
        assert [a is b for a, b in zip(held, again, strict=True)] == [True] * len(held)
    assert newsletter_url(runtime) == first

    second = f"sqlite:///{tmp_path / 'two.db'}"
    with runtime.session_factory() as session:
        save_connection(
            session=session, key="newsletter", config={"type": "sql", "url": second},
            datasets=[], added_by="test",
        )  # fmt: skip
        session.commit()
    assert newsletter_url(runtime) == second
