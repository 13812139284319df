"""The keyring: AES-GCM round trips bound to their column, and clear errors for bad keys."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from opendpo.security.errors import KeyProblem
from opendpo.security.keyring import (
    Keyring,
    generate_keyring,
    key_id_of,
    load_keyring,
    read_key_file,
    write_key_file,
)
from opendpo.settings import Settings

SECRET = "a-test-secret-that-is-long-enough-for-settings"
KEY = base64.b64encode(bytes(32)).decode()


def settings(**values: object) -> Settings:
    return Settings(secret_key=SECRET, **values)  # type: ignore[arg-type]


def test_round_trip_under_the_active_key() -> None:
    keyring = generate_keyring()
    token = keyring.encrypt(b"Zebediah", context="people.name")
    assert key_id_of(token) == "k1"
    assert b"Zebediah" not in token.encode()
    assert keyring.decrypt(token, context="people.name") == b"Zebediah"
    # A fresh nonce each time: equal values do not look equal at rest.
    assert keyring.encrypt(b"Zebediah", context="people.name") != token


def test_tampered_ciphertext_is_refused() -> None:
    keyring = generate_keyring()
    token = keyring.encrypt(b"Zebediah", context="people.name")
    body = token.split(".", 1)[1]
    flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
    with pytest.raises(KeyProblem, match="failed authentication"):
        keyring.decrypt(f"k1.{flipped}", context="people.name")


def test_ciphertext_moved_to_another_column_is_refused() -> None:
    keyring = generate_keyring()
    token = keyring.encrypt(b"+447700900461", context="identities.value")
    with pytest.raises(KeyProblem, match=r"'people\.name' failed authentication"):
        keyring.decrypt(token, context="people.name")


def test_unknown_key_id_is_named() -> None:
    old = generate_keyring("k1")
    token = old.encrypt(b"x", context="people.name")
    with pytest.raises(KeyProblem, match="under key 'k1', which is not loaded"):
        generate_keyring("k2").decrypt(token, context="people.name")


@pytest.mark.parametrize(
    ("keys", "mac", "message"),
    [
        ("k1", KEY, "OPENDPO_ENCRYPTION_KEYS item 1 must look like 'id:base64'"),
        ("k1:not base64!", KEY, "OPENDPO_ENCRYPTION_KEYS key 'k1' is not valid base64"),
        ("k1:" + base64.b64encode(bytes(16)).decode(), KEY, "must be 32 bytes \\(it is 16\\)"),
        (f"k1:{KEY}", None, "OPENDPO_MAC_KEY must be set together with"),
        (f"k1:{KEY}", "short", "OPENDPO_MAC_KEY is not valid base64"),
        (f"K_1:{KEY}", KEY, "key id 'K_1' must be 1-16 of a-z"),
    ],
)
def test_bad_environment_keys_name_the_variable(keys: str, mac: str | None, message: str) -> None:
    with pytest.raises(KeyProblem, match=message):
        load_keyring(settings(encryption_keys=keys, mac_key=mac))


def test_environment_keys_first_is_active() -> None:
    other = base64.b64encode(bytes(range(32))).decode()
    keyring = load_keyring(settings(encryption_keys=f"k2:{other},k1:{KEY}", mac_key=KEY))
    assert keyring.active_key_id == "k2"
    assert set(keyring.encryption_keys) == {"k1", "k2"}


def test_key_file_round_trip_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keys.json"
    keyring = generate_keyring()
    write_key_file(path, keyring)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = load_keyring(settings(key_file=path))
    assert loaded == keyring
    assert loaded.mac_key == keyring.mac_key


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    write_key_file(path, generate_keyring())
    path.chmod(0o644)
    with pytest.raises(KeyProblem, match=f"{path} is readable by other users: chmod 600"):
        read_key_file(path)


def test_missing_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyProblem, match=r"no key file at .*opendpo keys init"):
        read_key_file(tmp_path / "absent.json")


@pytest.mark.parametrize(
    "content",
    ["not json", '{"active": "k1"}', '{"active": "k9", "encryption_keys": {}, "mac_key": ""}'],
)
def test_malformed_key_file_names_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyProblem, match=str(path)):
        read_key_file(path)


def test_keyring_refuses_an_active_key_it_does_not_hold() -> None:
    with pytest.raises(KeyProblem, match="the active key 'k2' is not among the keys"):
        Keyring(encryption_keys={"k1": bytes(32)}, active_key_id="k2", mac_key=bytes(32))
