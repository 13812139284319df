"""The keys that protect personal data in the store, and the two things done with them.

Encryption: AES-256-GCM under the active key; each ciphertext starts with its key id, so older
keys keep decrypting until `opendpo keys rotate` has re-encrypted everything under a new one.
The ciphertext is bound to what it holds (`context`, e.g. "identities.value"): a value copied
into another column does not decrypt.

Keyed hashes (HMAC-SHA-256 under the MAC key): blind indexes that find a person by email
without storing the email, and the audit chain that a thief of the database cannot re-forge.
The MAC key never rotates with the encryption keys, or every index and chain would break.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from opendpo.security.errors import KeyProblem
from opendpo.settings import Settings

KEY_ID = re.compile(r"^[a-z0-9-]{1,16}$")
KEY_BYTES = 32
NONCE_BYTES = 12
SEPARATOR = "."
FILE_VERSION = 1


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise KeyProblem(f"{what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyProblem(f"{what} must be {KEY_BYTES} bytes (it is {len(raw)})")
    return raw


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


@dataclass(frozen=True)
class Keyring:
    encryption_keys: dict[str, bytes]
    active_key_id: str
    mac_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for key_id in self.encryption_keys:
            if not KEY_ID.match(key_id):
                raise KeyProblem(f"key id '{key_id}' must be 1-16 of a-z, 0-9 and '-'")
        if self.active_key_id not in self.encryption_keys:
            raise KeyProblem(f"the active key '{self.active_key_id}' is not among the keys")

    def encrypt(self, plaintext: bytes, *, context: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.encryption_keys[self.active_key_id]).encrypt(
            nonce, plaintext, context.encode()
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{self.active_key_id}{SEPARATOR}{body}"

    def decrypt(self, token: str, *, context: str) -> bytes:
        key_id, _, body = token.partition(SEPARATOR)
        key = self.encryption_keys.get(key_id)
        if key is None:
            raise KeyProblem(
                f"a value in '{context}' is encrypted under key '{key_id}', which is not loaded"
            )
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise KeyProblem(
                f"a value in '{context}' failed authentication: altered, or moved from elsewhere"
            ) from None

    def derived_key(self, purpose: str) -> bytes:
        """A separate key per use of the MAC key, so that no two uses share one."""
        return hmac.new(self.mac_key, b"opendpo:" + purpose.encode(), hashlib.sha256).digest()

    def blind_index(self, kind: str, normalised: str) -> str:
        """The keyed hash by which an identity is looked up (its value is stored encrypted)."""
        message = f"{kind}\x00{normalised}".encode()
        return hmac.new(self.derived_key("blind-index"), message, hashlib.sha256).hexdigest()


def key_id_of(token: str) -> str:
    return token.partition(SEPARATOR)[0]


def _from_environment(keys_text: str, mac_text: str | None) -> Keyring:
    keys: dict[str, bytes] = {}
    for number, item in enumerate(keys_text.split(","), start=1):
        key_id, sep, value = item.strip().partition(":")
        if not sep:
            raise KeyProblem(f"OPENDPO_ENCRYPTION_KEYS item {number} must look like 'id:base64'")
        keys[key_id] = _b64decode(value, f"OPENDPO_ENCRYPTION_KEYS key '{key_id}'")
    if mac_text is None:
        raise KeyProblem("OPENDPO_MAC_KEY must be set together with OPENDPO_ENCRYPTION_KEYS")
    return Keyring(
        encryption_keys=keys,
        active_key_id=next(iter(keys)),
        mac_key=_b64decode(mac_text, "OPENDPO_MAC_KEY"),
    )


def read_key_file(path: Path) -> Keyring:
    if not path.exists():
        raise KeyProblem(
            f"no key file at {path}: create one with `opendpo keys init`, "
            "or set OPENDPO_ENCRYPTION_KEYS and OPENDPO_MAC_KEY"
        )
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyProblem(f"the key file {path} is readable by other users: chmod 600 {path}")
    try:
        data = json.loads(path.read_text())
        keys = {
            key_id: _b64decode(value, f"{path}: key '{key_id}'")
            for key_id, value in data["encryption_keys"].items()
        }
        return Keyring(
            encryption_keys=keys,
            active_key_id=data["active"],
            mac_key=_b64decode(data["mac_key"], f"{path}: mac_key"),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyProblem(f"the key file {path} is not a valid OpenDPO key file ({exc})") from None


def write_key_file(path: Path, keyring: Keyring) -> None:
    """Write atomically with owner-only permissions: a crash never leaves half a key file."""
    data = {
        "version": FILE_VERSION,
        "active": keyring.active_key_id,
        "encryption_keys": {
            key_id: base64.b64encode(key).decode()
            for key_id, key in keyring.encryption_keys.items()
        },
        "mac_key": base64.b64encode(keyring.mac_key).decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(data, indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


def generate_keyring(key_id: str = "k1") -> Keyring:
    return Keyring(
        encryption_keys={key_id: base64.b64decode(new_key())},
        active_key_id=key_id,
        mac_key=secrets.token_bytes(KEY_BYTES),
    )


def load_keyring(settings: Settings) -> Keyring:
    """The keys from the environment if given there, else from the key file."""
    if settings.encryption_keys is not None:
        mac = settings.mac_key.get_secret_value() if settings.mac_key is not None else None
        return _from_environment(settings.encryption_keys.get_secret_value(), mac)
    return read_key_file(settings.key_file)
