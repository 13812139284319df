"""Building the demo estate: Connect IB's four systems as real databases of generated people.

`make demo` builds it (SQLite files under var/estate by default; PostgreSQL and MariaDB work
the same) so that a newcomer can run an access or erasure request across CRM, billing,
email platform and website within minutes. Jane Example (opendpo.demo.jane) is in every
system with fixed values; everyone else is drawn from the seed.

Rows are generated company by company and written as they come, in batches
(opendpo.demo.writer): memory stays bounded however many people are asked for, and a failed
or interrupted build leaves no half-built tables behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from faker import Faker
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from opendpo.demo import jane
from opendpo.demo.people import Directory
from opendpo.demo.population import Progress, first_ids, populate
from opendpo.demo.schema import DATASETS
from opendpo.demo.world import Row, World
from opendpo.demo.writer import EstateError, Writer, connected
from opendpo.errors import InvalidValue

logger = logging.getLogger(__name__)

__all__ = ["EstateError", "EstateExists", "EstateSummary", "build_estate", "default_estate_urls"]

FAKER_LOCALE = "en_GB"
BATCH_ROWS = 2000
ESTATE_FILES = {
    "crm_db": "crm.db",
    "billing_db": "billing.db",
    "email_platform": "email_platform.db",
    "website_db": "website.db",
}


class EstateExists(EstateError):
    """Estate tables are already there and the build was not asked to replace them."""

    code = "estate_exists"

    def __init__(self, existing: Mapping[str, list[str]], where: Mapping[str, str]) -> None:
        found = "; ".join(
            f"{dataset} ({where[dataset]}) has {', '.join(tables)}"
            for dataset, tables in existing.items()
        )
        super().__init__(
            f"the demo estate is already built: {found}. Replace it to drop those tables and "
            "build them again."
        )
        self.existing = dict(existing)


@dataclass(frozen=True)
class EstateSummary:
    """What a build wrote: rows per table (`crm_db.contacts`), and Jane Example's rows."""

    people: int  # generated people; Jane Example comes on top
    seed: int
    as_of: dt.date
    counts: Mapping[str, int]
    jane: Mapping[str, tuple[Row, ...]]

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def default_estate_urls(var_dir: Path) -> dict[str, str]:
    """One SQLite file per system under `var_dir`/estate."""
    folder = var_dir / "estate"
    return {dataset: f"sqlite:///{folder / name}" for dataset, name in ESTATE_FILES.items()}


def build_estate(
    urls: Mapping[str, str],
    *,
    people: int,
    seed: int,
    progress: Progress | None = None,
    replace: bool = False,
    as_of: dt.date | None = None,
) -> EstateSummary:
    """Create the tables of each dataset in `urls` (dataset key → SQLAlchemy URL) and fill
    them with `people` generated people plus Jane Example.

    Datasets may share a database (their table names differ) or be left out (not built).
    Existing estate tables are an EstateExists error unless `replace` drops them first. The
    records span the seven years up to `as_of` (default: today, UTC); a seed and a day give
    the same estate every time. `progress(done, total)` is called as people are written.
    """
    if people < 0:
        raise InvalidValue("people", "must be 0 or more")
    parsed = _parse_urls(urls)
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    started = time.perf_counter()
    with ExitStack() as stack:
        targets = {url: stack.enter_context(connected(url)) for url in set(parsed.values())}
        connections = {dataset: targets[url] for dataset, url in parsed.items()}
        where = {
            dataset: url.render_as_string(hide_password=True) for dataset, url in parsed.items()
        }
        writer = Writer(connections, where, batch_rows=BATCH_ROWS)
        existing = writer.existing_tables()
        if existing and not replace:
            raise EstateExists(existing, where)
        try:
            writer.create(replace=replace)
            fixed = jane.jane_rows()
            world = _world(seed, as_of, writer, fixed)
            populate(world, fixed=fixed, people=people, progress=progress)
            writer.finish()
        except BaseException:
            writer.abandon()
            raise
    summary = EstateSummary(
        people=people,
        seed=seed,
        as_of=as_of,
        counts=writer.counts(),
        jane={
            table: tuple(rows)
            for table, rows in jane.jane_rows().items()
            if table.partition(".")[0] in parsed
        },
    )
    logger.info(
        "built the demo estate: %d people, %d rows in %.1fs",
        people + 1,
        summary.total_rows,
        time.perf_counter() - started,
    )
    return summary


def _world(seed: int, as_of: dt.date, writer: Writer, fixed: Mapping[str, list[Row]]) -> World:
    rng = random.Random(seed)
    fake = Faker(FAKER_LOCALE)
    fake.seed_instance(seed)
    directory = Directory(
        rng,
        fake,
        reserved_emails=frozenset({jane.EMAIL}),
        reserved_phones=frozenset({jane.PHONE}),
        reserved_registrations=frozenset({jane.COMPANY_NUMBER}),
    )
    return World(
        rng=rng,
        fake=fake,
        directory=directory,
        as_of=as_of,
        emit=writer.add,
        first_ids=first_ids(fixed),
    )


def _parse_urls(urls: Mapping[str, str]) -> dict[str, URL]:
    if not urls:
        raise InvalidValue("urls", f"name at least one dataset ({', '.join(DATASETS)})")
    parsed: dict[str, URL] = {}
    for dataset, url in urls.items():
        if dataset not in DATASETS:
            raise InvalidValue("urls", f"'{dataset}' is not a dataset ({', '.join(DATASETS)})")
        try:
            parsed[dataset] = make_url(url)
        except ArgumentError:
            raise InvalidValue(f"urls.{dataset}", "is not a database URL") from None
    return parsed
