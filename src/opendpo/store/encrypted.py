"""Column types that encrypt on the way in and decrypt on the way out (AES-GCM, see keyring).

The keyring belongs to the engine (`make_engine(url, keyring=...)`), not to a global: two apps
in one process can hold different keys, and a missing key is a clear error at the first use.

When the keys came from a key file, the engine watches it: after `opendpo keys rotate` a
running server encrypts under the new key within a second and decrypts values re-encrypted
under it at once, without a restart.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

from opendpo.security.errors import KeyProblem
from opendpo.security.keyring import Keyring, key_id_of, read_key_file
from opendpo.store import json_text

logger = logging.getLogger("opendpo.store.keys")

KEYRING_ATTRIBUTE = "opendpo_keyring"
WATCH_ATTRIBUTE = "opendpo_key_file_watch"
CHECK_EVERY_SECONDS = 1.0


@dataclass
class KeyFileWatch:
    path: Path
    modified_ns: int
    checked_at: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


def attach_keyring(dialect: Dialect, keyring: Keyring | None, key_file: Path | None = None) -> None:
    setattr(dialect, KEYRING_ATTRIBUTE, keyring)
    watch = None
    if keyring is not None and key_file is not None and key_file.exists():
        watch = KeyFileWatch(key_file, key_file.stat().st_mtime_ns)
    setattr(dialect, WATCH_ATTRIBUTE, watch)


def _refresh(dialect: Dialect, watch: KeyFileWatch, *, now: bool) -> None:
    """Reload the key file if it changed (checked at most once a second unless `now`)."""
    if not now and time.monotonic() - watch.checked_at < CHECK_EVERY_SECONDS:
        return
    with watch.lock:
        watch.checked_at = time.monotonic()
        try:
            modified = watch.path.stat().st_mtime_ns
        except OSError:
            return
        if modified == watch.modified_ns:
            return
        current = getattr(dialect, KEYRING_ATTRIBUTE)
        try:
            loaded = read_key_file(watch.path)
        except KeyProblem as exc:
            logger.error(
                "the key file changed but cannot be read; keeping the keys in use: %s", exc
            )
            return
        if loaded.mac_key != current.mac_key:
            # Blind indexes and chains depend on it: a different one would lose every lookup.
            logger.error("the key file's MAC key changed; keeping the keys in use")
            return
        watch.modified_ns = modified
        setattr(dialect, KEYRING_ATTRIBUTE, loaded)
        logger.info("key file reloaded; active key %s", loaded.active_key_id)


def keyring_of(dialect: Dialect, *, needed_key: str | None = None) -> Keyring:
    watch = getattr(dialect, WATCH_ATTRIBUTE, None)
    if isinstance(watch, KeyFileWatch):
        current = getattr(dialect, KEYRING_ATTRIBUTE)
        missing = needed_key is not None and needed_key not in current.encryption_keys
        _refresh(dialect, watch, now=missing)
    keyring = getattr(dialect, KEYRING_ATTRIBUTE, None)
    if keyring is None:
        raise KeyProblem(
            "this store holds encrypted personal data but no keys were loaded: "
            "run `opendpo keys init` or set OPENDPO_ENCRYPTION_KEYS and OPENDPO_MAC_KEY"
        )
    assert isinstance(keyring, Keyring)
    return keyring


class Encrypted(TypeDecorator[str]):
    """Text stored as `<key id>.<nonce+ciphertext>`; `context` names the column it belongs to."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).encrypt(value.encode(), context=self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        keyring = keyring_of(dialect, needed_key=key_id_of(value))
        return keyring.decrypt(value, context=self.context).decode()


class EncryptedJSON(TypeDecorator[Any]):
    """Any JSON value, encrypted whole: request details, consent proofs, connector secrets.

    `default` writes values JSON has no type for (as `json.dumps` takes it). A column of bulk
    rows passes one, and `sort_keys=False`: its values are then written as `json_text` writes
    rows, ten times faster, with NaN and infinities as null.
    """

    impl = Text
    cache_ok = True

    def __init__(
        self,
        context: str,
        *,
        default: Callable[[Any], Any] | None = None,
        sort_keys: bool = True,
    ) -> None:
        super().__init__()
        self.context = context
        self.default = default
        self.sort_keys = sort_keys

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).encrypt(self._encode(value), context=self.context)

    def _encode(self, value: Any) -> bytes:
        if not self.sort_keys:
            return json_text.dumps(value, default=self.default).encode()
        return json.dumps(
            value, separators=(",", ":"), sort_keys=self.sort_keys, default=self.default
        ).encode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        keyring = keyring_of(dialect, needed_key=key_id_of(value))
        return json_text.loads(keyring.decrypt(value, context=self.context))


class EncryptedBytes(TypeDecorator[bytes]):
    """Bytes (a block of a stored file), encrypted like text so that key rotation covers it."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).encrypt(value, context=self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        keyring = keyring_of(dialect, needed_key=key_id_of(value))
        return keyring.decrypt(value, context=self.context)


ENCRYPTED_TYPES = (Encrypted, EncryptedJSON, EncryptedBytes)
