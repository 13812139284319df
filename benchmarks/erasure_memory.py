"""Erasing a person with a million rows: time and memory, next to hand-written SQL (issue 6).

    .venv/bin/python benchmarks/erasure_memory.py [--postgres ADMIN_URL]

The person is `requests.py`'s export person (1,000,001 rows: logins, orders, their items
and payments), on the estate `requests.py` builds (`opendpo_bench`; run it first). The
erasure runs through the engine in a fresh process, as `requests.py` runs the export, and
reports its time, the time inside the connectors and the peak RSS above the start of the
run; the floor (`requests_floor.erase`: the same changes in one transaction) is timed next
to it. The person's rows are saved first and put back after each run, and both runs must
leave the same rows. The same person's dry run (`execution.dry_run`, its full JSON listing
written to a file) is measured the same way, in a fresh process. Results go to
benchmarks/RESULTS.md by hand, with the command, machine and date.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import requests as bench
import requests_estate as estate
import requests_floor as floor
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from opendpo.execution.dry_run import dry_run, write_json
from opendpo.rights.intake import submit_request
from opendpo.rights.letters import LetterContext
from opendpo.security.keyring import load_keyring

console = Console(width=110)


def platform_run(store_url: str, keys: dict[str, str]) -> dict[str, float]:
    """In a fresh process: the export person's erasure request, end to end."""
    with tempfile.TemporaryDirectory() as folder:
        settings = bench.store_settings(store_url, Path(folder), keys)
        runtime = bench.open_runtime(settings, bench.Clock())
        rss = bench.reset_peak_rss()
        seconds, connector, counts = bench.run_request(runtime, "erasure", estate.EXPORT_EMAIL)
        grown = bench.status_kib("VmHWM") - rss
        runtime.close()
        runtime.engine.dispose()
    return {"seconds": seconds, "connector": connector, "rows": sum(counts.values()),
            "rss": grown / 1024}  # fmt: skip


def dry_run_run(store_url: str, keys: dict[str, str]) -> dict[str, float]:
    """In a fresh process: the export person's erasure, previewed and listed in full."""
    with tempfile.TemporaryDirectory() as folder:
        settings = bench.store_settings(store_url, Path(folder), keys)
        runtime = bench.open_runtime(settings, bench.Clock())
        with runtime.session_factory() as session:
            policy = runtime.policy(session)
            request, _ = submit_request(
                session=session, keyring=runtime.keyring, policy=policy, kind="erasure",
                identities=[("email", estate.EXPORT_EMAIL)], details={}, channel="api",
                actor=bench.STAFF,
                context=LetterContext(policy, runtime.links, runtime.settings.base_url),
                verified_evidence="checked by the benchmark",
            )  # fmt: skip
            session.commit()
            rss = bench.reset_peak_rss()
            started = time.perf_counter()
            listing = Path(folder) / "dry-run.json"
            with (
                dry_run(runtime=runtime, session=session, request=request) as preview,
                listing.open("w", encoding="utf-8") as out,
            ):
                write_json(preview, out)
                rows = sum(preview.totals().values())
            seconds = time.perf_counter() - started
            grown = bench.status_kib("VmHWM") - rss
            size = listing.stat().st_size
        runtime.close()
        runtime.engine.dispose()
    return {"seconds": seconds, "rows": rows, "rss": grown / 1024, "mib": size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    estate_url = bench._database(args.postgres, "opendpo_bench", fresh=False)
    check = bench.create_engine(estate_url)
    present = estate.present(check, 1_000_000, 1_000_000)
    check.dispose()
    if not present:
        raise SystemExit("no estate in opendpo_bench: run benchmarks/requests.py to build it")
    raw = make_url(estate_url).set(drivername="postgresql").render_as_string(False)
    store_name = f"opendpo_bench_store_{uuid.uuid4().hex[:8]}"
    store_url = bench._database(args.postgres, store_name, fresh=True)
    keys = bench.new_keys()
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = bench.store_settings(store_url, Path(folder) / "outbox", keys)
            bench.prepare_store(settings, estate_url, Path(folder))
        erasure_key = load_keyring(settings).derived_key("erasure")
        with psycopg.connect(raw, autocommit=True) as connection:
            measured = compare(connection, store_url, keys, erasure_key)
    finally:
        bench._drop(args.postgres, store_name)
    report(measured)


def compare(
    connection: psycopg.Connection[Any], store_url: str, keys: dict[str, str], erasure_key: bytes
) -> dict[str, Any]:
    with console.status("saving the person's rows"):
        keys_of = floor.keys_of(floor.access(connection, [estate.EXPORT_EMAIL]))
        saved = floor.snapshot(connection, keys_of)
    after: dict[str, floor.Rows] = {}
    measured: dict[str, Any] = {}
    try:
        with console.status("the floor: the same changes in one transaction"):
            started = time.perf_counter()
            floor.erase(connection, [estate.EXPORT_EMAIL], erasure_key)
            measured["floor"] = time.perf_counter() - started
            after["floor"] = floor.snapshot(connection, keys_of)
            floor.restore(connection, saved)
        with (
            console.status("the dry run, in a fresh process"),
            multiprocessing.get_context("spawn").Pool(1) as pool,
        ):
            measured["dry run"] = pool.apply(dry_run_run, (store_url, keys))
        with console.status("the platform, in a fresh process"):
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                measured["platform"] = pool.apply(platform_run, (store_url, keys))
            after["platform"] = floor.snapshot(connection, keys_of)
    finally:
        with console.status("putting the person's rows back"):
            floor.restore(connection, saved)
    if after["platform"] != after["floor"]:
        raise SystemExit("the platform's and the floor's erasures left different rows")
    measured["rows"] = sum(len(rows) for rows in saved.values())
    return measured


def report(measured: dict[str, Any]) -> None:
    platform = measured["platform"]
    table = Table(
        "run", "seconds", "vs floor", "of which connectors", "peak RSS above start MiB",
        title=f"erasure of one person with {measured['rows']:,} rows, end to end",
    )  # fmt: skip
    table.add_row("floor (hand-written SQL)", f"{measured['floor']:.1f}", "", "", "")
    table.add_row(
        "platform", f"{platform['seconds']:.1f}",
        f"{platform['seconds'] / measured['floor']:.1f}x", f"{platform['connector']:.1f}",
        f"{platform['rss']:.1f}",
    )  # fmt: skip
    console.print(table)
    dry = measured["dry run"]
    console.print(
        f"dry run of the same erasure: {dry['rows']:,} rows listed ({dry['mib']:.0f} MiB of "
        f"JSON) in {dry['seconds']:.1f} s, peak RSS {dry['rss']:.1f} MiB above the start"
    )


if __name__ == "__main__":
    main()
