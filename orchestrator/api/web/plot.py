"""A small inline SVG plot's geometry: values over time scaled into a box. The
template draws it; here only the arithmetic (no plotting library, no script)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT, PAD = 480, 140, 28


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # the value and its time, for the point's <title> (and screen readers)


@dataclass(frozen=True)
class Plot:
    title: str
    unit: str
    points: tuple[Point, ...]
    y_max: float
    first: str  # the time axis' ends
    last: str
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def plot(title: str, unit: str, series: list[tuple[datetime, float]]) -> Plot:
    """``series`` (time, value) scaled into the box: time left to right, 0 at the bottom."""
    ordered = sorted(series)
    if not ordered:
        return Plot(title, unit, (), 0.0, "", "")
    start, end = ordered[0][0], ordered[-1][0]
    span = max((end - start).total_seconds(), 1.0)
    top = max(v for _, v in ordered) or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    points = tuple(
        Point(
            x=PAD + inner_w * ((t - start).total_seconds() / span if len(ordered) > 1 else 0.5),
            y=PAD + inner_h * (1 - v / top),
            label=f"{v:g} {unit} at {t:%Y-%m-%d %H:%M:%S} UTC",
        )
        for t, v in ordered
    )
    return Plot(title, unit, points, top, f"{start:%m-%d %H:%M}", f"{end:%m-%d %H:%M}")
