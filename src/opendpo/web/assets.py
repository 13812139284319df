"""Third-party front-end assets, vendored from the npm registry at pinned versions.

`scripts/vendor_assets.py` downloads each tarball, checks its integrity and copies the listed
files into `static/vendor/<name>-<version>/`; templates name them through `asset_path`, so a
version bump is one edit here and one run of the script.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).with_name("static")
VENDOR_DIR = STATIC_DIR / "vendor"


@dataclass(frozen=True)
class VendoredPackage:
    name: str  # as published on the npm registry
    version: str
    integrity: str  # the registry's `dist.integrity` (Subresource Integrity, sha512)
    files: tuple[str, ...]  # paths inside the tarball's `package/` folder
    licence: tuple[str, ...]

    @property
    def folder(self) -> str:
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}"

    @property
    def tarball_url(self) -> str:
        base = self.name.rsplit("/", 1)[-1]
        return f"https://registry.npmjs.org/{self.name}/-/{base}-{self.version}.tgz"

    def path(self, file: str) -> str:
        """The file's path under /static/, as templates link to it."""
        if file not in self.files:
            raise KeyError(f"{file} is not vendored from {self.name}")
        return f"vendor/{self.folder}/{file}"


PICO = VendoredPackage(
    name="@picocss/pico",
    version="2.1.1",
    integrity="sha512-kIDugA7Ps4U+2BHxiNHmvgPIQDWPDU4IeU6TNRdvXQM1uZX+FibqDQT2xUOnnO2yq/LUHcwnGlu1hvf4KfXnMg==",
    files=("css/pico.min.css",),
    licence=("LICENSE.md",),
)
HTMX = VendoredPackage(
    name="htmx.org",
    version="2.0.8",
    integrity="sha512-fm297iru0iWsNJlBrjvtN7V9zjaxd+69Oqjh4F/Vq9Wwi2kFisLcrLCiv5oBX0KLfOX/zG8AUo9ROMU5XUB44Q==",
    files=("dist/htmx.min.js",),
    licence=("LICENSE",),
)
SWAGGER_UI = VendoredPackage(
    name="swagger-ui-dist",
    version="5.35.0",
    integrity="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
    files=("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"),
    licence=("LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"),
)
VENDORED: tuple[VendoredPackage, ...] = (PICO, HTMX, SWAGGER_UI)


def asset_path(package: str, file: str) -> str:
    """Template helper: asset_path('htmx.org', 'dist/htmx.min.js')."""
    for candidate in VENDORED:
        if candidate.name == package:
            return candidate.path(file)
    raise KeyError(f"{package} is not a vendored package")
