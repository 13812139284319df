"""What security costs on a read of personal data, next to the floor (hand-written SQL).

    .venv/bin/python benchmarks/people_reads.py [--people 10000] [--rounds 300] [--postgres URL]

GET /api/v1/people/{id} with an API key does: check the key, load the person and their
identities, decrypt every value (AES-GCM), and append a hash-chained audit entry in the same
transaction. Two floors, on the same engine and data:
- read: SELECT the person and their identities by id (no decryption, no audit);
- read + audit: the same SELECTs, then the one UPDATE of the chain head and INSERT of an
  audit row that any audited read must write, committed.
Results go to benchmarks/RESULTS.md by hand, with the command, machine and date.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
from rich.console import Console
from rich.progress import track
from rich.table import Table
from sqlalchemy import Engine, text

from opendpo.security.api_keys import create_key
from opendpo.security.keyring import Keyring, generate_keyring
from opendpo.settings import Settings
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.store.migrate import downgrade, upgrade
from opendpo.subjects.people import find_or_create_person
from opendpo.web.app import create_app

SECRET = "benchmark-secret-key-long-enough-for-settings"
READ_PERSON = text("SELECT id, name FROM people WHERE id = :id")
READ_IDENTITIES = text("SELECT kind, value FROM identities WHERE person_id = :id")
ADVANCE = text("UPDATE hash_chain_heads SET seq = seq + 1 WHERE name = 'audit'")
HEAD = text("SELECT seq, hash FROM hash_chain_heads WHERE name = 'audit'")
INSERT_ENTRY = text(
    "INSERT INTO audit_entries (seq, at, actor_kind, actor_id, action, target_kind, target_id,"
    " details, prev_hash, hash) VALUES (:seq, CURRENT_TIMESTAMP, 'api_key', 'bench',"
    " 'person.viewed', 'person', :id, :details, :prev, :hash)"
)
SEAL = text("UPDATE hash_chain_heads SET hash = :hash WHERE name = 'audit'")


def populate(engine: Engine, count: int) -> tuple[list[str], str]:
    """`count` people with an email and a phone each; their ids and an API key's token."""
    ids = []
    factory = make_session_factory(engine)
    keyring = engine.dialect.opendpo_keyring  # type: ignore[attr-defined]
    batch = 500
    for start in track(range(0, count, batch), description="people"):
        with factory() as session, session.begin():
            for number in range(start, min(start + batch, count)):
                person = find_or_create_person(
                    session=session,
                    keyring=keyring,
                    identities=[
                        ("email", f"person{number}@example.com"),
                        ("phone", f"+4477009{number:05d}"),
                    ],
                    name=f"Person {number}",
                )
                ids.append(person.id)
    with factory() as session, session.begin():
        _, token = create_key(
            session=session, name="bench", scopes=["people:read"], created_by="bench"
        )
    return ids, token


def floor_read(engine: Engine, ids: list[str]) -> Callable[[], object]:
    def run() -> object:
        person_id = random.choice(ids)
        with engine.connect() as connection:
            person = connection.execute(READ_PERSON, {"id": person_id}).one()
            identities = connection.execute(READ_IDENTITIES, {"id": person_id}).all()
        return person, identities

    return run


def floor_read_and_audit(engine: Engine, ids: list[str]) -> Callable[[], object]:
    def run() -> object:
        person_id = random.choice(ids)
        with engine.begin() as connection:
            person = connection.execute(READ_PERSON, {"id": person_id}).one()
            identities = connection.execute(READ_IDENTITIES, {"id": person_id}).all()
            connection.execute(ADVANCE)
            seq, previous = connection.execute(HEAD).one()
            entry_hash = uuid.uuid4().hex * 2  # stands in for the MAC: the floor skips it
            connection.execute(
                INSERT_ENTRY,
                {
                    "seq": seq,
                    "id": person_id,
                    "details": json.dumps({}),
                    "prev": previous,
                    "hash": entry_hash,
                },
            )
            connection.execute(SEAL, {"hash": entry_hash})
        return person, identities

    return run


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
    )


async def measure_api(settings: Settings, token: str, ids: list[str], rounds: int) -> list[float]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"authorization": f"Bearer {token}"},
        ) as client:

            async def read() -> None:
                response = await client.get(f"/api/v1/people/{random.choice(ids)}")
                if response.status_code != 200:
                    raise RuntimeError(f"answered {response.status_code}: not what is measured")

            await read()  # warm up
            return await timed_async(read, rounds)


def row(table: Table, label: str, samples: list[float], floor_ms: float | None) -> None:
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[-1]
    ratio = f"{median / floor_ms:.1f}x" if floor_ms else ""
    table.add_row(label, f"{median:.2f}", f"{p95:.2f}", ratio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    table = Table("what", "median ms", "p95 ms", "vs floor", title="audited reads of a person")
    keyring = generate_keyring()
    with tempfile.TemporaryDirectory() as folder:
        stores = {"sqlite": f"sqlite:///{folder}/bench.db", "postgresql": args.postgres}
        for name, url in stores.items():
            engine = make_engine(url, keyring=keyring)
            upgrade(engine)
            try:
                ids, token = populate(engine, args.people)
                read = timed(floor_read(engine, ids), args.rounds)
                audited = timed(floor_read_and_audit(engine, ids), args.rounds)
                api = asyncio.run(measure_api(settings_for(url, keyring), token, ids, args.rounds))
                row(table, f"{name}: floor, read (2 SELECTs)", read, None)
                floor_ms = statistics.median(audited)
                row(table, f"{name}: floor, read + audit row", audited, None)
                row(table, f"{name}: GET /api/v1/people/{{id}}", api, floor_ms)
            finally:
                engine.dispose()
                downgrade(make_engine(url), "base")  # leave the server as it was found
    Console().print(table)


if __name__ == "__main__":
    main()
