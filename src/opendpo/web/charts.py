"""Charts drawn on the server as SVG markup: no charting script, nothing inline for the
content security policy to refuse (presentation attributes are markup, not style).

Every chart names itself with <title> and <desc> and gives each point a tooltip; pages
show the same figures as a table, which is what screen readers and copy-paste use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Colours that stay apart for the common colour-vision deficiencies (Okabe & Ito), each
# with its own dash pattern so that lines differ in print and greyscale too.
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
DASHES = ("", "8 4", "2 4", "12 4 2 4", "4 4", "16 6", "1 3")

WIDTH, PLOT_HEIGHT = 720, 240
LEFT, RIGHT, TOP, AXIS = 56, 16, 16, 44  # margins; AXIS is the room under the plot
LEGEND_ROW = 22
MAX_X_LABELS = 13


@dataclass(frozen=True)
class Series:
    """One line: a value per label (None where there is nothing to show), and per point
    the words its tooltip says."""

    name: str
    values: Sequence[float | None]
    notes: Sequence[str]


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    maximum: float = 100.0,
    unit: str = "%",
) -> Markup:
    """An SVG line chart of `series` over `labels`, the y axis from 0 to `maximum`."""
    count = len(labels)
    height = TOP + PLOT_HEIGHT + AXIS + LEGEND_ROW * len(series)
    plot_width = WIDTH - LEFT - RIGHT

    def x(index: int) -> float:
        return LEFT + (plot_width * (index + 0.5) / count if count else 0)

    def y(value: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - min(max(value, 0.0), maximum) / maximum)

    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    parts.extend(_y_axis(y, maximum, unit))
    parts.extend(_x_axis(x, labels))
    for number, line in enumerate(series):
        parts.extend(_line(number, line, x, y))
        parts.extend(_legend_entry(number, line.name))
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _y_axis(y: Callable[[float], float], maximum: float, unit: str) -> list[str]:
    parts = []
    for step in range(5):
        value = maximum * step / 4
        level = y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{level:.1f}" y2="{level:.1f}" '
            f'stroke="#c5ccd6" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 8}" y="{level + 4:.1f}" text-anchor="end" fill="#3d4654">'
            f"{value:g}{escape(unit)}</text>"
        )
    return parts


def _x_axis(x: Callable[[int], float], labels: Sequence[str]) -> list[str]:
    # Long ranges label every n-th point only, so that labels never overlap.
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    base = TOP + PLOT_HEIGHT
    parts = [f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" stroke="#3d4654"/>']
    for index, label in enumerate(labels):
        if (len(labels) - 1 - index) % every:
            continue  # count back from the latest week, which is always labelled
        parts.append(
            f'<text x="{x(index):.1f}" y="{base + 18}" text-anchor="middle" fill="#3d4654">'
            f"{escape(label)}</text>"
        )
    return parts


def _line(
    number: int, line: Series, x: Callable[[int], float], y: Callable[[float], float]
) -> list[str]:
    colour, dash = COLOURS[number % len(COLOURS)], DASHES[number % len(DASHES)]
    dashing = f' stroke-dasharray="{dash}"' if dash else ""
    parts = []
    # A gap where there is no value: the line is broken, not drawn through zero.
    runs: list[list[str]] = [[]]
    for index, value in enumerate(line.values):
        if value is None:
            runs.append([])
            continue
        runs[-1].append(f"{x(index):.1f},{y(value):.1f}")
    for run in runs:
        if len(run) > 1:
            parts.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                f'stroke-width="2.5"{dashing}/>'
            )
    for index, (value, note) in enumerate(zip(line.values, line.notes, strict=True)):
        if value is None:
            continue
        parts.append(
            f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="4" fill="{colour}">'
            f"<title>{escape(note)}</title></circle>"
        )
    return parts


def _legend_entry(number: int, name: str) -> list[str]:
    colour, dash = COLOURS[number % len(COLOURS)], DASHES[number % len(DASHES)]
    dashing = f' stroke-dasharray="{dash}"' if dash else ""
    row = TOP + PLOT_HEIGHT + AXIS + LEGEND_ROW * number + LEGEND_ROW // 2
    return [
        f'<line x1="{LEFT}" x2="{LEFT + 32}" y1="{row}" y2="{row}" stroke="{colour}" '
        f'stroke-width="2.5"{dashing}/>',
        f'<text x="{LEFT + 40}" y="{row + 4}" fill="#1d2733">{escape(name)}</text>',
    ]
