"""Where one person's request spends its time: the engine's parts, per request, in ms.

    .venv/bin/python benchmarks/request_parts.py [--kind access|erasure] [--people 40]
        [--quick] [--postgres ADMIN_URL]

Runs `--people` requests of one kind through the engine, as `requests.py` does (same estate,
same policy, a fresh store), after five untimed ones, and adds up the wall time spent inside
the functions named below, which nest: "engine.run_step" holds the step's work, its record
and the claim of the next. Each erasure is undone after it runs, so every person keeps their
rows. Figures go to benchmarks/RESULTS.md by hand, with the command, machine and date.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import requests as bench
import requests_estate as estate
import requests_floor as floor
from rich.console import Console
from rich.table import Table
from sqlalchemy import event
from sqlalchemy.engine import make_url

from opendpo.execution import (
    chain,
    changing,
    closing,
    driving,
    engine,
    finishing,
    package,
    phases,
)

console = Console(width=110)
# (module, function, label): the parts timed, outermost first.
PARTS: list[tuple[ModuleType, str, str]] = [
    (engine, "start", "engine.start: plan and write the steps"),
    # driving.drive calls run_step by the name it imported: wrap that one.
    (driving, "run_step", "engine.run_step: a chain of steps"),
    (phases, "_work", "  the steps' own work (find, change, package, finish)"),
    (phases, "_find", "    find: the connectors' reads and the row store"),
    (changing, "run", "    erase, rectify, restrict: plan the changes and apply them"),
    (closing, "write_package", "    package: the zip"),
    (closing, "build_report", "    package: the Art 15 report's facts"),
    (package, "render_report", "    package: the report rendered"),
    (finishing, "run", "    finish: suppression, flags, the report"),
    (phases, "record", "  record each step: outcome, rows, timeline"),
    (chain, "claim_next", "  claim the next step of the chain"),
    (chain, "ready_now", "  read the plan's steps again"),
    (engine, "deliver", "  letters: composed and sent to the outbox"),
]


class Parts:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.statements = 0
        self.commits = 0.0

    def wrap(self, module: ModuleType, name: str, label: str) -> None:
        inner: Callable[..., Any] = getattr(module, name)

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started

        setattr(module, name, timed)

    def count(self, *_: object) -> None:
        self.statements += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=("access", "erasure"), default="access")
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="the 10,000-customer estate")
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    customers = 10_000 if args.quick else 1_000_000
    name = "opendpo_bench_quick" if args.quick else "opendpo_bench"
    estate_url = bench._database(args.postgres, name, fresh=False)
    check = bench.create_engine(estate_url)
    present = estate.present(check, customers, customers)
    check.dispose()
    if not present:
        raise SystemExit(f"no estate in {name}: run benchmarks/requests.py first to build it")
    store_name = f"opendpo_bench_store_{uuid.uuid4().hex[:8]}"
    store_url = bench._database(args.postgres, store_name, fresh=True)
    raw = make_url(estate_url).set(drivername="postgresql").render_as_string(False)
    parts = Parts()
    people = random.Random(7).sample(range(1, customers + 1), args.people + 5)
    totals: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as folder, psycopg.connect(raw) as connection:
            connection.autocommit = True
            settings = bench.store_settings(store_url, Path(folder) / "outbox", bench.new_keys())
            bench.prepare_store(settings, estate_url, Path(folder))
            runtime = bench.open_runtime(settings, bench.Clock())
            for turn, number in enumerate(people):
                if turn == 5:  # the first five learn the tables and fill the pools
                    for module, function, label in PARTS:
                        parts.wrap(module, function, label)
                    event.listen(runtime.engine, "before_cursor_execute", parts.count)
                email = estate.customer_email(number)
                saved = floor.snapshot(connection, floor.keys_of(floor.access(connection, [email])))
                seconds, _, _ = bench.run_request(runtime, args.kind, email)
                if turn >= 5:
                    totals.append(seconds)
                if args.kind == "erasure":
                    floor.restore(connection, saved)
            runtime.close()
            runtime.engine.dispose()
    finally:
        bench._drop(args.postgres, store_name)
    report(args.kind, args.people, parts, totals)


def report(kind: str, people: int, parts: Parts, totals: list[float]) -> None:
    table = Table(
        "part", "ms per request (mean)", "share of the mean",
        title=f"{kind}: where a request's time goes ({people} people, median "
        f"{statistics.median(totals) * 1000:.1f} ms start to end, "
        f"{parts.statements / people:.0f} store statements each, its submission included)",
    )  # fmt: skip
    whole = sum(totals) / people
    for _, _, label in PARTS:
        spent = parts.seconds[label] / people
        table.add_row(label, f"{spent * 1000:.2f}", f"{spent / whole:.0%}")
    console.print(table)


if __name__ == "__main__":
    main()
