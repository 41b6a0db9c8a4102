"""The dashboard's sparkline points and match-rate reading: pure functions over plain numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.api.dashboard.charts import HEIGHT, PAD, WIDTH, sparkline
from services.api.dashboard.reads import match_rate


def _points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in text.split())]


def test_no_known_value_draws_nothing() -> None:
    assert sparkline([]) == ""
    assert sparkline([None, None]) == ""


def test_one_reading_is_a_level_line_across() -> None:
    points = _points(sparkline([42.0]))
    assert [x for x, _ in points] == [PAD, WIDTH - PAD]
    assert points[0][1] == points[1][1] == pytest.approx(HEIGHT / 2)


def test_rising_series_goes_up_the_svg_axis_and_skips_unknowns() -> None:
    points = _points(sparkline([1.0, None, 3.0]))
    assert len(points) == 2
    (x0, y0), (x1, y1) = points
    assert x0 == PAD and x1 == WIDTH - PAD
    assert y0 == HEIGHT - PAD and y1 == PAD  # SVG y grows downwards: the larger value is higher


@given(st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9)), max_size=40))
def test_every_point_stays_inside_the_box(values: list[float | None]) -> None:
    for x, y in _points(sparkline(values)) if sparkline(values) else []:
        assert PAD - 0.05 <= x <= WIDTH - PAD + 0.05
        assert PAD - 0.05 <= y <= HEIGHT - PAD + 0.05


@pytest.mark.parametrize(
    ("reported", "fraction"),
    [
        (1.0, 1.0),  # a run's feedback: already a fraction
        (0.61, 0.61),
        (61, 0.61),  # Google's match_rate_percentage: whole percents
        (100, 1.0),
        (None, None),
        ("high", None),
        (True, None),
    ],
)
def test_match_rate_is_read_as_a_fraction(reported: object, fraction: float | None) -> None:
    assert match_rate(reported) == (pytest.approx(fraction) if fraction is not None else None)
