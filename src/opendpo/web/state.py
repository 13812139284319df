"""What the running app holds: settings, the store, templates, keys, limits and link signing."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection
from starlette.templating import Jinja2Templates

from opendpo.mail.sender import Mailer
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import PolicyVersion
from opendpo.security.api_keys import KeyCache
from opendpo.security.keyring import Keyring
from opendpo.security.links import LinkSigner
from opendpo.security.rate_limits import RateLimiter
from opendpo.settings import Settings
from opendpo.web.request_runner import RequestRunner


class PolicyCache:
    """The parsed current policy, kept until a new version is applied.

    Validating the stored document on every request would cost more than the request itself;
    the digest tells when the stored policy has changed.
    """

    def __init__(self) -> None:
        self._entry: tuple[str, PolicyDocument] | None = None

    def latest(self) -> tuple[str, PolicyDocument] | None:
        """(digest, document) of the policy last loaded, for callers that check the digest
        against the store themselves (the decision point reads it with its facts)."""
        return self._entry

    def holds(self, version: PolicyVersion) -> bool:
        entry = self._entry
        return entry is not None and entry[0] == version.digest

    def document(self, version: PolicyVersion) -> PolicyDocument:
        entry = self._entry  # one read: another thread may replace it meanwhile
        if entry is not None and entry[0] == version.digest:
            return entry[1]
        document = version.policy()
        self._entry = (version.digest, document)
        return document


@dataclass
class WebState:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    templates: Jinja2Templates
    keyring: Keyring
    rate_limiter: RateLimiter
    links: LinkSigner
    mailer: Mailer
    key_cache: KeyCache
    # For single reads that need no transaction (no BEGIN and ROLLBACK round trips): the
    # decision point. The same pool as `engine`, in autocommit.
    read_engine: Engine
    # Plans requests and hands their steps to the queue (and works it, when embedded).
    runner: RequestRunner
    policy_cache: PolicyCache = field(default_factory=PolicyCache)


def web_state(connection: HTTPConnection) -> WebState:
    state = connection.app.state.opendpo
    if not isinstance(state, WebState):
        raise RuntimeError("the app was not built by opendpo.web.app.create_app")
    return state
