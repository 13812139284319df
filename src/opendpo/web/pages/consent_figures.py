"""The consent figures page: rates per purpose over time, the suppression list and the
consents awaiting renewal. Aggregates only, no person named: so it is open to everyone who
reads the policy (policy:read), auditors and engineers too, unlike the person pages.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from opendpo.consent import reports
from opendpo.consent.suppression import suppression_count
from opendpo.errors import InvalidValue
from opendpo.web.auth import PolicyReader
from opendpo.web.charts import Series, line_chart
from opendpo.web.dependencies import PolicyDep, SessionDep, StateDep

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/consent", name="console_consent")
def consent_figures(
    request: Request,
    auth: PolicyReader,
    state: StateDep,
    session: SessionDep,
    policy: PolicyDep,
    weeks: str = "",
) -> Response:
    errors: dict[str, str] = {}
    try:
        count = reports.check_weeks(weeks)
    except InvalidValue as exc:
        errors[exc.field] = exc.detail
        count = reports.DEFAULT_WEEKS
    purposes = {p.key: p.name for p in policy.purposes if p.consent is not None}
    calendar = reports.last_weeks(now=dt.datetime.now(dt.UTC), count=count)
    rates = reports.consent_rates(session=session, purposes=list(purposes), weeks=calendar)
    context = {
        "page": "consent",
        "weeks": weeks if errors else count,
        "errors": errors,
        "purposes": purposes,
        "rates": rates,
        "chart": _rates_chart(purposes, rates, calendar) if purposes else None,
        "suppressed": suppression_count(session=session),
        "suppressed_by_reason": reports.suppressions_by_reason(session=session),
        "renewals": reports.renewals_needed(session=session, purposes=list(purposes)),
    }
    return state.templates.TemplateResponse(
        request, "console/consent.html", context, status_code=422 if errors else 200
    )


def week_label(week: reports.Week) -> str:
    return f"{week.start.day} {week.start:%b}"


def _rates_chart(
    purposes: dict[str, str],
    rates: dict[str, list[reports.WeekFigures]],
    calendar: list[reports.Week],
) -> Markup:
    series = [
        Series(
            name=name,
            values=[figures.rate for figures in rates[key]],
            notes=[
                f"{name}, week of {week_label(f.week)} {f.week.start.year}: "
                + (
                    f"{f.rate:.0f}% ({f.consenting} of {f.asked} asked)"
                    if f.rate is not None
                    else "no one asked yet"
                )
                for f in rates[key]
            ],
        )
        for key, name in purposes.items()
    ]
    first, last = calendar[0], calendar[-1]
    return line_chart(
        chart_id="consent-rates",
        title="Consent rate per purpose, per week",
        description=(
            f"Per cent of the people asked about each purpose whose answer at the end of the "
            f"week was a live consent, weekly from {week_label(first)} {first.start.year} to "
            f"{week_label(last)} {last.start.year}. The tables below give the same figures."
        ),
        labels=[week_label(week) for week in calendar],
        series=series,
    )
