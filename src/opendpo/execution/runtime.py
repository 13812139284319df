"""What a process running steps holds: the store, keys, mail, links and open connectors."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from opendpo.execution import chain
from opendpo.execution.lease import LeaseKeeper
from opendpo.execution.systems import KEPT_BINDINGS, ConnectorPool, KeptBindings
from opendpo.mail.sender import Mailer
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import current_version
from opendpo.security.keyring import Keyring
from opendpo.security.links import LinkSigner
from opendpo.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    keyring: Keyring
    mailer: Mailer
    links: LinkSigner
    pool: ConnectorPool
    leases: LeaseKeeper
    lease: dt.timedelta = dt.timedelta(seconds=60)
    _policy: tuple[str, PolicyDocument] | None = field(default=None, repr=False)

    @property
    def owner(self) -> str:
        """Who holds a lease: host, process and thread, so a takeover can be told apart."""
        return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    def policy(self, session: Session) -> PolicyDocument:
        """The policy in force, parsed once per version (parsing costs more than a step)."""
        from opendpo.errors import NoPolicyApplied

        shared = chain.cache(session)
        if shared is not None and "policy" in shared:
            return shared["policy"]  # type: ignore[no-any-return]
        version = current_version(session=session)
        if version is None:
            raise NoPolicyApplied()
        held = self._policy
        if held is not None and held[0] == version.digest:
            document = held[1]
        else:
            document = version.policy()
            self._policy = (version.digest, document)
        if shared is not None:
            shared["policy"] = document
        return document

    def close(self) -> None:
        self.leases.close()
        self.pool.close()


def make_runtime(
    *,
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    environ: Mapping[str, str] | None = None,
) -> Runtime:
    from opendpo.store.engine import make_session_factory

    # The runtime's sessions share the systems it last bound (see systems.KeptBindings).
    sessions = make_session_factory(engine, info={KEPT_BINDINGS: KeptBindings()})
    lease = dt.timedelta(seconds=settings.step_lease_seconds)
    return Runtime(
        settings=settings,
        engine=engine,
        session_factory=sessions,
        keyring=keyring,
        mailer=Mailer(settings),
        links=LinkSigner(settings.secret_key.get_secret_value()),
        pool=ConnectorPool(dict(os.environ) if environ is None else environ),
        leases=LeaseKeeper(sessions, lease),
        lease=lease,
    )
