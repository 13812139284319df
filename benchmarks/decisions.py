"""The decision point at campaign scale, next to the floor (hand-written SQL), and over HTTP.

    .venv/bin/python benchmarks/decisions.py [--people 1000000] [--postgres URL] [--no-http]
        [--rounds 2] [--only sqlite|postgresql]

Data: N people, each with one email identity (encrypted, blind-indexed) and one marketing
email consent record (mostly given; some withdrawn, refused or expired), about 2% of them
suppressed and 0.5% objecting; loaded set-based (executemany on SQLite, COPY on
PostgreSQL). The consent records skip the hash chain (placeholder MACs, chain head not
advanced): the decision path reads only `consent_states`, never the chain. The campaign
list names N addresses: 95% of the people (a tenth spelled in capitals) and 5% strangers.

Measured per store, in turns, `--rounds` times each (the best run of each is shown, so both
meet the same warm cache; the first bulk run would otherwise pay for a cold one alone):
- bulk: `decide_many` over the whole list, every outcome read out (on PostgreSQL a list this
  long is decided whole, `decisions/whole_list.py`; on SQLite chunk by chunk);
- floor: the same list normalised and blind-indexed the same way, loaded into a temporary
  table, one anti-join (identities, consent_states, suppressions, flags) selecting who may
  be contacted, the result read out. Both share the Python stage that normalises each
  address and computes its keyed hash (the store cannot); it is timed on its own too;
- for both, the CPU time of this process and (PostgreSQL on this machine) of the server
  backend; and, in one more (traced, untimed) bulk run, the most memory Python held;
- HTTP: POST /api/v1/decisions under uvicorn with 2 workers, driven by wrk (one thread,
  C, so the load generator takes little of the same 2 cores), each request for a random
  address; needs `wrk` on the PATH (Debian: `apt-get install wrk`).
The PostgreSQL data lives in a throwaway database, dropped at the end.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from opendpo.decisions.bulk import CHUNK_SIZES, DEFAULT_CHUNK_SIZE, RowIndexer, decide_many
from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import apply_policy
from opendpo.security.api_keys import create_key
from opendpo.security.keyring import Keyring, generate_keyring
from opendpo.settings import Settings
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.store.migrate import upgrade
from opendpo.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret-key-long-enough-for-settings"
NOW = dt.datetime.now(dt.UTC)
BATCH = 20_000
console = Console()

TABLES = {
    "people": "id, name, subscriber, created_at",
    "identities": "id, person_id, kind, value, blind_index, verified_at, created_at",
    "consent_records": "seq, id, person_id, purpose, channel, state, at, method, source,"
    " client_address, user_agent, staff_id, api_key_id, notice_version, policy_version,"
    " wording, evidence, expires_at, prev_hash, hash",
    "consent_states": "person_id, purpose, channel, state, record_seq, at, expires_at,"
    " policy_version, needs_renewal",
    "suppressions": "kind, blind_index, channel, purpose, reason, source, at",
    "processing_flags": "person_id, kind, purpose, reason, source, at, lifted_at, lifted_reason",
}
FLOOR_QUERY = """
SELECT r.pos FROM recipients r
JOIN identities i ON i.kind = 'email' AND i.blind_index = r.blind_index
JOIN consent_states c
  ON c.person_id = i.person_id AND c.purpose = 'marketing' AND c.channel = 'email'
WHERE c.state = 'given' AND (c.expires_at IS NULL OR c.expires_at > :now)
  AND NOT c.needs_renewal
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.blind_index = r.blind_index
                  AND s.channel = 'email' AND s.purpose IN ('marketing', '*'))
  AND NOT EXISTS (SELECT 1 FROM processing_flags f WHERE f.person_id = i.person_id
                  AND f.lifted_at IS NULL AND f.purpose IN ('marketing', '*'))
