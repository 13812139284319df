"""The console's consent figures, checked exactly against a ledger built by hand: records at
known dates, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from opendpo.consent.ledger import (
    Channel,
    CollectionMethod,
    ConsentState,
    CurrentConsent,
    Proof,
    append,
)
from opendpo.consent.reports import (
    WeekFigures,
    check_weeks,
    consent_rates,
    last_weeks,
    renewals_needed,
    suppressions_by_reason,
)
from opendpo.consent.suppression import SuppressionReason, suppress
from opendpo.errors import InvalidValue
from opendpo.security.keyring import Keyring
from opendpo.subjects.people import find_or_create_person

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday; its week began on 16 March
GIVEN, WITHDRAWN, REFUSED = ConsentState.GIVEN, ConsentState.WITHDRAWN, ConsentState.REFUSED


def at(day: int, month: int = 3, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


class Ledger:
    def __init__(self, session: Session, keyring: Keyring) -> None:
        self.session, self.keyring = session, keyring
        self.people: dict[str, str] = {}

    def person(self, label: str) -> str:
        if label not in self.people:
            self.people[label] = find_or_create_person(
                session=self.session,
                keyring=self.keyring,
                identities=[("email", f"{label}@example.com")],
            ).id
        return self.people[label]

    def add(
        self,
        label: str,
        purpose: str,
        channel: Channel,
        state: ConsentState,
        when: dt.datetime,
        expires: dt.datetime | None = None,
    ) -> None:
        append(
            session=self.session,
            keyring=self.keyring,
            person_id=self.person(label),
            purpose=purpose,
            channel=channel,
            state=state,
            proof=Proof(method=CollectionMethod.WEB_FORM, source="tests"),
            notice_version="1.0",
            policy_version=1,
            wording="Send me news",
            expires_at=expires,
            now=when,
        )


@pytest.fixture
def ledger(session: Session, keyring: Keyring) -> Ledger:
    book = Ledger(session, keyring)
    book.add("f", "marketing", Channel.EMAIL, GIVEN, at(20, month=2))  # before the window
    book.add("a", "marketing", Channel.EMAIL, GIVEN, at(3))
    book.add("b", "marketing", Channel.EMAIL, REFUSED, at(4))
    book.add("d", "newsletter", Channel.EMAIL, GIVEN, at(5))
    book.add("e", "marketing", Channel.COOKIE, GIVEN, at(5))  # a cookie category: not counted
    book.add("a", "marketing", Channel.EMAIL, WITHDRAWN, at(10))
    book.add("b", "marketing", Channel.PHONE, GIVEN, at(11), expires=at(17))
    book.add("g", "marketing", Channel.EMAIL, GIVEN, at(12))
    # Recorded after the one above but dated earlier (a staff member's late entry): in
    # ledger order it is g's latest answer from the week it is dated in.
    book.add("g", "marketing", Channel.EMAIL, WITHDRAWN, at(3, hour=15))
    book.add("c", "marketing", Channel.POST, GIVEN, at(16, hour=9))
    session.commit()
    return book


def figures(rows: list[WeekFigures]) -> list[tuple[int, int, int, int, int]]:
    return [(w.asked, w.consenting, w.given, w.withdrawn, w.refused) for w in rows]


def test_weeks_run_monday_to_monday_up_to_now() -> None:
    weeks = last_weeks(now=NOW, count=3)
    assert [w.start for w in weeks] == [at(2, hour=0), at(9, hour=0), at(16, hour=0)]
    assert [w.end for w in weeks] == [at(9, hour=0), at(16, hour=0), at(23, hour=0)]
    assert [w.as_of for w in weeks] == [at(9, hour=0), at(16, hour=0), NOW]
    assert last_weeks(now=at(16, hour=0), count=1)[0].start == at(16, hour=0)


@pytest.mark.parametrize(("given", "weeks"), [(None, 12), ("", 12), ("1", 1), (104, 104)])
def test_the_number_of_weeks_has_a_default_and_bounds(given: str | int | None, weeks: int) -> None:
    assert check_weeks(given) == weeks


@pytest.mark.parametrize("given", ["0", "105", "-3", "ten", "1.5"])
def test_a_number_of_weeks_out_of_range_names_the_field(given: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        check_weeks(given)
    assert raised.value.field == "weeks"


def test_rates_and_record_counts_per_week(session: Session, ledger: Ledger) -> None:
    weeks = last_weeks(now=NOW, count=3)
    rates = consent_rates(session=session, purposes=["marketing", "newsletter"], weeks=weeks)
    # (asked, consenting, given, withdrawn, refused) per week, worked out by hand:
    # week of 2 March: a, b, f, g asked; a and f consenting; g's late entry counts here.
    # week of 9 March: a withdrew, b's phone consent is live until the 17th.
    # week of 16 March: b's consent lapsed on the 17th; c gave consent by post.
    assert figures(rates["marketing"]) == [(4, 2, 1, 1, 1), (4, 2, 2, 1, 0), (5, 2, 1, 0, 0)]
    assert [w.rate for w in rates["marketing"]] == [50.0, 50.0, 40.0]
    assert figures(rates["newsletter"]) == [(1, 1, 1, 0, 0), (1, 1, 0, 0, 0), (1, 1, 0, 0, 0)]
    assert [w.week for w in rates["marketing"]] == weeks


def test_a_purpose_no_one_was_asked_about_has_no_rate(session: Session, ledger: Ledger) -> None:
    weeks = last_weeks(now=NOW, count=2)
    rates = consent_rates(session=session, purposes=["surveys"], weeks=weeks)
    assert figures(rates["surveys"]) == [(0, 0, 0, 0, 0), (0, 0, 0, 0, 0)]
    assert [w.rate for w in rates["surveys"]] == [None, None]
    # Before the first record, no one had been asked about anything.
    early = last_weeks(now=at(10, month=2), count=1)
    assert figures(
        consent_rates(session=session, purposes=["marketing"], weeks=early)["marketing"]
    ) == [(0, 0, 0, 0, 0)]


def test_one_week_alone_is_counted_too(session: Session, ledger: Ledger) -> None:
    [week] = last_weeks(now=NOW, count=1)
    rates = consent_rates(session=session, purposes=["marketing"], weeks=[week])
    assert figures(rates["marketing"]) == [(5, 2, 1, 0, 0)]


def test_suppressions_are_counted_by_reason(session: Session, keyring: Keyring) -> None:
    assert suppressions_by_reason(session=session) == {}
    for value, reason in [
        ("one@example.com", SuppressionReason.UNSUBSCRIBED),
        ("two@example.com", SuppressionReason.COMPLAINT),
        ("three@example.com", SuppressionReason.UNSUBSCRIBED),
        ("THREE@example.com", SuppressionReason.UNSUBSCRIBED),  # the same address again
    ]:
        suppress(
            session=session, keyring=keyring, kind="email", value=value, channel="email",
            reason=reason,
        )  # fmt: skip
    session.commit()
    found = suppressions_by_reason(session=session)
    assert found == {"unsubscribed": 2, "complaint": 1}
    assert list(found) == ["unsubscribed", "complaint"]


def test_renewals_count_live_answers_to_an_earlier_wording(
    session: Session, ledger: Ledger
) -> None:
    assert renewals_needed(session=session, purposes=["marketing", "newsletter"]) == {
        "marketing": 0,
        "newsletter": 0,
    }
    marked = [ledger.people[label] for label in ("a", "b", "c", "e", "f")]
    session.execute(
        update(CurrentConsent)
        .where(CurrentConsent.person_id.in_(marked))
        .values(needs_renewal=True)
    )
    session.commit()
    # a withdrew (nothing to renew); b's email was refused but its phone consent counts;
    # b, c and f are counted once per preference; the cookie category is not a purpose.
    assert renewals_needed(session=session, purposes=["marketing", "newsletter"]) == {
        "marketing": 3,
        "newsletter": 0,
    }
