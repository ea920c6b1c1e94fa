"""Geometry of the KPI charts, drawn as SVG by the templates (no JavaScript chart library).

Pure functions from numbers to coordinates: the template only writes the elements, with
presentation attributes and CSS classes (the page's CSP forbids inline styles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

WIDTH = 720
LINE_HEIGHT = 260
MARGIN_LEFT = 72
MARGIN_RIGHT = 32
MARGIN_TOP = 12
MARGIN_BOTTOM = 32
GRID_LINES = 4
X_LABELS = 6  # dates on a long x axis; up to ALL_LABELS days, every one
ALL_LABELS = 10


NICE_TOPS = (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10)
MIN_TOP = 400  # 4,00 €: an empty chart still has an axis of round amounts


def nice_ceiling(value: int) -> int:
    """The top of the y axis: the smallest round amount (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6 or 8
    × 10ⁿ, each a multiple of four grid steps) at or above ``value``."""
    value = max(value, MIN_TOP)
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in NICE_TOPS:
        if factor * magnitude >= value:
            return math.ceil(factor * magnitude)
    return 10 * magnitude  # pragma: no cover - factor 10 always fits


@dataclass(frozen=True)
class Tick(Generic[T]):
    position: float
    value: T


@dataclass(frozen=True)
class LineChart(Generic[T]):
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    series: list[str]  # one "x,y x,y ..." polyline per series, in the order given
    y_ticks: list[Tick[int]]
    x_ticks: list[Tick[T]]


def line_chart(series: list[list[int]], labels: list[T], height: int = LINE_HEIGHT) -> LineChart[T]:
    """Lines sharing one x axis (``labels``, one per point) and one y axis from zero."""
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    count = len(labels)
    ceiling = nice_ceiling(max((max(values, default=0) for values in series), default=0))

    def x(index: int) -> float:
        return left + (right - left) * (index / (count - 1) if count > 1 else 0.5)

    def y(value: int) -> float:
        return bottom - (bottom - top) * value / ceiling

    if count <= ALL_LABELS:
        shown = list(range(count))
    else:
        shown = sorted({round(i * (count - 1) / (X_LABELS - 1)) for i in range(X_LABELS)})
    return LineChart(
        width=WIDTH,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        series=[
            " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values)) for values in series
        ],
        y_ticks=[
            Tick(round(y(ceiling * i // GRID_LINES), 1), ceiling * i // GRID_LINES)
            for i in range(GRID_LINES + 1)
        ],
        x_ticks=[Tick(round(x(i), 1), labels[i]) for i in shown],
    )


@dataclass(frozen=True)
class Bar(Generic[T]):
    item: T
    y: float
    width: float  # current period
    previous_width: float


@dataclass(frozen=True)
class BarChart(Generic[T]):
    width: int
    height: int
    left: float
    right: float
    bar_height: float
    previous_height: float
    bars: list[Bar[T]]


BAR_LEFT = 240
BAR_ROW = 34
BAR_HEIGHT = 16
PREVIOUS_HEIGHT = 6


def bar_chart(items: list[T], values: list[int], previous: list[int]) -> BarChart[T]:
    """Horizontal bars, one row per item, with a thin bar under each for the previous period,
    on a common scale."""
    left, right = BAR_LEFT, WIDTH - MARGIN_RIGHT - 96  # room for the value after the bar
    top = max(max(values, default=0), max(previous, default=0), 1)
    span = right - left
    return BarChart(
        width=WIDTH,
        height=MARGIN_TOP + BAR_ROW * len(items) + 4,
        left=left,
        right=right,
        bar_height=BAR_HEIGHT,
        previous_height=PREVIOUS_HEIGHT,
        bars=[
            Bar(
                item=item,
                y=MARGIN_TOP + BAR_ROW * i,
                width=round(span * value / top, 1),
                previous_width=round(span * before / top, 1),
            )
            for i, (item, value, before) in enumerate(zip(items, values, previous, strict=True))
        ],
    )
