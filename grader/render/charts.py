"""The report's charts as typed data: axes, timelines, a memory chart (the templates draw them as SVG)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from grader.excerpts import MemoryCurve

CHART_WIDTH = 640
LABEL_WIDTH = 90


@dataclass(frozen=True, kw_only=True)
class Axis:
    max: float
    scale: float  # pixels per unit
    ticks: list[float]
    left: int  # where the axis starts, in pixels


@dataclass(frozen=True, kw_only=True)
class Mark:
    x: float
    at: float  # seconds
    text: str


@dataclass(frozen=True, kw_only=True)
class TimelineRow:
    label: str  # "your app" or "reference"
    y: int
    marks: list[Mark]
    count: int


@dataclass(frozen=True, kw_only=True)
class Timeline:
    axis: Axis
    rows: list[TimelineRow]
    expected: list[float]  # x of each moment the contract names
    axis_y: int
    height: int
    unit: str  # what arrives: "token", "event"


@dataclass(frozen=True, kw_only=True)
class YTick:
    mib: float
    y: float


@dataclass(frozen=True, kw_only=True)
class MemoryLine:
    name: str
    points: str  # an SVG polyline's points
    growth: int
    css: str


@dataclass(frozen=True, kw_only=True)
class MemoryChart:
    axis: Axis
    lines: list[MemoryLine]
    bound_y: float
    bound: int
    height: int
    base_y: float
    top: int
    y_ticks: list[YTick]


def nice_step(span: float) -> float:
    """A tick spacing of 1, 2 or 5 times a power of ten giving 4 to 10 ticks."""
    raw = span / 6 if span > 0 else 0.1
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


def axis(maximum: float, width: int = CHART_WIDTH - LABEL_WIDTH - 10) -> Axis:
    maximum = max(maximum, 1e-3)
    step = nice_step(maximum)
    ticks = [round(step * index, 6) for index in range(int(maximum / step) + 1)]
    return Axis(max=maximum, scale=width / maximum, ticks=ticks, left=LABEL_WIDTH)


def timeline(rows: list[tuple[str, list[float], list[str]]], expected: list[float], unit: str) -> Timeline | None:
    """Arrival bars, one row per app, on one time axis, with the expected moments dashed."""
    rows = [row for row in rows if row[1] is not None]
    if not rows:
        return None
    latest = max([*(max(times, default=0.0) for _, times, _ in rows), *expected, 0.1])
    scale = axis(latest * 1.08)
    drawn = []
    for index, (label, times, texts) in enumerate(rows):
        marks = [
            Mark(x=LABEL_WIDTH + at * scale.scale, at=at, text=text) for at, text in zip(times, texts, strict=True)
        ]
        drawn.append(TimelineRow(label=label, y=20 + index * 40, marks=marks, count=len(times)))
    return Timeline(
        axis=scale,
        rows=drawn,
        expected=[LABEL_WIDTH + at * scale.scale for at in expected],
        # Rows, then the time axis with its ticks, then the axis' name.
        axis_y=15 + 40 * len(drawn),
        height=56 + 40 * len(drawn),
        unit=unit,
    )


def memory_chart(curves: list[tuple[str, MemoryCurve | None]], bound: int) -> MemoryChart | None:
    """Growth of resident memory over the download, per app ("your app", "reference"), against the bound."""
    drawn = [(name, memory) for name, memory in curves if memory is not None]
    if not drawn:
        return None
    latest = max(max((point[0] for point in memory.points), default=0.1) for _, memory in drawn)
    highest = max([bound * 1.25, *(max((p[1] for p in memory.points), default=0) for _, memory in drawn)])
    x_axis = axis(latest * 1.05)
    height, top, bottom = 210, 10, 170  # the plot's top and bottom; below: the time ticks and the axis' name
    y_scale = (bottom - top) / highest

    def y(value: float) -> float:
        return bottom - max(value, 0) * y_scale

    mib_step = nice_step(highest / 2**20)
    y_ticks = [
        YTick(mib=round(mib_step * index, 6), y=y(mib_step * index * 2**20))
        for index in range(int(highest / 2**20 / mib_step) + 1)
    ]
    lines = []
    for name, memory in drawn:
        points = " ".join(f"{LABEL_WIDTH + at * x_axis.scale:.1f},{y(growth):.1f}" for at, growth in memory.points)
        lines.append(MemoryLine(name=name, points=points, growth=memory.growth, css=name.replace(" ", "-")))
    return MemoryChart(
        axis=x_axis,
        lines=lines,
        bound_y=y(bound),
        bound=bound,
        height=height,
        base_y=y(0),
        top=top,
        y_ticks=y_ticks,
    )
