"""Column types that encrypt on the way in and decrypt on the way out (AES-GCM, see keyring).

The keyring belongs to the engine (`make_engine(url, keyring=...)`), not to a global: two apps
in one process can hold different keys, and a missing key is a clear error at the first use.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

from opendpo.security.errors import KeyProblem
from opendpo.security.keyring import Keyring

KEYRING_ATTRIBUTE = "opendpo_keyring"


def attach_keyring(dialect: Dialect, keyring: Keyring | None) -> None:
    setattr(dialect, KEYRING_ATTRIBUTE, keyring)


def keyring_of(dialect: Dialect) -> Keyring:
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
        return keyring_of(dialect).decrypt(value, context=self.context).decode()


class EncryptedJSON(TypeDecorator[Any]):
    """Any JSON value, encrypted whole: request details, consent proofs, connector secrets."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        plain = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
        return keyring_of(dialect).encrypt(plain, context=self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(keyring_of(dialect).decrypt(value, context=self.context))


ENCRYPTED_TYPES = (Encrypted, EncryptedJSON)
