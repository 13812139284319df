"""Vendored front-end assets: present, licensed, pinned, and checked on download."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import typing
from pathlib import Path
from types import ModuleType

import pytest

from opendpo.policy import wording
from opendpo.policy.model import notice, purposes, sharing, systems
from opendpo.web.assets import VENDOR_DIR, VENDORED, asset_path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "vendor_assets.py"


def vendor_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_assets", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_pinned_file_and_licence_is_vendored() -> None:
    for package in VENDORED:
        for file in (*package.files, *package.licence):
            path = VENDOR_DIR / package.folder / file
            assert path.is_file() and path.stat().st_size > 0, path
    assert sorted(p.name for p in VENDOR_DIR.iterdir()) == sorted(p.folder for p in VENDORED)


def test_asset_paths_name_only_vendored_files() -> None:
    assert asset_path("htmx.org", "dist/htmx.min.js") == "vendor/htmx.org-2.0.8/dist/htmx.min.js"
    with pytest.raises(KeyError):
        asset_path("htmx.org", "dist/htmx.js")
    with pytest.raises(KeyError):
        asset_path("left-pad", "index.js")


def test_the_vendoring_script_rejects_a_tampered_tarball() -> None:
    script = vendor_script()
    package = VENDORED[0]
    with pytest.raises(script.IntegrityError):
        script.check_integrity(package, b"not the tarball")
    data = b"some bytes"
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    genuine = type(package)(
        package.name, package.version, f"sha512-{digest}", package.files, package.licence
    )
    script.check_integrity(genuine, data)
    with pytest.raises(ValueError, match="npm registry"):
        script.download("https://example.com/pico.tgz")


@pytest.mark.parametrize(
    ("codes", "table"),
    [
        (purposes.LawfulBasis, wording.LAWFUL_BASIS),
        (purposes.LawfulBasis, purposes.LAWFUL_BASIS_NAMES),
        (systems.ClockStart, wording.CLOCK_START),
        (sharing.RecipientKind, wording.RECIPIENT_KIND),
        (sharing.TransferMechanism, wording.TRANSFER_MECHANISM),
        (notice.CookieCategory.model_fields["consent"].annotation, wording.COOKIE_CONSENT),
        (sharing.Recipient.model_fields["role"].annotation, wording.ROLE),
    ],
)
def test_every_code_of_the_schema_has_plain_words(codes: object, table: dict[str, str]) -> None:
    assert set(typing.get_args(codes)) <= set(table)
