"""A Fides field's own masking strategy (fides_meta.masking_strategy_override) in OpenDPO's terms.

Fides names its strategies differently and configures them under `configuration`. Each maps
to the OpenDPO strategy that does the same work; where OpenDPO can only come close (Fides
salts its hashes with its own secret, encrypts reversibly with AES), the mapping says so, and
the policy checks repeat it as a warning, so that nothing a Fides dataset asks for is
dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opendpo.policy.model.erasure import Masking

FIDES_STRATEGIES = (
    "null_rewrite", "string_rewrite", "hash", "hmac", "random_string_rewrite", "aes_encrypt",
)  # fmt: skip


@dataclass(frozen=True)
class FidesMasking:
    masking: Masking
    # How OpenDPO's strategy differs from what Fides would write; "" when it does the same.
    note: str = ""
    # The override cannot be carried out as written (unknown strategy, missing setting).
    error: str = ""


def from_fides(override: Mapping[str, Any]) -> FidesMasking:
    strategy = str(override.get("strategy", ""))
    configuration: Mapping[str, Any] = override.get("configuration") or {}
    notes: list[str] = []
    if configuration.get("format_preservation"):
        notes.append("format_preservation is not supported: the masked value is written whole")
    if strategy == "null_rewrite":
        masking = Masking(strategy="null")
    elif strategy == "string_rewrite":
        if "rewrite_value" not in configuration:
            return FidesMasking(
                Masking(strategy="null"),
                error="string_rewrite needs configuration.rewrite_value",
            )
        masking = Masking(strategy="fixed", value=configuration["rewrite_value"])
    elif strategy in ("hash", "hmac"):
        algorithm = str(configuration.get("algorithm", "SHA-256")).upper()
        if algorithm != "SHA-256":
            notes.append(f"{algorithm} is not supported: SHA-256 is used")
        if strategy == "hash":
            # An unsalted hash of an email address is found again by hashing guesses; Fides
            # salts it with a secret, which is what a keyed hash does.
            notes.append("Fides salts the hash with its own secret; OpenDPO keys it with its own")
        masking = Masking(strategy="keyed_hash")
    elif strategy == "random_string_rewrite":
        length = configuration.get("length")
        if length is not None and not (
            isinstance(length, int) and not isinstance(length, bool) and 1 <= length <= 1024
        ):
            return FidesMasking(
                Masking(strategy="null"),
                error="random_string_rewrite configuration.length must be a whole number "
                "from 1 to 1024",
            )
        masking = Masking(strategy="random_string", length=length)
    elif strategy == "aes_encrypt":
        notes.append(
            "OpenDPO never encrypts reversibly (an erased value must stay erased): the value "
            "is replaced by its keyed hash"
        )
        masking = Masking(strategy="keyed_hash")
    else:
        return FidesMasking(
            Masking(strategy="null"),
            error=f"unknown Fides masking strategy '{strategy}' "
            f"(known: {', '.join(FIDES_STRATEGIES)})",
        )
    return FidesMasking(masking, "; ".join(notes))
