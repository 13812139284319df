"""What the security commands share: who the operator is, and turning domain errors into
clear messages (never a traceback)."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from opendpo.cli.state import CliState
from opendpo.errors import DomainError
from opendpo.security import audit
from opendpo.security.audit import Actor, ActorKind


def cli_actor() -> Actor:
    """The operator at the command line, named by their OS account (there is no sign-in)."""
    return Actor(kind=ActorKind.CLI, id=getpass.getuser())


@contextmanager
def domain_errors() -> Iterator[None]:
    """Domain errors (bad value, not found, key problem) as a ClickException with their message."""
    try:
        yield
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


def record(
    state: CliState,
    session: Session,
    action: str,
    *,
    target_kind: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Audit a change made from the command line, in the same transaction as the change."""
    audit.record(
        session=session,
        keyring=state.keyring(),
        actor=cli_actor(),
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        details=details,
    )
