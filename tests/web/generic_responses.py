"""The generic-response rule, as an assertion later forms reuse (docs/security.md).

A public form that takes an identity (an email, a telephone number) must answer a known and
an unknown identity alike, or it tells a stranger who is on file. Copy the pattern:

    known = await client.post("/privacy/requests", data={"email": KNOWN, ...})
    unknown = await client.post("/privacy/requests", data={"email": UNKNOWN, ...})
    assert_indistinguishable(known, unknown)
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

# Headers that differ between any two responses, whoever they are about.
ALWAYS_DIFFERENT = frozenset({"date"})


def assert_indistinguishable(
    first: httpx.Response, second: httpx.Response, *, ignore_headers: Iterable[str] = ()
) -> None:
    """Same status, same headers (bar `date` and `ignore_headers`), same body, byte for byte."""
    ignored = ALWAYS_DIFFERENT | {name.lower() for name in ignore_headers}

    def visible(response: httpx.Response) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in response.headers.items() if k.lower() not in ignored)

    assert first.status_code == second.status_code
    assert visible(first) == visible(second)
    assert first.content == second.content