ORDER BY r.pos
"""


def person_rows(keyring: Keyring, start: int, stop: int) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of people start..stop in every table; the same people for the same numbers."""
    rng = random.Random(start)
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}
    then = NOW - dt.timedelta(days=200)
    for number in range(start, stop):
        person_id = str(uuid.UUID(int=number + 1))
        email = f"person{number}@example.com"  # already in normal form
        index = keyring.blind_index("email", email)
        sealed = keyring.encrypt(email.encode(), context="identities.value")
        draw = rng.random()
        subscriber = "individual" if draw < 0.7 else "unknown" if draw < 0.9 else "corporate"
        draw = rng.random()
        state = "given" if draw < 0.85 else "withdrawn" if draw < 0.95 else "refused"
        expires = None if rng.random() < 0.5 else NOW + dt.timedelta(days=365)
        if state == "given" and rng.random() < 0.03:
            expires = NOW - dt.timedelta(days=1)
        renewal = rng.random() < 0.01
        rows["people"].append((person_id, None, subscriber, then))
        rows["identities"].append((person_id, person_id, "email", sealed, index, None, then))
        rows["consent_records"].append(
            (
                number + 1,
                person_id,
                person_id,
                "marketing",
                "email",
                state,
                then,
                "import",
                "benchmark",
                None,
                None,
                None,
                None,
                "1.0",
                1,
                None,
                None,
                expires,
                "0" * 64,
                "0" * 64,
            )
        )
        rows["consent_states"].append(
            (person_id, "marketing", "email", state, number + 1, then, expires, 1, renewal)
        )
        if rng.random() < 0.02:
            rows["suppressions"].append(
                ("email", index, "email", "*", "unsubscribed", "benchmark", then)
            )
        if rng.random() < 0.005:
            rows["processing_flags"].append(
                (person_id, "objection", "marketing", None, "benchmark", then, None, None)
            )
        if number % 100 == 0:  # an erased stranger, still suppressed
            stranger = keyring.blind_index("email", f"stranger{number}@example.net")
            rows["suppressions"].append(
                ("email", stranger, "email", "*", "erasure", "benchmark", then)
            )
    return rows


def recipients(count: int) -> Iterator[tuple[str, str]]:
    for number in range(count):
        if number % 20 == 0:
            yield ("email", f"stranger{number}@example.net")
        elif number % 10 == 1:
            yield ("email", f"Person{number}@EXAMPLE.com")
        else:
            yield ("email", f"person{number}@example.com")


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy's own storage format for DateTime on SQLite (naive UTC text).
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return int(value) if isinstance(value, bool) else value


def insert(engine: Engine, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            marks = ", ".join("?" for _ in columns.split(","))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                [tuple(_sqlite_value(v) for v in row) for row in rows],
            )
        else:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def populate(engine: Engine, keyring: Keyring, count: int) -> str:
    """Load the people, apply the policy and make an API key; the key's token."""
    with Progress(console=console) as progress:
        task = progress.add_task(f"{engine.dialect.name}: loading people", total=count)
        for start in range(0, count, BATCH):
            batch = person_rows(keyring, start, min(start + BATCH, count))
            for table, columns in TABLES.items():
                insert(engine, table, columns, batch[table])
            progress.advance(task, min(BATCH, count - start))
    # VACUUM too, as autovacuum would soon after such a load: it marks the pages all-visible,
    # so that index-only scans need not visit the table (both paths read the same tables).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(
            text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
        )
    with make_session_factory(engine)() as session, session.begin():
        apply_policy(session=session, document=policy(), source="benchmark", applied_by="bench")
        _, token = create_key(
            session=session, name="bench", scopes=["decisions:read"], created_by="bench"
        )
    return token


def policy() -> PolicyDocument:
    return load_policy(ROOT / "policies" / "connect-ib.yaml").document


def prepare(keyring: Keyring, rows: Iterable[tuple[str, str]]) -> list[tuple[int, str]]:
    """The Python stage both paths share: normal form and keyed hash of each address."""
    indexer = RowIndexer(keyring)
    return [(pos, indexer(kind, value)) for pos, (kind, value) in enumerate(rows)]


@dataclass(frozen=True)
class Run:
    seconds: float
    python_cpu: float  # CPU time of this process (all its threads)
    store_cpu: float | None  # CPU time of the PostgreSQL backend, where it can be read
    allowed: list[int]
    stages: dict[str, float]


def backend_cpu(connection: Connection) -> float | None:
    """CPU seconds used so far by the PostgreSQL backend serving `connection`, if the server
    runs on this machine (read from /proc); None for SQLite, which runs in this process."""
    if connection.dialect.name != "postgresql":
        return None
    pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def run_bulk(engine: Engine, keyring: Keyring, document: PolicyDocument, count: int) -> Run:
    allowed = []
    with make_session_factory(engine)() as session:
        store_before = backend_cpu(session.connection())
        python_before, start = time.process_time(), time.perf_counter()
        outcomes = decide_many(
            session=session,
            keyring=keyring,
            policy=document,
            purpose="marketing",
            channel="email",
            rows=recipients(count),
            now=NOW,
        )
        for pos, outcome in enumerate(outcomes):
            if outcome.allowed:
                allowed.append(pos)
        seconds, python = time.perf_counter() - start, time.process_time() - python_before
        store = _spent(store_before, backend_cpu(session.connection()))
    return Run(seconds, python, store, allowed, {})


