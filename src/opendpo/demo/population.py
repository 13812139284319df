"""Filling the estate: Jane Example first, then companies and lone people, `people` in all.

Most people come with their company (a client or a prospect, one to a dozen staff). A few
are on their own: newsletter readers known only to the website and the email platform, and
people who asked to be forgotten long ago, left only on the suppression list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from opendpo.demo import marketing
from opendpo.demo.companies import add_company
from opendpo.demo.world import Row, World

Progress = Callable[[int, int], None]

CLIENT_SHARE = 0.35
NEWSLETTER_SHARE = 0.08
SUPPRESSED_SHARE = 0.02
COMPANY_SIZES = (1, 2, 3, 4, 5, 6, 8, 12)
COMPANY_SIZE_WEIGHTS = (28, 22, 16, 10, 8, 6, 6, 4)
NEWSLETTER_PAGES = ("/blog/hybrid-working-guide", "/blog/visitor-gdpr-checklist", "/")
PROGRESS_STEPS = 200


def first_ids(rows: Mapping[str, Sequence[Row]]) -> dict[str, int]:
    """The first id left for generated rows, after the fixed rows' ids."""
    return {
        table: max(row["id"] for row in table_rows) + 1
        for table, table_rows in rows.items()
        if table_rows and "id" in table_rows[0]
    }


def populate(
    world: World, *, fixed: Mapping[str, Sequence[Row]], people: int, progress: Progress | None
) -> None:
    for table, rows in fixed.items():
        for row in rows:
            world.emit(table, row)
    step = max(1, people // PROGRESS_STEPS)
    reported = done = 0
    if progress is not None:
        progress(0, people)
    while done < people:
        roll = world.rng.random()
        if roll < NEWSLETTER_SHARE:
            _newsletter_reader(world)
            done += 1
        elif roll < NEWSLETTER_SHARE + SUPPRESSED_SHARE:
            person = world.directory.person(domain=None)
            marketing.suppress(world, person.email, after=world.start)
            done += 1
        else:
            size = world.rng.choices(COMPANY_SIZES, weights=COMPANY_SIZE_WEIGHTS)[0]
            size = min(size, people - done)
            add_company(world, size=size, client=world.chance(CLIENT_SHARE))
            done += size
        if progress is not None and (done - reported >= step or done == people):
            progress(done, people)
            reported = done


def _newsletter_reader(world: World) -> None:
    """Signed up for the newsletter on the website; some have since unsubscribed."""
    company = world.directory.company() if world.chance(0.5) else None
    person = world.directory.person(domain=company.domain if company else None)
    visitor = marketing.new_visitor(world)
    day = world.day_between(world.start, world.as_of)
    submitted_at = world.any_time(day)
    marketing.session(
        world, visitor, ends_at=submitted_at, last_page=world.rng.choice(NEWSLETTER_PAGES)
    )
    marketing.submit_form(
        world,
        person,
        email=person.email if world.chance(0.85) else person.email.upper(),
        company=company.name if company else None,
        message=None,
        opt_in=True,
        at=submitted_at,
    )
    if world.chance(0.25):
        marketing.suppress(world, person.email, after=day)
    else:
        marketing.subscribe(
            world,
            person,
            company=company.name if company else None,
            at=submitted_at,
            source="website newsletter form",
        )
    marketing.browse(world, visitor, since=day, sessions=world.rng.randint(0, 3))
