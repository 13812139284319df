"""`opendpo calendar`: check a request's due date by hand, by the same rules the queue uses."""

from __future__ import annotations

import datetime as dt

import click
from rich.console import Console
from rich.table import Table

from opendpo.errors import InvalidValue
from opendpo.rights.calendar import (
    RULE_FOR_KIND,
    clock_start,
    due,
    local_date,
    working_days_between,
)

DATE = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


@click.group("calendar")
def calendar_group() -> None:
    """The UK deadline calendar for requests (ICO rules, England-and-Wales bank holidays)."""


@calendar_group.command("due")
@click.option(
    "--received",
    required=True,
    type=DATE,
    metavar="YYYY-MM-DD",
    help="The day the request arrived.",
)
@click.option(
    "--kind",
    required=True,
    type=click.Choice(list(RULE_FOR_KIND)),
    metavar="KIND",
    help=f"The request kind: {', '.join(RULE_FOR_KIND)}.",
)
@click.option(
    "--verified",
    type=DATE,
    metavar="YYYY-MM-DD",
    help="The day proof of identity arrived, if later.",
)
@click.option(
    "--authority",
    type=DATE,
    metavar="YYYY-MM-DD",
    help="The day a third party's authority arrived.",
)
@click.option(
    "--fee-paid", type=DATE, metavar="YYYY-MM-DD", help="The day a permitted fee was paid."
)
@click.option("--extended", is_flag=True, help="Extended by the full two further months.")
@click.option(
    "--extended-months",
    type=click.IntRange(0, 2),
    metavar="N",
    help="Extended by this many further months (one-month deadlines only).",
)
@click.option(
    "--paused-days",
    type=click.IntRange(min=0),
    metavar="N",
    default=0,
    show_default=True,
    help="Calendar days the clock stood still awaiting clarification.",
)
@click.option(
    "--today",
    type=DATE,
    metavar="YYYY-MM-DD",
    help="Count working days left from this day (default: today).",
)
@click.option("--explain", is_flag=True, help="Also show how the date was reached.")
def due_command(
    received: dt.datetime,
    kind: str,
    verified: dt.datetime | None,
    authority: dt.datetime | None,
    fee_paid: dt.datetime | None,
    extended: bool,
    extended_months: int | None,
    paused_days: int,
    today: dt.datetime | None,
    explain: bool,
) -> None:
    """Print the due date of a request (YYYY-MM-DD, one line, for scripts).

    The clock starts at the latest of --received, --verified, --authority and --fee-paid; dates
    are London dates.
    """
    if extended and extended_months is not None:
        raise click.BadOptionUsage("extended", "give --extended or --extended-months, not both")
    months = 2 if extended else (extended_months or 0)
    starts = clock_start(
        received=received.date(),
        identity_verified=_day(verified),
        authority=_day(authority),
        fee_paid=_day(fee_paid),
    )
    try:
        deadline = due(kind=kind, starts=starts, extended_months=months, paused_days=paused_days)
    except InvalidValue as exc:
        option = {
            "extended_months": "--extended" if extended else "--extended-months",
            "paused_days": "--paused-days",
        }.get(exc.field, f"--{exc.field.replace('_', '-')}")
        raise click.BadParameter(exc.detail, param_hint=f"'{option}'") from None
    click.echo(deadline.due.isoformat())
    if not explain:
        return
    from_day = _day(today) or local_date(dt.datetime.now(dt.UTC))
    left = working_days_between(from_day, deadline.due)
    table = Table("", "", show_header=False, title=f"{kind} request: {deadline.rule.value}")
    table.add_row("clock starts", starts.isoformat())
    table.add_row("original due", deadline.original_due.isoformat())
    extension = f"{months} further month{'s' if months != 1 else ''}" if months else "none"
    table.add_row("extension", extension)
    table.add_row("paused days", str(deadline.paused_days))
    table.add_row("due", deadline.due.isoformat())
    table.add_row(
        f"working days from {from_day.isoformat()}",
        f"{left} (overdue)" if deadline.due < from_day else str(left),
    )
    Console().print(table)