def run_floor(engine: Engine, keyring: Keyring, count: int) -> Run:
    times: dict[str, float] = {}
    with engine.begin() as connection:
        store_before = backend_cpu(connection)
        python_before, start = time.process_time(), time.perf_counter()
        prepared = prepare(keyring, recipients(count))
        times["prepare"] = time.perf_counter() - start
        start = time.perf_counter()
        raw: Any = connection.connection.dbapi_connection
        cursor = raw.cursor()
        cursor.execute(
            "CREATE TEMPORARY TABLE recipients (pos INTEGER PRIMARY KEY, blind_index TEXT)"
        )
        if engine.dialect.name == "sqlite":
            cursor.executemany("INSERT INTO recipients VALUES (?, ?)", prepared)
        else:
            with cursor.copy("COPY recipients (pos, blind_index) FROM STDIN") as copy:
                for row in prepared:
                    copy.write_row(row)
        cursor.execute("ANALYZE recipients")
        times["load"] = time.perf_counter() - start
        start = time.perf_counter()
        moment = _sqlite_value(NOW) if engine.dialect.name == "sqlite" else NOW
        allowed = [pos for (pos,) in connection.execute(text(FLOOR_QUERY), {"now": moment})]
        times["query"] = time.perf_counter() - start
        python = time.process_time() - python_before
        store = _spent(store_before, backend_cpu(connection))
        cursor.execute("DROP TABLE recipients")
    return Run(sum(times.values()), python, store, allowed, times)


def compare(engine: Engine, keyring: Keyring, count: int, rounds: int) -> tuple[Run, Run]:
    """The best of `rounds` runs of each, taken in turns so that both meet the same cache
    and the same neighbours."""
    document = policy()
    bulk_runs, floor_runs = [], []
    for _ in range(rounds):
        bulk_runs.append(run_bulk(engine, keyring, document, count))
        floor_runs.append(run_floor(engine, keyring, count))
        if bulk_runs[-1].allowed != floor_runs[-1].allowed:
            raise RuntimeError("the floor and decide_many disagree on who is allowed")
    best = min(bulk_runs, key=lambda run: run.seconds)
    return best, min(floor_runs, key=lambda run: run.seconds)


def traced_peak(engine: Engine, keyring: Keyring, count: int) -> float:
    """MiB: the most memory Python held at once during one more bulk run (untimed: tracing
    slows it), less what the list of allowed positions took."""
    tracemalloc.start()
    try:
        run = run_bulk(engine, keyring, policy(), count)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - sys.getsizeof(run.allowed) - 28 * len(run.allowed)) / 2**20


def cpu(run: Run) -> str:
    store = "" if run.store_cpu is None else f" + store {run.store_cpu:.1f} s"
    return f"Python {run.python_cpu:.1f} s{store}"


def settings_env(url: str, keyring: Keyring) -> dict[str, str]:
    keys = ",".join(
        f"{key_id}:{base64.b64encode(key).decode()}"
        for key_id, key in keyring.encryption_keys.items()
    )
    return {
        "OPENDPO_DATABASE_URL": url,
        "OPENDPO_SECRET_KEY": SECRET,
        "OPENDPO_ENCRYPTION_KEYS": keys,
        "OPENDPO_MAC_KEY": base64.b64encode(keyring.mac_key).decode(),
        "OPENDPO_LOG_LEVEL": "WARNING",
    }


def app_factory() -> FastAPI:
    """For uvicorn's worker processes: the app for the OPENDPO_* settings in the environment."""
    return create_app(Settings())


