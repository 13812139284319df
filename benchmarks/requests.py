"""Access and erasure for one person, through the engine, next to hand-written SQL (issue 6).

    .venv/bin/python benchmarks/requests.py [--customers 1000000] [--export-rows 1000000]
        [--people 20] [--rebuild] [--quick] [--postgres ADMIN_URL]
        [--only requests|export] [--no-tracemalloc]

The estate (`requests_estate.py`): nine related tables on PostgreSQL, about 10.5 rows per
customer, in a database kept between runs (`opendpo_bench`, or `opendpo_bench_quick` for
`--quick`: 10,000 customers, 10,000 export rows); `--rebuild` generates it again. OpenDPO's
store is a fresh PostgreSQL database for each run, with the policy of `requests_policy.py`
applied and the three systems connected (`opendpo systems add`, kept encrypted).

Measured for `--people` customers picked at random (the same on every run):
- access: the request planned and driven to the end in this process (`execution.start`,
  `driving.drive`: find steps across the nine tables, the package zipped, encrypted and
  stored, the report and the letter), next to the floor (`requests_floor.access`: the same
  rows read with the same predicates on one pooled connection);
- erasure: the same for an erasure request (find, mask, apply, suppression, report), next to
  the floor (`requests_floor.erase`: the same changes in one transaction). Every erasure
  starts from the person's original rows: they are saved first and put back after each
  run, and the state after the platform's erasure must equal the state after the floor's.
Each platform time is split into the connector's work (time inside `find` and `apply`) and
the rest (planning, steps, the row store, packaging, the timeline: bookkeeping). The floor
and the platform run in turns, the first of each person's runs warming the cache untimed.

Export: one customer holds `--export-rows` rows (logins, orders, items, payments); their
access request runs in a fresh process, once untraced (time, peak RSS growth) and once under
tracemalloc (peak of Python allocations), as in `export_memory.py`, next to the floor reading
the same rows (held in memory: the floor does not package them).
Results go to benchmarks/RESULTS.md by hand, with the command, machine and date.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import multiprocessing
import random
import secrets
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import requests_estate as estate
import requests_floor as floor
from requests_policy import SYSTEMS, write_policy
from requests_timing import Clock, TimedPool, reset_peak_rss, status_kib
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

from opendpo.execution import driving
from opendpo.execution import engine as execution
from opendpo.execution.records import StoredFile
from opendpo.execution.runtime import Runtime, make_runtime
from opendpo.execution.systems import save_connection
from opendpo.policy.loader import load_policy
from opendpo.policy.versions import apply_policy
from opendpo.rights.intake import submit_request
from opendpo.rights.letters import LetterContext
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.keyring import load_keyring
from opendpo.settings import Settings
from opendpo.store.engine import make_engine
from opendpo.store.migrate import upgrade

STAFF = Actor(ActorKind.STAFF, "benchmark")
console = Console(width=130)


def store_settings(store_url: str, outbox: Path, keys: dict[str, str]) -> Settings:
    return Settings(
        database_url=store_url,
        secret_key=keys["secret"],  # type: ignore[arg-type]
        encryption_keys=keys["encryption"],  # type: ignore[arg-type]
        mac_key=keys["mac"],  # type: ignore[arg-type]
        outbox_path=outbox,
    )


def new_keys() -> dict[str, str]:
    return {
        "secret": secrets.token_urlsafe(48),
        "encryption": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "mac": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def open_runtime(settings: Settings, clock: Clock) -> Runtime:
    keyring = load_keyring(settings)
    engine = make_engine(settings.database_url, keyring=keyring)
    runtime = make_runtime(settings=settings, engine=engine, keyring=keyring, environ={})
    runtime.pool = TimedPool({}, clock)
    event.listen(engine, "before_cursor_execute", clock.count)
    return runtime


def prepare_store(settings: Settings, estate_url: str, folder: Path) -> None:
    """Migrate the store, apply the policy and connect the three systems."""
    runtime = open_runtime(settings, Clock())
    upgrade(runtime.engine)
    path = write_policy(folder)
    with runtime.session_factory() as session:
        apply_policy(
            session=session, document=load_policy(path).document, source=str(path),
            applied_by="benchmark",
        )  # fmt: skip
        for key, _ in SYSTEMS:
            config = {"type": "sql", "url": estate_url, "pool_size": 2}
            save_connection(session=session, key=key, config=config, datasets=[], added_by="bench")
        session.commit()
    runtime.close()
    runtime.engine.dispose()


def run_request(runtime: Runtime, kind: str, email: str) -> tuple[float, float, dict[str, int]]:
    """(seconds from planning to the last step, of which in connectors, rows per collection);
    the store statements it took are counted on the runtime's clock."""
    with runtime.session_factory() as session:
        policy = runtime.policy(session)
        request, _ = submit_request(
            session=session, keyring=runtime.keyring, policy=policy, kind=kind,
            identities=[("email", email)], details={}, channel="api", actor=STAFF,
            context=LetterContext(policy, runtime.links, runtime.settings.base_url),
            verified_evidence="checked by the benchmark",
        )  # fmt: skip
        session.commit()
        request_id = request.id
    clock = runtime.pool.clock  # type: ignore[attr-defined]
    before = clock.seconds
    clock.statements = 0
    started = time.perf_counter()
    with runtime.session_factory() as session:
        request = session.get_one(type(request), request_id)
        execution.start(session=session, runtime=runtime, request=request, actor=STAFF)
        session.commit()
    steps = driving.drive(runtime, request_id)
    seconds = time.perf_counter() - started
    # Telling recipients of an erasure (Art 19) is left to staff: not the engine's work.
    told = [s for s in steps if s.phase == "notify" and s.status == "waiting"]
    failed = [s for s in steps if s.status not in ("done", "skipped") and s not in told]
    if failed:
        problems = [(s.seq, s.error) for s in failed]
        raise SystemExit(f"{kind} for {email}: steps not done: {problems}")
    counts: dict[str, int] = {}
    for step in steps:
        if step.phase == "find":
            counts.update(step.summary.get("rows", {}))
    return seconds, clock.seconds - before, counts


