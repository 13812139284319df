"""The email platform's subscribers and suppressions, and the website's forms and visits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from opendpo.demo.catalogue import PAGES, REFERRERS, SITE, SUPPRESSION_REASONS, USER_AGENTS
from opendpo.demo.people import Person
from opendpo.demo.world import World

SUBSCRIBERS = "email_platform.subscribers"
SUPPRESSIONS = "email_platform.suppressions"
FORM_SUBMISSIONS = "website_db.form_submissions"
VISITS = "website_db.visits"


def subscribe(
    world: World, person: Person, *, company: str | None, at: dt.datetime, source: str
) -> None:
    world.emit(
        SUBSCRIBERS,
        {
            "email": person.email,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "job_title": person.job_title if company else None,
            "company": company,
            "consent": {
                "status": "opted_in",
                "given_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "source": source,
            },
        },
    )


def suppress(world: World, email: str, *, after: dt.date) -> None:
    """Keep an address that must never be emailed again (unsubscribed, withdrawn, bounced)."""
    world.emit(
        SUPPRESSIONS,
        {
            "email": email,
            "reason": world.rng.choice(SUPPRESSION_REASONS),
            "suppressed_at": world.any_time(world.day_between(after, world.as_of)),
        },
    )


def submit_form(
    world: World,
    person: Person,
    *,
    email: str,
    company: str | None,
    message: str | None,
    opt_in: bool,
    at: dt.datetime,
) -> None:
    """A form on the website, as the person filled it in: their spelling, phone optional."""
    world.emit(
        FORM_SUBMISSIONS,
        {
            "id": world.next_id(FORM_SUBMISSIONS),
            "email": email,
            "name": person.name,
            "phone": person.phone.as_typed(world.rng) if world.chance(0.6) else None,
            "company": company,
            "message": message,
            "marketing_opt_in": opt_in,
            "submitted_at": at,
        },
    )


@dataclass
class Visitor:
    """One browser with the analytics cookie; its visits never share a second."""

    visitor_id: str
    ip_addresses: tuple[str, ...]
    user_agent: str
    seen: set[dt.datetime] = field(default_factory=set)


def new_visitor(world: World) -> Visitor:
    addresses: tuple[str, ...] = (world.ip_address(),)
    if world.chance(0.3):  # office and home
        addresses += (world.ip_address(),)
    return Visitor(world.uuid(), addresses, world.rng.choice(USER_AGENTS))


def session(world: World, visitor: Visitor, *, ends_at: dt.datetime, last_page: str) -> None:
    """A few pages read in a row, the last one `last_page` just before `ends_at`."""
    rng = world.rng
    pages = [rng.choice(PAGES) for _ in range(rng.randint(0, 4))] + [last_page]
    moment = ends_at - dt.timedelta(seconds=rng.randint(20, 240))
    moments = [moment]
    for _ in pages[1:]:
        moment -= dt.timedelta(seconds=rng.randint(10, 300))
        moments.append(moment)
    moments.reverse()
    ip_address = rng.choice(visitor.ip_addresses)
    referrer = rng.choice(REFERRERS) if world.chance(0.6) else None
    for page, at in zip(pages, moments, strict=True):
        while at in visitor.seen:
            at += dt.timedelta(seconds=1)
        visitor.seen.add(at)
        world.emit(
            VISITS,
            {
                "visitor_id": visitor.visitor_id,
                "ip_address": ip_address,
                "user_agent": visitor.user_agent,
                "page": page,
                "referrer": referrer,
                "visited_at": at,
            },
        )
        referrer = f"{SITE}{page}"


def browse(world: World, visitor: Visitor, *, since: dt.date, sessions: int) -> None:
    """Sessions on days from `since` to the build's day, during office hours mostly."""
    for _ in range(sessions):
        day = world.day_between(since, world.as_of)
        moment = world.at_work(day) if world.chance(0.8) else world.any_time(day)
        session(world, visitor, ends_at=moment, last_page=world.rng.choice(PAGES))


def anonymous_visitor(world: World) -> None:
    """Someone who browsed and never told us who they are: only the cookie knows them."""
    visitor = new_visitor(world)
    browse(world, visitor, since=world.start, sessions=world.rng.randint(1, 3))