# wrk draws each request's address at random from the people (and a few strangers), so the
# server cannot answer from any cache; `done` prints the latency percentiles as one line.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local count = %(count)d
request = function()
  local body = string.format(
    '{"identity":{"kind":"email","value":"person%%d@example.com"},'
    .. '"purpose":"marketing","channel":"email"}', math.random(0, count + math.floor(count / 20)))
  return wrk.format(nil, "/api/v1/decisions", nil, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%f %%f %%f %%f\\n",
    summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


@dataclass(frozen=True)
class HttpFigures:
    rate: float
    p50: float
    p95: float
    p99: float
    worst: float


def run_wrk(port: int, token: str, count: int, seconds: float, concurrency: int) -> HttpFigures:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"token": token, "count": count})
    try:
        command = ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{seconds:.0f}s"]
        command += ["-s", script.name, f"http://127.0.0.1:{port}"]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        Path(script.name).unlink()
    line = next((ln for ln in output.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {output[-300:]}")
    requests, duration, errors, p50, p95, p99, worst = line.split()[1:]
    if int(errors):
        raise RuntimeError(f"{errors} of {requests} requests failed: {output[-300:]}")
    return HttpFigures(
        int(requests) / (int(duration) / 1e6), float(p50), float(p95), float(p99), float(worst)
    )


def measure_http(
    url: str, keyring: Keyring, token: str, count: int, seconds: float, concurrency: int
) -> HttpFigures | str:
    if shutil.which("wrk") is None:
        return "skipped: wrk is not installed (apt-get install wrk)"
    port = 8000 + random.randrange(1000)
    command = [sys.executable, "-m", "uvicorn", "decisions:app_factory", "--factory"]
    command += ["--app-dir", str(Path(__file__).parent), "--workers", "2", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    server = subprocess.Popen(command, env={**os.environ, **settings_env(url, keyring)})
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        probe = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/decisions",
            headers={"authorization": f"Bearer {token}"},
            json={
                "identity": {"kind": "email", "value": "person1@example.com"},
                "purpose": "marketing",
                "channel": "email",
            },
        )
        if probe.status_code != 200:
            return f"POST /api/v1/decisions answered {probe.status_code}"
        run_wrk(port, token, count, 3, concurrency)  # warm up both workers
        return run_wrk(port, token, count, seconds, concurrency)
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_store(name: str, url: str, args: argparse.Namespace, table: Table) -> None:
    keyring = generate_keyring()
    engine = make_engine(url, keyring=keyring)
    upgrade(engine)
    try:
        token = populate(engine, keyring, args.people)
        console.print(f"{name}: bulk decisions and the floor, {args.rounds} rounds…")
        bulk, floor = compare(engine, keyring, args.people, args.rounds)
        held = traced_peak(engine, keyring, args.people)
        chunk = CHUNK_SIZES.get(engine.dialect.name, DEFAULT_CHUNK_SIZE)
        how = "the whole list" if engine.dialect.name == "postgresql" else f"chunks of {chunk:,}"
        table.add_row(
            f"{name}: decide_many ({how})",
            f"{bulk.seconds:.1f} s",
            f"{args.people / bulk.seconds:,.0f} rows/s",
            f"{bulk.seconds / floor.seconds:.2f}x",
        )
        stages = " + ".join(f"{stage} {seconds:.1f}" for stage, seconds in floor.stages.items())
        table.add_row(
            f"{name}: floor ({stages})",
            f"{floor.seconds:.1f} s",
            f"{args.people / floor.seconds:,.0f} rows/s",
            "",
        )
        table.add_row(f"{name}: CPU, decide_many", cpu(bulk), "", "")
        table.add_row(f"{name}: CPU, floor", cpu(floor), "", "")
        table.add_row(f"{name}: memory held at most by decide_many", f"{held:.0f} MiB", "", "")
        table.add_row(f"{name}: allowed", f"{len(bulk.allowed):,} of {args.people:,}", "", "")
        if args.http:
            console.print(f"{name}: HTTP load…")
            try:
                result = measure_http(
                    url, keyring, token, args.people, args.seconds, args.concurrency
                )
            except (httpx.HTTPError, RuntimeError, subprocess.CalledProcessError) as exc:
                result = f"failed: {type(exc).__name__}: {exc}"[:200]  # a finding: reported
            if isinstance(result, str):
                table.add_row(f"{name}: HTTP single decisions", result, "", "")
            else:
                table.add_row(
                    f"{name}: HTTP POST /api/v1/decisions, 2 workers, {args.concurrency} clients",
                    f"{result.rate:,.0f} req/s",
                    f"p50 {result.p50:.1f} / p95 {result.p95:.1f} / p99 {result.p99:.1f}"
                    f" / max {result.worst:.0f} ms",
                    "",
                )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-http", dest="http", action="store_false")
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs of bulk and floor each; the best is shown"
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    table = Table("what", "time / rate", "rate / latency", "vs floor", title="decisions")
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            bench_store("sqlite", f"sqlite:///{folder}/bench.db", args, table)
    if args.only != "sqlite":
        with throwaway_database(args.postgres) as url:
            bench_store("postgresql", url, args, table)
    console.print(table)


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    """A database made for this run and dropped after it, whatever happens."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"opendpo_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
