"""Vendor the web front-end assets from the npm registry at the versions pinned in
`opendpo.web.assets`.

Each package tarball is downloaded from https://registry.npmjs.org, its sha512 checked against
the pinned `dist.integrity`, and only the listed files plus the licence are extracted into
`src/opendpo/web/static/vendor/<name>-<version>/`. Folders of versions no longer pinned are
removed. Run: `.venv/bin/python scripts/vendor_assets.py`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import sys
import tarfile
import urllib.request

from opendpo.web.assets import VENDOR_DIR, VENDORED, VendoredPackage

TIMEOUT_SECONDS = 60


class IntegrityError(Exception):
    pass


def download(url: str) -> bytes:
    if not url.startswith("https://registry.npmjs.org/"):
        raise ValueError(f"refusing to download from outside the npm registry: {url}")
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
        data: bytes = response.read()
    return data


def check_integrity(package: VendoredPackage, data: bytes) -> None:
    algorithm, _, expected = package.integrity.partition("-")
    if algorithm != "sha512":
        raise IntegrityError(f"{package.name}: only sha512 integrity is accepted")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise IntegrityError(
            f"{package.name}@{package.version}: sha512 mismatch (expected {expected}, got {actual})"
        )


def extract(package: VendoredPackage, data: bytes) -> list[str]:
    target = VENDOR_DIR / package.folder
    if target.exists():
        shutil.rmtree(target)
    written = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for name in (*package.files, *package.licence):
            member = archive.getmember(f"package/{name}")
            if not member.isfile():
                raise IntegrityError(f"{package.name}: {name} is not a regular file")
            source = archive.extractfile(member)
            if source is None:
                raise IntegrityError(f"{package.name}: cannot read {name}")
            with source:
                content = source.read()
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(content)
            written.append(str(destination.relative_to(VENDOR_DIR)))
    return written


def remove_unpinned() -> list[str]:
    pinned = {package.folder for package in VENDORED}
    removed = []
    for folder in sorted(VENDOR_DIR.iterdir()) if VENDOR_DIR.exists() else []:
        if folder.is_dir() and folder.name not in pinned:
            shutil.rmtree(folder)
            removed.append(folder.name)
    return removed


def main() -> int:
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    for package in VENDORED:
        data = download(package.tarball_url)
        try:
            check_integrity(package, data)
        except IntegrityError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for path in extract(package, data):
            print(f"vendored {path}")
    for folder in remove_unpinned():
        print(f"removed {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
