"""Memory and time of packaging a person with a million rows (issue 6, access and portability).

    .venv/bin/python benchmarks/export_memory.py [--rows 1000000] [--targets file,sqlite]
        [--postgres ADMIN_URL] [--no-tracemalloc]

The rows are spread over four collections of three systems (CRM contacts with a nested
address, billing invoices with decimals and line lists, website visits, email events) and
generated lazily, read twice as the real export reads them (once for data.json, once for
the CSVs). Targets:
- file: the zip written to a local file (the package alone);
- sqlite, postgresql: the zip written into OpenDPO's store through the file writer, each
  1 MiB block encrypted and inserted in its own transaction, as the engine stores it
  (postgresql runs in a throwaway database on the server named by --postgres).

Each target runs in a fresh process, twice: once untraced for the time and the peak RSS
above the process's starting point, once under tracemalloc for the peak of Python
allocations (tracing makes it several times slower; --no-tracemalloc skips it).
Results go to benchmarks/RESULTS.md by hand, with the command, machine and date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import resource
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opendpo.connectors.base import CollectionSpec, FieldSpec, Row
from opendpo.execution.files import open_writer
from opendpo.execution.package import PackageSection, PackageSink, write_package
from opendpo.rights.records import Request
from opendpo.security.keyring import generate_keyring
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.store.migrate import upgrade

# Share of the rows each collection gets.
SHARES = {"contacts": 0.01, "invoices": 0.19, "visits": 0.60, "events": 0.20}
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _spec(dataset: str, name: str, *fields: tuple[str, str]) -> CollectionSpec:
    return CollectionSpec(dataset, name, tuple(FieldSpec(path, (c,)) for path, c in fields))


def _contacts(count: int) -> Iterator[Row]:
    for n in range(count):
        yield {
            "id": n,
            "email": f"jane.doe+{n}@example.com",
            "name": "Jane Doe",
            "address": {"street": f"{n} High Street", "city": "Luton", "postcode": "LU2 8DL"},
        }


def _invoices(count: int) -> Iterator[Row]:
    for n in range(count):
        yield {
            "id": n,
            "number": f"INV-{n:08d}",
            "total": Decimal(n % 100_000) / 100,
            "issued_on": (START + dt.timedelta(minutes=n)).date(),
            "lines": [{"item": "Licence", "quantity": 1 + n % 5}],
        }


def _visits(count: int) -> Iterator[Row]:
    for n in range(count):
        yield {
            "visitor_id": "c-5f1e2d",
            "ip_address": f"203.0.113.{n % 250}",
            "page": f"/articles/{n % 5000}",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "visited_at": START + dt.timedelta(seconds=n),
        }


def _events(count: int) -> Iterator[Row]:
    for n in range(count):
        yield {"email": "jane@example.com", "event": "opened", "campaign": f"news-{n % 52}"}


def sections(rows: int) -> list[PackageSection]:
    counts = {name: int(rows * share) for name, share in SHARES.items()}
    counts["visits"] += rows - sum(counts.values())

    def lazily(make: Callable[[int], Iterator[Row]], count: int) -> Callable[[], Iterator[Row]]:
        return lambda: make(count)

    plan = [
        ("crm", "CRM", "contacts", _contacts, ("id", "email", "name", "address.street",
         "address.city", "address.postcode")),
        ("billing", "Billing", "invoices", _invoices, ("id", "number", "total", "issued_on",
         "lines")),
        ("website", "Website", "visits", _visits, ("visitor_id", "ip_address", "page",
         "user_agent", "visited_at")),
        ("email", "Email platform", "events", _events, ("email", "event", "campaign")),
    ]  # fmt: skip
    return [
        PackageSection(
            system,
            name,
            _spec(f"{system}_db", collection, *((f, "user") for f in fields)),
            fields,
            lazily(make, counts[collection]),
        )
        for system, name, collection, make, fields in plan
    ]


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


class Probe:
    """Time, RSS growth and (if traced) the tracemalloc peak of the packaging alone."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.result: dict[str, float] = {}

    def __enter__(self) -> Probe:
        self._rss = _rss_kib()
        if self.trace:
            tracemalloc.start()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        seconds = time.perf_counter() - self._started
        peak = tracemalloc.get_traced_memory()[1] if self.trace else 0
        tracemalloc.stop()
        self.result = {
            "seconds": seconds,
            "rss": (_rss_kib() - self._rss) / 1024,
            "traced": peak / 2**20,
        }


def _to_store(url: str, parts: list[PackageSection], probe: Probe) -> int:
    engine = make_engine(url, keyring=generate_keyring())
    upgrade(engine)
    factory = make_session_factory(engine)
    request_id = str(uuid.uuid4())
    with factory() as session, session.begin():
        session.add(
            Request(
                id=request_id,
                reference=f"R-{request_id[:8].upper()}",
                kind="access",
                status="in_progress",
                channel="api",
                received_at=START,
                details={},
                updated_at=START,
            )
        )
    with (
        probe,
        open_writer(
            session_factory=factory,
            request_id=request_id,
            purpose="access_package",
            name="package.zip",
            content_type="application/zip",
        ) as writer,
    ):
        sink: PackageSink = writer
        write_package(sink, sections=parts, report=None, kind="access")
    engine.dispose()
    return writer.tell()


def measure(target: str, url: str | None, rows: int, trace: bool) -> dict[str, float]:
    """Run in a fresh process: seconds, RSS growth MiB, traced peak MiB, zip MiB."""
    parts = sections(rows)
    probe = Probe(trace)
    with tempfile.TemporaryDirectory() as folder:
        if target == "file":
            path = Path(folder) / "package.zip"
            with probe, path.open("wb") as out:
                write_package(out, sections=parts, report=None, kind="access")
            size = path.stat().st_size
        else:
            size = _to_store(url or f"sqlite:///{folder}/store.db", parts, probe)
    return {**probe.result, "size": size / 2**20}


def _throwaway_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"opendpo_export_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--targets", default="file,sqlite,postgresql")
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--no-tracemalloc", action="store_true")
    args = parser.parse_args()
    table = Table(
        "target", "rows", "seconds", "rows/s", "peak RSS growth MiB", "tracemalloc peak MiB",
        "zip MiB", title="packaging one person's rows",
    )  # fmt: skip
    spawn = multiprocessing.get_context("spawn")
    for target in args.targets.split(","):
        url, drop = None, None
        if target == "postgresql":
            url, drop = _throwaway_database(args.postgres)
        try:
            with spawn.Pool(1) as pool:
                plain = pool.apply(measure, (target, url, args.rows, False))
            traced = None
            if not args.no_tracemalloc:
                if drop is not None:  # a fresh database for the second run
                    drop()
                    url, drop = _throwaway_database(args.postgres)
                with spawn.Pool(1) as pool:
                    traced = pool.apply(measure, (target, url, args.rows, True))
        finally:
            if drop is not None:
                drop()
        table.add_row(
            target,
            f"{args.rows:,}",
            f"{plain['seconds']:.1f}",
            f"{args.rows / plain['seconds']:,.0f}",
            f"{plain['rss']:.1f}",
            f"{traced['traced']:.1f}" if traced else "-",
            f"{plain['size']:.1f}",
        )
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
