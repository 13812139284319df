"""Where a connection's secrets come from: stored encrypted, or named environment variables.

A policy is code kept in version control, so it never holds a password: it names an
environment variable (`url_env: CRM_DATABASE_URL`). A system added with `opendpo systems add`
keeps its secrets in the store, encrypted at rest like all personal data.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from opendpo.connectors.base import ConnectorError


def resolve_secret(
    system: str,
    name: str,
    value: SecretStr | None,
    env_name: str | None,
    environ: Mapping[str, str],
) -> str:
    """The secret `name` of `system`, given directly or through the variable `env_name`."""
    if value is not None:
        return value.get_secret_value()
    if env_name is None:
        raise ConnectorError(system, f"no {name} given (set {name} or {name}_env)", retryable=False)
    found = environ.get(env_name)
    if not found:
        raise ConnectorError(
            system,
            f"{name}_env names {env_name}, which is not set in the environment",
            retryable=False,
        )
    return found
