"""`opendpo ropa`: records of processing activities (UK GDPR Art 30)."""

from __future__ import annotations

import click


@click.group()
def ropa() -> None:
    """Records of processing activities (Art 30(1)) from the current policy."""
