"""What CLI commands share: settings read once, on first use, and the store they point at."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import click
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session

from opendpo.errors import NoPolicyApplied
from opendpo.policy.versions import current_version
from opendpo.rights.letters import LetterContext
from opendpo.security.errors import KeyProblem
from opendpo.security.keyring import Keyring, load_keyring
from opendpo.security.links import LinkSigner
from opendpo.settings import Settings, SettingsError, load_settings
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.store.migrate import is_up_to_date


@dataclass
class CliState:
    _settings: Settings | None = None
    _engine: Engine | None = field(default=None, repr=False)
    _keyring: Keyring | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    def keyring(self) -> Keyring:
        """The encryption and MAC keys (environment or key file), or a clear error."""
        if self._keyring is None:
            try:
                self._keyring = load_keyring(self.settings())
            except KeyProblem as exc:
                raise click.ClickException(exc.message) from None
        return self._keyring

    def _keyring_if_any(self) -> Keyring | None:
        # `db upgrade` runs before `keys init` on a new installation, so a key file that does
        # not exist yet is not an error here; encrypted columns then fail clearly at first use.
        settings = self.settings()
        if settings.encryption_keys is None and not settings.key_file.exists():
            return None
        return self.keyring()

    def engine(self) -> Engine:
        """The store's engine, after proving it can be reached (a clear error, not a traceback)."""
        if self._engine is None:
            keyring = self._keyring_if_any()
            try:
                engine = make_engine(self.settings().database_url, keyring=keyring)
            except ArgumentError as exc:
                raise click.ClickException(f"OPENDPO_DATABASE_URL: {exc}") from None
            try:
                with engine.connect():
                    pass
            except DBAPIError as exc:
                shown = engine.url.render_as_string(hide_password=True)
                engine.dispose()
                raise click.ClickException(
                    f"cannot open the store at {shown} (OPENDPO_DATABASE_URL): {exc.orig}"
                ) from None
            self._engine = engine
            # Return pooled connections when the command ends, not whenever the GC gets to it.
            context = click.get_current_context(silent=True)
            if context is not None:
                context.call_on_close(engine.dispose)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on an up-to-date store, committed if the command succeeds."""
        engine = self.engine()
        if not is_up_to_date(engine):
            raise click.ClickException(
                "the store's schema is not up to date: run `opendpo db upgrade` first"
            )
        with make_session_factory(engine)() as session, session.begin():
            yield session

    def letter_context(self, session: Session) -> LetterContext:
        """What letters need: the policy in force, link signing, and the public base URL."""
        version = current_version(session=session)
        if version is None:
            raise NoPolicyApplied()
        settings = self.settings()
        links = LinkSigner(settings.secret_key.get_secret_value())
        return LetterContext(version.policy(), links, settings.base_url)


pass_state = click.make_pass_decorator(CliState, ensure=True)
