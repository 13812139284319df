"""Key rotation: add a key, re-encrypt every stored value under it, retire the old one.

Encrypted columns are found generically (every Encrypted / EncryptedJSON column in the
schema), so a new domain's columns rotate without anyone remembering to list them. The work
is done in raw SQL on the stored text, whose `<key id>.` prefix says which key sealed it.

Re-encryption runs alongside the app: each batch is its own short transaction, rows are
addressed by primary key, and each update is a compare-and-set on the old ciphertext, so a
value the app changed meanwhile is left alone rather than overwritten with stale data.
"""

from __future__ import annotations

import re
from base64 import b64decode
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Text, func, select, tuple_, update
from sqlalchemy.sql.expression import ColumnClause, ColumnElement, TableClause, column, table

from opendpo.errors import DomainError
from opendpo.security.keyring import SEPARATOR, Keyring, new_key, write_key_file
from opendpo.store.encrypted import ENCRYPTED_TYPES
from opendpo.store.registry import schema

DEFAULT_BATCH_SIZE = 500
NUMBERED_KEY = re.compile(r"^k(\d+)$")


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    context: str
    primary_key: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"

    def clause(self) -> tuple[TableClause, ColumnClause[str], list[ColumnClause[object]]]:
        # Plain Text, not the Encrypted type: comparisons must see the stored ciphertext.
        value: ColumnClause[str] = column(self.column, Text())
        keys: list[ColumnClause[object]] = [column(name) for name in self.primary_key]
        return table(self.table, *keys, value), value, keys


def encrypted_columns() -> list[EncryptedColumn]:
    found = []
    for schema_table in schema().sorted_tables:
        for schema_column in schema_table.columns:
            if not isinstance(schema_column.type, ENCRYPTED_TYPES):
                continue
            keys = tuple(c.name for c in schema_table.primary_key.columns)
            if not keys:
                raise DomainError(
                    f"{schema_table.name}.{schema_column.name} is encrypted but its table has no "
                    "primary key, which re-encryption needs to address rows"
                )
            found.append(
                EncryptedColumn(
                    schema_table.name, schema_column.name, schema_column.type.context, keys
                )
            )
    return found


def _under(value: ColumnClause[str], key_id: str) -> ColumnElement[bool]:
    # substr is exact and case-sensitive on both SQLite and PostgreSQL (SQLite's LIKE is not).
    prefix = key_id + SEPARATOR
    return func.substr(value, 1, len(prefix)) == prefix


@dataclass(frozen=True)
class KeyUsage:
    counts: dict[str, int]  # key id -> stored values sealed under it
    unknown: int  # values under a key id that is not loaded


def key_usage(engine: Engine, keyring: Keyring) -> KeyUsage:
    counts = dict.fromkeys(keyring.encryption_keys, 0)
    total = 0
    with engine.connect() as connection:
        for encrypted in encrypted_columns():
            source, value, _ = encrypted.clause()
            count = select(func.count()).select_from(source)
            total += connection.scalar(count.where(value.is_not(None))) or 0
            for key_id in counts:
                counts[key_id] += connection.scalar(count.where(_under(value, key_id))) or 0
    return KeyUsage(counts, total - sum(counts.values()))


def pending(engine: Engine, keyring: Keyring) -> int:
    """How many stored values are not yet under the active key."""
    usage = key_usage(engine, keyring)
    return sum(usage.counts.values()) + usage.unknown - usage.counts[keyring.active_key_id]


@dataclass(frozen=True)
class ReencryptResult:
    rewritten: int
    changed_meanwhile: int  # left alone: the app wrote a new value after the batch read it
    remaining: int  # still under an older key after the pass


def reencrypt(
    engine: Engine,
    keyring: Keyring,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> ReencryptResult:
    """Re-encrypt every value not under the active key; safe to stop and run again."""
    if batch_size < 1:
        raise DomainError("batch size must be at least 1")
    rewritten = skipped = 0
    for encrypted in encrypted_columns():
        for done, lost in _reencrypt_column(engine, keyring, encrypted, batch_size):
            rewritten, skipped = rewritten + done, skipped + lost
            if on_batch is not None:
                on_batch(done + lost)
    return ReencryptResult(rewritten, skipped, pending(engine, keyring))


def _reencrypt_column(
    engine: Engine, keyring: Keyring, encrypted: EncryptedColumn, batch_size: int
) -> Iterator[tuple[int, int]]:
    """Batches in primary key order; yields (rewritten, changed meanwhile) after each commit."""
    source, value, keys = encrypted.clause()
    # A row value compares keys in order, so composite keys page like single ones.
    key: ColumnElement[Any] = keys[0] if len(keys) == 1 else tuple_(*keys)
    width = len(keys)
    last: tuple[object, ...] | None = None
    while True:
        with engine.begin() as connection:
            query = (
                select(*keys, value)
                .where(value.is_not(None), ~_under(value, keyring.active_key_id))
                .order_by(*keys)
                .limit(batch_size)
            )
            if last is not None:
                query = query.where(key > (last[0] if width == 1 else tuple_(*last)))
            rows = connection.execute(query).all()
            if not rows:
                return
            done = 0
            for row in rows:
                row_keys, old = tuple(row[:width]), str(row[width])
                plain = keyring.decrypt(old, context=encrypted.context)
                new = keyring.encrypt(plain, context=encrypted.context)
                same_row = [k == v for k, v in zip(keys, row_keys, strict=True)]
                result = connection.execute(
                    update(source).where(*same_row, value == old).values({value: new})
                )
                done += int(result.rowcount)
            last = tuple(rows[-1][:width])
        yield done, len(rows) - done


def next_key_id(keyring: Keyring) -> str:
    numbers = [int(m.group(1)) for k in keyring.encryption_keys if (m := NUMBERED_KEY.match(k))]
    return f"k{max(numbers, default=0) + 1}"


def add_key(path: Path, keyring: Keyring, key_id: str | None = None) -> Keyring:
    """A new active key, written to the key file first (atomically); older keys are kept."""
    key_id = key_id or next_key_id(keyring)
    if key_id in keyring.encryption_keys:
        raise DomainError(f"--key-id: there is already a key '{key_id}'")
    rotated = Keyring(
        encryption_keys={**keyring.encryption_keys, key_id: b64decode(new_key())},
        active_key_id=key_id,
        mac_key=keyring.mac_key,
    )
    write_key_file(path, rotated)
    return rotated


def retire_key(path: Path, keyring: Keyring, key_id: str, engine: Engine) -> Keyring:
    """Remove a key from the key file once nothing is sealed under it."""
    check_retirable(engine, keyring, key_id)
    retired = Keyring(
        encryption_keys={k: v for k, v in keyring.encryption_keys.items() if k != key_id},
        active_key_id=keyring.active_key_id,
        mac_key=keyring.mac_key,
    )
    write_key_file(path, retired)
    return retired


def check_retirable(engine: Engine, keyring: Keyring, key_id: str) -> None:
    if key_id not in keyring.encryption_keys:
        raise DomainError(
            f"there is no key '{key_id}' (keys: {', '.join(keyring.encryption_keys)})"
        )
    if key_id == keyring.active_key_id:
        raise DomainError(f"'{key_id}' is the active key: rotate to a new key before retiring it")
    remaining = key_usage(engine, keyring).counts[key_id]
    if remaining:
        raise DomainError(
            f"{remaining} stored value{'s are' if remaining != 1 else ' is'} still encrypted "
            f"under '{key_id}': run `opendpo keys reencrypt` first"
        )
