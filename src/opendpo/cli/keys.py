"""`opendpo keys`: create, list, rotate and retire the keys that encrypt personal data."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine

from opendpo.cli.operator import domain_errors, record
from opendpo.cli.state import CliState, pass_state
from opendpo.security import rotation
from opendpo.security.keyring import KEY_ID, Keyring, generate_keyring, write_key_file
from opendpo.store.engine import make_session_factory
from opendpo.store.migrate import is_up_to_date

FROM_ENVIRONMENT = (
    "the keys come from OPENDPO_ENCRYPTION_KEYS, not from a key file: change that variable instead"
)
BATCH = click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=rotation.DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Values re-encrypted per transaction.",
)


@click.group()
def keys() -> None:
    """The keys that encrypt personal data in the store: create, list, rotate, retire."""


def _store(state: CliState) -> Engine:
    engine = state.engine()
    if not is_up_to_date(engine):
        raise click.ClickException(
            "the store's schema is not up to date: run `opendpo db upgrade` first"
        )
    return engine


def _audit(state: CliState, action: str, **details: Any) -> None:
    with make_session_factory(_store(state))() as session, session.begin():
        record(
            state, session, action, target_kind="key", target_id=details.get("key"), details=details
        )


@keys.command("init")
@click.option("--if-missing", is_flag=True, help="Succeed, changing nothing, if the file exists.")
@pass_state
def init_command(state: CliState, if_missing: bool) -> None:
    """Write a new key file (OPENDPO_KEY_FILE, readable by its owner only).

    Keep a copy of it apart from the database's backups: without it the personal data in the
    store cannot be read, and with it and the database anyone can.
    """
    settings = state.settings()
    if settings.encryption_keys is not None:
        raise click.ClickException(f"{FROM_ENVIRONMENT}; no key file is needed")
    path = settings.key_file
    if path.exists():
        if if_missing:
            click.echo(f"a key file already exists at {path}; keeping it")
            return
        raise click.ClickException(
            f"a key file already exists at {path}: refusing to overwrite it, as the store's "
            "personal data can only be read with the keys it holds"
        )
    keyring = generate_keyring()
    write_key_file(path, keyring)
    click.echo(f"wrote new keys to {path} (mode 0600); back it up apart from the database")
    # A new installation creates its keys before its store may exist: audit when it can.
    try:
        _audit(state, "keys.initialised", key=keyring.active_key_id, file=str(path))
    except click.ClickException as exc:
        click.echo(f"not recorded in the audit log: {exc.message}", err=True)


@keys.command("list")
@pass_state
def list_command(state: CliState) -> None:
    """List the keys and how many stored values each one encrypts."""
    keyring = state.keyring()
    usage = rotation.key_usage(_store(state), keyring)
    table = Table("key", "active", "values")
    for key_id, count in usage.counts.items():
        table.add_row(key_id, "yes" if key_id == keyring.active_key_id else "", str(count))
    if usage.unknown:
        table.add_row("[red]not loaded[/]", "", str(usage.unknown))
    Console().print(table)
    if usage.unknown:
        click.echo(f"{usage.unknown} values are under keys that are not loaded", err=True)


def _check_key_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not KEY_ID.match(value):
        raise click.BadParameter("use 1-16 of a-z, 0-9 and '-'")
    return value


@keys.command("rotate")
@click.option(
    "--key-id",
    callback=_check_key_id,
    help="Id of the new key  [default: the next of k2, k3, ...]",
)
@click.option(
    "--reencrypt/--no-reencrypt",
    default=True,
    show_default=True,
    help="Re-encrypt stored values now, or later with `opendpo keys reencrypt`.",
)
@BATCH
@pass_state
def rotate_command(state: CliState, key_id: str | None, reencrypt: bool, batch_size: int) -> None:
    """Add a new active key to the key file and re-encrypt every stored value under it.

    The older keys stay in the file, so values not yet re-encrypted still open; retire them
    with `opendpo keys retire` once `opendpo keys list` shows they encrypt nothing. If this
    is interrupted, `opendpo keys reencrypt` finishes the job.

    Running OpenDPO servers watch the key file: within a second they decrypt with the new
    key and encrypt under it, so rotating while they run needs no restart. A value they
    write in that second under the old key is reported; run `opendpo keys reencrypt` again.
    """
    settings = state.settings()
    if settings.encryption_keys is not None:
        raise click.ClickException(
            f"{FROM_ENVIRONMENT}: put a new 'id:base64' key first in it (e.g. from "
            "`openssl rand -base64 32`), restart, then run `opendpo keys reencrypt`"
        )
    old = state.keyring()
    _store(state)  # before the key file changes: a store that cannot be reached stops here
    with domain_errors():
        keyring = rotation.add_key(settings.key_file, old, key_id)
    click.echo(f"added key '{keyring.active_key_id}' to {settings.key_file}; it is now active")
    _audit(state, "keys.rotated", key=keyring.active_key_id, previous=old.active_key_id)
    if reencrypt:
        _reencrypt(state, keyring, batch_size)
    else:
        click.echo(
            "running servers pick the new key up from the key file within a second; "
            "then run `opendpo keys reencrypt`"
        )


@keys.command("reencrypt")
@BATCH
@pass_state
def reencrypt_command(state: CliState, batch_size: int) -> None:
    """Re-encrypt every stored value not under the active key.

    Finishes a rotation that was interrupted, and is what to run after putting a new key
    first in OPENDPO_ENCRYPTION_KEYS. Safe while OpenDPO runs, and safe to run again.
    """
    _reencrypt(state, state.keyring(), batch_size)


def _reencrypt(state: CliState, keyring: Keyring, batch_size: int) -> None:
    engine = _store(state)
    total = rotation.pending(engine, keyring)
    columns = (
        TextColumn("re-encrypting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress, domain_errors():
        task = progress.add_task("values", total=total)
        result = rotation.reencrypt(
            engine,
            keyring,
            batch_size=batch_size,
            on_batch=lambda n: progress.advance(task, n),
        )
    if result.rewritten:
        _audit(
            state,
            "keys.reencrypted",
            key=keyring.active_key_id,
            rewritten=result.rewritten,
            remaining=result.remaining,
        )
    click.echo(f"re-encrypted {result.rewritten} values under '{keyring.active_key_id}'")
    if result.remaining:
        raise click.ClickException(
            f"{result.remaining} values are still under older keys (written meanwhile by a "
            "process that had not loaded the new key yet, or one whose keys come from the "
            "environment, which needs a restart): run `opendpo keys reencrypt` again"
        )


@keys.command("retire")
@click.argument("key_id")
@pass_state
def retire_command(state: CliState, key_id: str) -> None:
    """Remove KEY_ID from the key file; refused while any stored value is still under it."""
    settings = state.settings()
    keyring = state.keyring()
    engine = _store(state)
    with domain_errors():
        if settings.encryption_keys is None:
            rotation.retire_key(settings.key_file, keyring, key_id, engine)
        else:
            # Nothing to write: say whether the operator may drop it from the variable.
            rotation.check_retirable(engine, keyring, key_id)
            click.echo(
                f"no stored value is under '{key_id}': remove it from "
                "OPENDPO_ENCRYPTION_KEYS and restart"
            )
            return
    _audit(state, "keys.retired", key=key_id)
    click.echo(f"retired key '{key_id}': removed from {settings.key_file}")
