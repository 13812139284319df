"""Request figures: received, completed and answered on time, per ISO week.

Counts only, no request or person named: open to everyone who reads the policy (auditors
too), like the consent figures.
"""

from __future__ import annotations

import datetime as dt
import math

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from opendpo.rights import queue
from opendpo.web.auth import PolicyReader
from opendpo.web.charts import Series, line_chart
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.pages.request_queue import today

router = APIRouter(prefix="/console", include_in_schema=False)


def week_label(start: dt.date) -> str:
    return f"{start.day} {start:%b}"


def _span(figures: list[queue.WeekFigures]) -> str:
    first, last = figures[0].start, figures[-1].start
    return f"weekly from {week_label(first)} {first.year} to {week_label(last)} {last.year}"


def counts_chart(figures: list[queue.WeekFigures]) -> Markup:
    highest = max([1, *(f.received for f in figures), *(f.completed for f in figures)])
    # Four gridlines on whole numbers: the top is the next multiple of four.
    top = 4 * math.ceil(highest / 4)
    series = [
        Series(
            name=name,
            values=[float(getattr(f, attribute)) for f in figures],
            notes=[
                f"{getattr(f, attribute)} {name.lower()}, week of {week_label(f.start)} "
                f"{f.start.year} ({f.iso_week})"
                for f in figures
            ],
        )
        for name, attribute in (("Received", "received"), ("Completed", "completed"))
    ]
    return line_chart(
        chart_id="requests-counts",
        title="Requests received and completed per week",
        description=(
            f"Number of rights requests received and completed in each ISO week, "
            f"{_span(figures)}. The table below gives the same figures."
        ),
        labels=[week_label(f.start) for f in figures],
        series=series,
        maximum=float(top),
        unit="",
    )


def on_time_chart(figures: list[queue.WeekFigures]) -> Markup:
    series = Series(
        name="Answered on time",
        values=[f.on_time_rate for f in figures],
        notes=[
            f"Week of {week_label(f.start)} {f.start.year}: "
            + (
                f"{f.on_time_rate:.0f}% ({f.on_time} of {f.answered} answered by the due date)"
                if f.on_time_rate is not None
                else "nothing answered"
            )
            for f in figures
        ],
    )
    return line_chart(
        chart_id="requests-on-time",
        title="Requests answered on time per week",
        description=(
            f"Per cent of the requests completed or refused in each ISO week that were "
            f"answered on or before their due date, {_span(figures)}. Weeks with no answer "
            f"leave a gap. The table below gives the same figures."
        ),
        labels=[week_label(f.start) for f in figures],
        series=[series],
    )


@router.get("/requests/figures", name="console_request_figures")
def request_figures(
    request: Request, auth: PolicyReader, state: StateDep, session: SessionDep
) -> Response:
    day = today()
    figures = queue.weekly_figures(session=session, weeks=queue.last_weeks(today=day))
    context = {
        "page": "requests",
        "figures": figures,
        "counts_chart": counts_chart(figures),
        "on_time_chart": on_time_chart(figures),
        "open_counts": queue.status_counts(session=session),
        "overdue": queue.overdue_count(session=session, today=day),
    }
    return state.templates.TemplateResponse(request, "console/requests_figures.html", context)
