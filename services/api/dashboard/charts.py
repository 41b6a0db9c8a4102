"""Inline SVG sparklines for the dashboard: points of a polyline, no script, no chart library."""

from __future__ import annotations

import math
from collections.abc import Sequence

WIDTH, HEIGHT, PAD = 120.0, 28.0, 2.0


def sparkline(values: Sequence[float | None], width: float = WIDTH, height: float = HEIGHT) -> str:
    """``points`` for an SVG polyline over ``values`` (oldest first); unknown values are skipped.

    The y axis spans the series' own range (a flat series is drawn mid-height); "" when no value
    is known.
    """
    known = [(i, float(v)) for i, v in enumerate(values) if v is not None and math.isfinite(float(v))]
    if not known:
        return ""
    low, high = min(v for _, v in known), max(v for _, v in known)
    span_x = max(len(values) - 1, 1)
    inner_w, inner_h = width - 2 * PAD, height - 2 * PAD
    points = []
    for i, v in known:
        x = PAD + inner_w * (i / span_x if len(values) > 1 else 0.5)
        y = PAD + inner_h * (0.5 if high == low else 1 - (v - low) / (high - low))
        points.append(f"{x:.1f},{y:.1f}")
    if len(points) == 1:  # one reading: a short level line so it is visible
        level = points[0].split(",")[1]
        points = [f"{PAD:.1f},{level}", f"{width - PAD:.1f},{level}"]
    return " ".join(points)
