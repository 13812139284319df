"""How long reading the policy takes through OpenDPO, next to the floor (hand-written SQL).

    .venv/bin/python benchmarks/policy_reads.py [--rounds 300] [--postgres URL]

Measures, on the company's own policy (policies/connect-ib.yaml):
- `policy check`: YAML, schema and rules, in-process;
- GET /api/v1/purposes in-process (ASGI) with an API key (so the cost of checking it is
  counted), against the floor: one SELECT of the current document and json.loads, on the
  same engine;
- the notice page at /, against the same floor.
Results go to benchmarks/RESULTS.md by hand, with the command, machine and date.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from opendpo.policy.loader import load_policy
from opendpo.policy.versions import apply_policy
from opendpo.security.api_keys import create_key
from opendpo.security.keyring import Keyring, generate_keyring
from opendpo.settings import Settings
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.store.migrate import downgrade, upgrade
from opendpo.web.app import create_app

POLICY = Path(__file__).resolve().parent.parent / "policies" / "connect-ib.yaml"
SECRET = "benchmark-secret-key-long-enough-for-settings"
FLOOR_SQL = text("SELECT document FROM policy_versions ORDER BY number DESC LIMIT 1")


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def timed_async(fn: Callable[[], Awaitable[object]], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def floor(engine: Engine) -> Callable[[], object]:
    def run() -> object:
        with engine.connect() as connection:
            raw = connection.execute(FLOOR_SQL).scalar_one()
        return raw if isinstance(raw, dict) else json.loads(raw)

    return run


def prepare(url: str, keyring: Keyring) -> tuple[Engine, str]:
    """A store with the policy applied and an API key that may read it; the key's token."""
    engine = make_engine(url, keyring=keyring)
    upgrade(engine)
    with make_session_factory(engine)() as session, session.begin():
        document = load_policy(POLICY).document
        apply_policy(session=session, document=document, source="bench", applied_by="bench")
        _, token = create_key(
            session=session, name="bench", scopes=["policy:read"], created_by="bench"
        )
    return engine, token


def settings_for(url: str, keyring: Keyring) -> Settings:
    keys = ",".join(
        f"{key_id}:{base64.b64encode(key).decode()}"
        for key_id, key in keyring.encryption_keys.items()
    )
    return Settings(
        database_url=url,
        secret_key=SECRET,  # type: ignore[arg-type]
        encryption_keys=keys,  # type: ignore[arg-type]
        mac_key=base64.b64encode(keyring.mac_key).decode(),  # type: ignore[arg-type]
        # One client asks thousands of times: the public rate limit must not be what is timed.
        rate_limit_public="1000000/minute",
    )


async def ok(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: not what is measured")


async def measure_web(settings: Settings, token: str, rounds: int) -> dict[str, list[float]]:
    app = create_app(settings)
    results: dict[str, list[float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as client:
            for path in ("/api/v1/purposes", "/"):
                assert (await client.get(path)).status_code == 200  # warm the policy cache
                results[path] = await timed_async(lambda p=path: ok(client, p), rounds)
    return results


def row(table: Table, label: str, samples: list[float], floor_ms: float | None) -> None:
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[-1]
    ratio = f"{median / floor_ms:.1f}x" if floor_ms else ""
    table.add_row(label, f"{median:.2f}", f"{p95:.2f}", ratio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    console = Console()

    table = Table("what", "median ms", "p95 ms", "vs floor", title="policy reads")
    row(table, "policy check connect-ib.yaml", timed(lambda: load_policy(POLICY), 20), None)
    with tempfile.TemporaryDirectory() as folder:
        stores = {"sqlite": f"sqlite:///{folder}/bench.db", "postgresql": args.postgres}
        keyring = generate_keyring()
        for name, url in stores.items():
            engine, token = prepare(url, keyring)
            floor_samples = timed(floor(engine), args.rounds)
            floor_ms = statistics.median(floor_samples)
            row(table, f"{name}: floor (SELECT document + json)", floor_samples, None)
            web = asyncio.run(measure_web(settings_for(url, keyring), token, args.rounds))
            row(table, f"{name}: GET /api/v1/purposes", web["/api/v1/purposes"], floor_ms)
            row(table, f"{name}: GET / (notice page)", web["/"], floor_ms)
            engine.dispose()
            downgrade(make_engine(url), "base")  # leave the server as it was found
    console.print(table)


if __name__ == "__main__":
    main()