def warm_up(runtime: Runtime, connection: psycopg.Connection[Any], email: str) -> None:
    """A worker's first requests learn each table's columns and fill its pools: done once,
    untimed, for someone outside the sample, whose rows are put back after the erasure."""
    saved = floor.snapshot(connection, floor.keys_of(floor.access(connection, [email])))
    for kind in ("access", "erasure"):
        run_request(runtime, kind, email)
    floor.restore(connection, saved)


def floor_counts(rows: floor.Rows) -> dict[str, int]:
    datasets = {"tickets": "support", "ticket_messages": "support", "logins": "web"}
    datasets["newsletter_subscriptions"] = "web"
    return {f"{datasets.get(t, 'shop')}.{t}": len(r) for t, r in rows.items()}


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def one_person(
    runtime: Runtime,
    connection: psycopg.Connection[Any],
    kind: str,
    email: str,
    *,
    floor_first: bool,
) -> dict[str, float]:
    """Platform, its connectors' share, and floor seconds for one person, in the order given;
    an erasure is undone after each run and both runs must leave the same state."""
    original = floor.access(connection, [email])  # warms the cache, untimed
    keys = floor.keys_of(original)
    saved = floor.snapshot(connection, keys)
    erasure_key = runtime.keyring.derived_key("erasure")
    got: dict[str, float] = {"rows": sum(len(r) for r in original.values())}
    after: dict[str, floor.Rows] = {}
    for turn in ("floor", "platform") if floor_first else ("platform", "floor"):
        if turn == "platform":
            got["platform"], got["connector"], counts = run_request(runtime, kind, email)
            got["statements"] = runtime.pool.clock.statements  # type: ignore[attr-defined]
            if counts != floor_counts(original):
                raise SystemExit(f"{email}: the platform found {counts}, the floor {original}")
        elif kind == "access":
            got["floor"], _ = timed(lambda: floor.access(connection, [email]))
        else:
            got["floor"], _ = timed(lambda: floor.erase(connection, [email], erasure_key))
        if kind == "erasure":
            after[turn] = floor.snapshot(connection, keys)
            floor.restore(connection, saved)
    if kind == "erasure":
        if after["platform"] != after["floor"]:
            diff = [t for t in after["floor"] if after["floor"][t] != after["platform"][t]]
            raise SystemExit(f"{email}: the platform's and the floor's erasures differ in {diff}")
        if after["floor"] == saved:
            raise SystemExit(f"{email}: the erasure changed nothing")
    return got


def measure_people(
    runtime: Runtime, connection: psycopg.Connection[Any], people: list[int], kind: str
) -> dict[str, list[float]]:
    """Each measure per person: platform and floor seconds, connector seconds, rows."""
    times: dict[str, list[float]] = {
        "platform": [], "connector": [], "floor": [], "rows": [], "statements": []
    }  # fmt: skip
    for turn, number in enumerate(people):
        email = estate.customer_email(number)
        got = one_person(runtime, connection, kind, email, floor_first=turn % 2 == 0)
        for name, values in times.items():
            values.append(got[name])
    return times


def export_run(store_url: str, keys: dict[str, str], trace: bool) -> dict[str, float]:
    """In a fresh process: the export person's access request, end to end."""
    with tempfile.TemporaryDirectory() as folder:
        settings = store_settings(store_url, Path(folder), keys)
        runtime = open_runtime(settings, Clock())
        rss = reset_peak_rss()
        if trace:
            tracemalloc.start()
        seconds, connector, counts = run_request(runtime, "access", estate.EXPORT_EMAIL)
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
        grown = status_kib("VmHWM") - rss
        with runtime.session_factory() as session:
            size = session.scalar(
                select(func.max(StoredFile.size)).where(StoredFile.purpose.like("%package"))
            )
        runtime.close()
        runtime.engine.dispose()
    return {
        "seconds": seconds,
        "connector": connector,
        "rows": sum(counts.values()),
        "rss": grown / 1024,
        "traced": peak / 2**20,
        "size": (size or 0) / 2**20,
    }


