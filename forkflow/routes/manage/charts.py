"""Geometry of the console's simple bar charts, drawn as server-rendered SVG by Jinja partials.

Bars are scaled to the largest value and laid out in a fixed viewBox; the SVG scales with the page.
Nothing here knows HTML: the templates (`templates/manage/_chart_*.html`) draw what this returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# (axis label, value, value as shown, tooltip)
Point = tuple[str, int, str, str]


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    text: str
    title: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float  # y of the axis (columns) or x where bars start (rows)
    bars: list[Bar]


def columns(points: Sequence[Point], width: int = 480, height: int = 170, widest: float = 56) -> Chart:
    """Vertical bars side by side (one per hour): value above each bar, label under it. A bar is at
    most `widest` wide, centred in its slot, so one lone hour does not fill the chart."""
    top, bottom = 18, 22  # room for the value text above, the label below
    plot = height - top - bottom
    slot = width / max(len(points), 1)
    bar_width = min(widest, slot * 0.8)
    biggest = max((value for _, value, _, _ in points), default=0) or 1
    bars = []
    for i, (label, value, text, title) in enumerate(points):
        bar_height = plot * value / biggest
        x = i * slot + (slot - bar_width) / 2
        bars.append(
            Bar(label, value, text, title, round(x, 2), round(top + plot - bar_height, 2), round(bar_width, 2),
                round(bar_height, 2))
        )  # fmt: skip
    return Chart(width, height, top + plot, bars)


def rows(points: Sequence[Point], width: int = 480, label_width: int = 150, row_height: int = 28) -> Chart:
    """Horizontal bars one under another (one per item): label left, value after the bar."""
    room_for_value = 70
    span = width - label_width - room_for_value
    biggest = max((value for _, value, _, _ in points), default=0) or 1
    bars = [
        Bar(
            label, value, text, title, label_width, i * row_height + 4, round(span * value / biggest, 2), row_height - 8
        )
        for i, (label, value, text, title) in enumerate(points)
    ]
    return Chart(width, max(len(points), 1) * row_height, label_width, bars)
