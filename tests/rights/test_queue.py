"""The queue's queries on SQLite and PostgreSQL: filters, order, paging (by limit and offset,
and by page), urgency, weekly figures and a person's requests."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.rights import queue, workflow
from opendpo.rights.intake import submit_request
from opendpo.rights.kinds import RequestStatus
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.keyring import Keyring
from opendpo.security.roles import Role
from opendpo.security.staff import add_user
from opendpo.subjects.people import find_or_create_person

STAFF = Actor(ActorKind.STAFF, "staff-1")
# Mondays, 10:00 London time (BST): received, verified and due by the one-month rule.
MON_7_SEP = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.UTC)
MON_14_SEP = dt.datetime(2026, 9, 14, 9, 0, tzinfo=dt.UTC)
MON_21_SEP = dt.datetime(2026, 9, 21, 9, 0, tzinfo=dt.UTC)


def logged(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
    *,
    at: dt.datetime,
    kind: str = "access",
    email: str = "jane@example.com",
) -> Request:
    """A request confirmed by staff on receipt: its clock starts the day it arrives."""
    details = {"complaint": "You lost my letter."} if kind == "complaint" else {}
    request, _ = submit_request(
        session=session,
        keyring=keyring,
        policy=policy,
        kind=kind,
        identities=[("email", email)],
        details=details,
        channel="phone",
        actor=STAFF,
        context=letters,
        verified_evidence="called back on the number on file",
        evidence={"how_it_arrived": "call"},
        now=at,
    )
    session.flush()
    return request


@pytest.fixture
def three(
    session: Session, keyring: Keyring, policy: PolicyDocument, letters: LetterContext
) -> list[Request]:
    """Access received 21 Sep (due 21 Oct), 7 Sep (due 7 Oct), and a complaint of 14 Sep."""
    made = [
        logged(session, keyring, policy, letters, at=MON_21_SEP, email="a@example.com"),
        logged(session, keyring, policy, letters, at=MON_7_SEP, email="b@example.com"),
        logged(
            session,
            keyring,
            policy,
            letters,
            at=MON_14_SEP,
            kind="complaint",
            email="c@example.com",
        ),
    ]
    session.commit()
    return made


def references(page: queue.QueuePage) -> list[str]:
    return [row.reference for row in page.rows]


def test_open_requests_come_first_soonest_due_at_the_top(
    session: Session, three: list[Request], letters: LetterContext
) -> None:
    late, early, complaint = three
    assert early.due_on == dt.date(2026, 10, 7)
    assert late.due_on == dt.date(2026, 10, 21)
    workflow.complete(
        session=session, request=complaint, actor=STAFF, response="Sorted.", context=letters
    )
    session.commit()
    everything = queue.QueueFilter(status="")
    page = queue.list_requests(session=session, filters=everything, today=dt.date(2026, 9, 22))
    assert references(page) == [early.reference, late.reference, complaint.reference]
    open_only = queue.list_requests(
        session=session, filters=queue.QueueFilter(), today=dt.date(2026, 9, 22)
    )
    assert references(open_only) == [early.reference, late.reference]
    closed = queue.list_requests(
        session=session, filters=queue.QueueFilter(status="closed"), today=dt.date(2026, 9, 22)
    )
    assert references(closed) == [complaint.reference]


def test_filters_by_kind_assignee_overdue_and_reference(
    session: Session, three: list[Request]
) -> None:
    late, early, complaint = three
    member, _ = add_user(session=session, username="agent", role=Role.AGENT, display_name="A")
    workflow.assign(session=session, request=late, actor=STAFF, staff=member)
    session.commit()
    day = dt.date(2026, 10, 8)  # the day after the early one fell due

    def found(**chosen: object) -> list[str]:
        filters = queue.QueueFilter(**chosen)  # type: ignore[arg-type]
        return sorted(references(queue.list_requests(session=session, filters=filters, today=day)))

    assert found(kind="complaint") == [complaint.reference]
    assert found(assigned_to=member.id) == [late.reference]
    assert found(assigned_to="someone-else") == []
    assert found(unassigned=True) == sorted([early.reference, complaint.reference])
    # The complaint's 30 days from 14 Sep ran out on 14 Oct: not yet overdue on 8 Oct.
    assert found(overdue_only=True) == [early.reference]
    assert found(reference=early.reference) == [early.reference]
    assert found(reference=early.reference.removeprefix("R-")) == [early.reference]
    assert found(reference=f" {early.reference.lower()} ") == [early.reference]
    assert found(reference="R-NOSUCH00") == []


def test_working_days_left_and_how_pressing_they_are(three: list[Request]) -> None:
    _, early, _ = three  # due Wednesday 7 October 2026
    assert queue.urgency(status="verified", due_on=early.due_on, today=dt.date(2026, 9, 28)) == (
        7,
        queue.Urgency.ON_TRACK,
    )
    # Friday 2 Oct: Mon 5, Tue 6, Wed 7 are left.
    assert queue.urgency(status="verified", due_on=early.due_on, today=dt.date(2026, 10, 2)) == (
        3,
        queue.Urgency.DUE_SOON,
    )
    assert queue.urgency(status="verified", due_on=early.due_on, today=dt.date(2026, 10, 7)) == (
        0,
        queue.Urgency.DUE_SOON,
    )
    assert queue.urgency(status="verified", due_on=early.due_on, today=dt.date(2026, 10, 9)) == (
        -2,
        queue.Urgency.OVERDUE,
    )
    closed = queue.urgency(status="completed", due_on=early.due_on, today=dt.date(2026, 10, 9))
    assert closed == (None, queue.Urgency.NONE)


def test_received_days_are_london_days_with_both_bounds_included(
    session: Session,
    keyring: Keyring,
    policy: PolicyDocument,
    letters: LetterContext,
    three: list[Request],
) -> None:
    late, early, complaint = three
    # 23:30 UTC on Sunday 13 September is 00:30 on Monday 14 September in London (BST).
    night = logged(
        session,
        keyring,
        policy,
        letters,
        at=dt.datetime(2026, 9, 13, 23, 30, tzinfo=dt.UTC),
        email="d@example.com",
    )
    session.commit()

    def found(start: dt.date | None, end: dt.date | None) -> list[str]:
        filters = queue.QueueFilter(status="", received_from=start, received_to=end)
        page = queue.list_requests(session=session, filters=filters, today=dt.date(2026, 9, 22))
        return sorted(references(page))

    monday = dt.date(2026, 9, 14)
    assert found(monday, monday) == sorted([complaint.reference, night.reference])
    assert found(None, dt.date(2026, 9, 13)) == [early.reference]
    assert found(dt.date(2026, 9, 15), None) == [late.reference]
    assert found(dt.date(2026, 9, 7), dt.date(2026, 9, 21)) == sorted(
        r.reference for r in [*three, night]
    )


def test_limit_and_offset_page_through_the_queue_in_order(
    session: Session, three: list[Request]
) -> None:
    late, early, complaint = three
    filters = queue.QueueFilter(status="")
    day = dt.date(2026, 9, 22)
    first = queue.list_requests(session=session, filters=filters, today=day, limit=2)
    rest = queue.list_requests(session=session, filters=filters, today=day, limit=2, offset=2)
    # Due 7 Oct, then the complaint (due 14 Oct), then 21 Oct.
    assert references(first) == [early.reference, complaint.reference]
    assert references(rest) == [late.reference]
    assert (first.total, rest.total, rest.offset, rest.page) == (3, 3, 2, 2)
    past = queue.list_requests(session=session, filters=filters, today=day, offset=10)
    assert (past.rows, past.total) == ([], 3)


def test_pages_hold_page_size_rows_and_clamp_to_the_last(
    session: Session, three: list[Request]
) -> None:
    filters = queue.QueueFilter(status="")
    day = dt.date(2026, 9, 22)
    first = queue.list_page(session=session, filters=filters, today=day, page_size=2)
    second = queue.list_page(session=session, filters=filters, today=day, page=2, page_size=2)
    beyond = queue.list_page(session=session, filters=filters, today=day, page=9, page_size=2)
    assert (first.total, first.pages, len(first.rows), len(second.rows)) == (3, 2, 2, 1)
    assert set(references(first)).isdisjoint(references(second))
    assert beyond.page == 2 and references(beyond) == references(second)
    nothing = queue.list_page(
        session=session, filters=queue.QueueFilter(kind="erasure"), today=day, page=3
    )
    assert (nothing.rows, nothing.page, nothing.pages) == ([], 1, 1)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": queue.MAX_LIMIT + 1}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_a_bad_limit_or_offset_names_its_field(
    session: Session, arguments: dict[str, int], field: str
) -> None:
    with pytest.raises(InvalidValue) as raised:
        queue.list_requests(
            session=session, filters=queue.QueueFilter(), today=dt.date(2026, 9, 22), **arguments
        )
    assert raised.value.field == field


def test_counts_per_status_and_overdue(session: Session, three: list[Request]) -> None:
    counts = queue.status_counts(session=session)
    assert counts["verified"] == 3 and counts["completed"] == 0
    assert queue.overdue_count(session=session, today=dt.date(2026, 10, 8)) == 1
    assert queue.overdue_count(session=session, today=dt.date(2026, 10, 22)) == 3


def test_weekly_figures_count_received_completed_and_on_time(
    session: Session, three: list[Request], letters: LetterContext
) -> None:
    late, early, complaint = three
    # The early one answered a day late (8 Oct), the late one on time (8 Oct), the complaint
    # refused on time the same week.
    answered = dt.datetime(2026, 10, 8, 11, 0, tzinfo=dt.UTC)
    for request in (early, late):
        workflow.complete(
            session=session,
            request=request,
            actor=STAFF,
            response="Here it is.",
            context=letters,
            now=answered,
        )
    workflow.refuse(
        session=session,
        request=complaint,
        actor=STAFF,
        reason="manifestly_unfounded",
        explanation="Repeated.",
        context=letters,
        now=answered,
    )
    session.commit()
    weeks = queue.last_weeks(today=dt.date(2026, 10, 8), count=5)
    assert weeks[0] == dt.date(2026, 9, 7) and weeks[-1] == dt.date(2026, 10, 5)
    figures = queue.weekly_figures(session=session, weeks=weeks)
    assert [f.received for f in figures] == [1, 1, 1, 0, 0]
    assert [f.completed for f in figures] == [0, 0, 0, 0, 2]
    last = figures[-1]
    assert (last.answered, last.on_time, last.iso_week) == (3, 2, "2026-W41")
    assert last.on_time_rate == pytest.approx(200 / 3)
    assert figures[0].on_time_rate is None


def test_a_persons_requests_newest_first(
    session: Session, keyring: Keyring, policy: PolicyDocument, letters: LetterContext
) -> None:
    person = find_or_create_person(
        session=session, keyring=keyring, identities=[("email", "jane@example.com")]
    )
    older = logged(session, keyring, policy, letters, at=MON_7_SEP)
    newer = logged(session, keyring, policy, letters, at=MON_14_SEP)
    logged(session, keyring, policy, letters, at=MON_21_SEP, email="someone.else@example.com")
    session.commit()
    found = queue.requests_of_person(session=session, person_id=person.id)
    assert [r.reference for r in found] == [newer.reference, older.reference]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"kind": "wishes"}, "kind"),
        ({"assigned": "them"}, "assigned"),
        ({"assigned": "me", "staff_id": None}, "assigned"),
        ({"overdue": "maybe"}, "overdue"),
    ],
)
def test_a_bad_console_filter_names_its_field(arguments: dict[str, str], field: str) -> None:
    given = {
        "status": "open",
        "kind": "",
        "assigned": "",
        "overdue": "",
        "reference": "",
        "staff_id": "staff-9",
    }
    with pytest.raises(InvalidValue) as raised:
        queue.parse_filter(**{**given, **arguments})
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"status": "lost"}, "status", "'lost' is not a status (open, closed, received,"),
        ({"kind": "wishes"}, "kind", "'wishes' is not a request kind (informed, access,"),
        ({"assigned_to": "staff-9", "unassigned": True}, "assigned_to", "not unassigned"),
        (
            {"received_from": dt.date(2026, 9, 2), "received_to": dt.date(2026, 9, 1)},
            "received_to",
            "must not be before received_from",
        ),
    ],
)
def test_a_filter_that_cannot_be_is_refused_naming_the_field(
    arguments: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidValue) as raised:
        queue.QueueFilter(**arguments)  # type: ignore[arg-type]
    assert raised.value.field == field and message in raised.value.detail


def test_every_status_and_the_two_groups_are_filters() -> None:
    for status in ("", "open", "closed", *(s.value for s in RequestStatus)):
        assert queue.QueueFilter(status=status).status == status
    same_day = dt.date(2026, 9, 1)
    assert queue.QueueFilter(received_from=same_day, received_to=same_day).received_to == same_day


def test_a_good_console_filter_is_read_as_given() -> None:
    chosen = queue.parse_filter(
        status="verified",
        kind="access",
        assigned="me",
        overdue="1",
        reference=" r-abc ",
        staff_id="staff-9",
    )
    assert chosen == queue.QueueFilter(
        status="verified",
        kind="access",
        assigned_to="staff-9",
        overdue_only=True,
        reference="R-ABC",
    )
    nobodys = queue.parse_filter(
        status="", kind="", assigned="unassigned", overdue="", reference="", staff_id="staff-9"
    )
    assert nobodys == queue.QueueFilter(status="", unassigned=True)