def _database(admin_url: str, name: str, *, fresh: bool) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        )
        if exists and fresh:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        if not exists or fresh:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _ms(values: list[float]) -> tuple[str, str]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.1f}", f"{p95 * 1000:.1f}"


def report(kind: str, times: dict[str, list[float]]) -> None:
    table = Table(
        "what", "median ms", "p95 ms", "vs floor (median of ratios)",
        title=f"{kind} for one person ({len(times['floor'])} people, "
        f"{statistics.median(times['rows']):.0f} rows and "
        f"{statistics.median(times['statements']):.0f} store statements each at the median)",
    )  # fmt: skip
    ratios = [p / f for p, f in zip(times["platform"], times["floor"], strict=True)]
    rest = [p - c for p, c in zip(times["platform"], times["connector"], strict=True)]
    table.add_row("floor: hand-written SQL", *_ms(times["floor"]), "")
    table.add_row("platform: start + drive", *_ms(times["platform"]),
                  f"{statistics.median(ratios):.2f}x")  # fmt: skip
    table.add_row("  of which in connectors", *_ms(times["connector"]), "")
    table.add_row("  of which bookkeeping", *_ms(rest), "")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="10,000 customers, 10,000 rows")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--only", choices=("requests", "export"))
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    if args.quick:
        args.customers, args.export_rows, args.people = 10_000, 10_000, min(args.people, 6)
    name = "opendpo_bench_quick" if args.quick else "opendpo_bench"
    estate_url = _database(args.postgres, name, fresh=False)
    bench = create_engine(estate_url)
    if args.rebuild or not estate.present(bench, args.customers, args.export_rows):
        with console.status("generating the estate") as status:
            estate.build(bench, args.customers, args.export_rows, status.update)
    sizes = estate.table_sizes(bench)
    bench.dispose()
    console.print(f"estate {name}: {sum(sizes.values()):,} rows: {sizes}")
    store_name = f"opendpo_bench_store_{uuid.uuid4().hex[:8]}"
    store_url = _database(args.postgres, store_name, fresh=True)
    keys = new_keys()
    chosen = random.Random(6).sample(range(1, args.customers + 1), 2 * args.people)
    raw = make_url(estate_url).set(drivername="postgresql").render_as_string(False)
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = store_settings(store_url, Path(folder) / "outbox", keys)
            prepare_store(settings, estate_url, Path(folder))
            runtime = open_runtime(settings, Clock())
            with psycopg.connect(raw, autocommit=True) as connection:
                spare = next(n for n in range(1, args.customers + 1) if n not in chosen)
                if args.only in (None, "requests"):
                    warm_up(runtime, connection, estate.customer_email(spare))
                for kind, people in (
                    ("access", chosen[: args.people]),
                    ("erasure", chosen[args.people :]),
                ):
                    if args.only in (None, "requests"):
                        report(kind, measure_people(runtime, connection, people, kind))
            runtime.close()
            runtime.engine.dispose()
        if args.only in (None, "export") and args.export_rows:
            export(store_url, keys, raw, args.export_rows, trace=not args.no_tracemalloc)
    finally:
        _drop(args.postgres, store_name)


def export(store_url: str, keys: dict[str, str], raw: str, rows: int, *, trace: bool) -> None:
    spawn = multiprocessing.get_context("spawn")
    table = Table(
        "run", "rows", "seconds", "vs floor", "of which connectors", "rows/s",
        "peak RSS above start MiB",
        "tracemalloc peak MiB", "zip MiB", title="access request for one person with "
        f"{rows:,} rows (+1 customer row), end to end",
    )  # fmt: skip
    with psycopg.connect(raw, autocommit=True) as connection:
        floor.access(connection, [estate.EXPORT_EMAIL])  # warms the cache, untimed
        seconds, found = timed(lambda: floor.access(connection, [estate.EXPORT_EMAIL]))
    count = sum(len(r) for r in found.values())
    del found
    table.add_row(
        "floor (hand-written SQL)", f"{count:,}", f"{seconds:.2f}", "", "",
        f"{count / seconds:,.0f}", "", "", "",
    )  # fmt: skip
    for traced in (False, True) if trace else (False,):
        with spawn.Pool(1) as pool:
            got = pool.apply(export_run, (store_url, keys, traced))
        table.add_row(
            "platform, traced" if traced else "platform", f"{got['rows']:,.0f}",
            f"{got['seconds']:.1f}", f"{got['seconds'] / seconds:.1f}x", f"{got['connector']:.1f}",
            f"{got['rows'] / got['seconds']:,.0f}", f"{got['rss']:.1f}",
            f"{got['traced']:.1f}" if traced else "-", f"{got['size']:.1f}",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    started = dt.datetime.now(dt.UTC)
    main()
    console.print(f"started {started:%Y-%m-%d %H:%M} UTC, took {dt.datetime.now(dt.UTC) - started}")
