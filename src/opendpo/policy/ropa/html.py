"""The records of processing as a printable web page, or a fragment the console embeds."""

from __future__ import annotations

from functools import cache
from typing import TextIO

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from opendpo.policy.ropa.records import RecordsOfProcessing

PAGE_TEMPLATE = "ropa_page.html.j2"
SECTION_TEMPLATE = "ropa_section.html.j2"


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("opendpo.policy.ropa", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _template(standalone: bool) -> Template:
    return _environment().get_template(PAGE_TEMPLATE if standalone else SECTION_TEMPLATE)


def _context(records: RecordsOfProcessing, standalone: bool) -> dict[str, object]:
    # A standalone page owns its <h1>; embedded in the console the section starts at <h2>.
    return {"records": records, "heading": 1 if standalone else 2}


def render_ropa_html(records: RecordsOfProcessing, *, standalone: bool = True) -> str:
    """A whole printable page, or (standalone=False) just its `<section class="ropa">`."""
    return _template(standalone).render(_context(records, standalone))


def write_html(records: RecordsOfProcessing, out: TextIO) -> None:
    """Stream the standalone page to `out`, chunk by chunk."""
    for chunk in _template(True).generate(_context(records, True)):
        out.write(chunk)
