"""Fixtures for running requests: a runtime on the test store, and a way to log a verified
request and run it to the end here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from five_systems import (
    Estate,
    connections,
    seed_newsletter,
    seed_sessions,
    seed_shop,
    seed_support,
    write_policy,
)
from http_crm_server import CrmServer
from running import Run, apply, plan_verified
from sqlalchemy import Engine

from opendpo.execution import driving
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime, make_runtime
from opendpo.rights.records import Request
from opendpo.security.keyring import Keyring
from opendpo.settings import Settings


@pytest.fixture
def runtime(
    settings: Settings, engine: Engine, keyring: Keyring, tmp_path: Path
) -> Iterator[Runtime]:
    tuned = settings.model_copy(
        update={"outbox_path": tmp_path / "outbox", "step_lease_seconds": 30}
    )
    made = make_runtime(settings=tuned, engine=engine, keyring=keyring, environ={})
    yield made
    made.close()


@pytest.fixture
def run_request(runtime: Runtime) -> Run:
    """Log a request with verified identities, plan it and run it to the end here."""

    def run(
        kind: str,
        *identities: tuple[str, str],
        inputs: dict[str, Any] | None = None,
        details: dict[str, str] | None = None,
    ) -> tuple[Request, list[RequestStep]]:
        request_id, _ = plan_verified(
            runtime, kind, list(identities), details=details, inputs=inputs
        )
        steps = driving.drive(runtime, request_id)
        with runtime.session_factory() as session:
            return session.get_one(Request, request_id), steps

    return run


@pytest.fixture
def estate(
    runtime: Runtime,
    tmp_path: Path,
    estate_postgres_url: str,
    estate_mariadb_url: str,
    redis_prefix: tuple[str, str],
) -> Iterator[Estate]:
    """The five systems of five_systems.py seeded, served and connected under the policy."""
    redis_url, prefix = redis_prefix
    seed_shop(estate_postgres_url)
    seed_support(estate_mariadb_url)
    newsletter = seed_newsletter(tmp_path / "newsletter.db")
    seed_sessions(redis_url, prefix)
    with CrmServer().running() as crm:
        built = Estate(estate_postgres_url, estate_mariadb_url, newsletter, redis_url, prefix, crm)
        apply(
            runtime,
            write_policy(tmp_path),
            connections(
                shop=built.shop,
                support=built.support,
                newsletter=newsletter,
                redis_url=redis_url,
                prefix=prefix,
                crm=crm,
            ),
        )
        yield built
