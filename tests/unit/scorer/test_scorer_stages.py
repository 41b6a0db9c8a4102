"""Lifecycle stages from their definitions in config."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from services.scorer.domain.aggregates import CustomerAggregates
from services.scorer.domain.features import compute_features
from services.scorer.domain.stages import assign_stages, median_interval_days
from shared.definitions.scoring import StageConfig
from tests.unit.scorer.conftest import AS_OF

CONFIG = StageConfig(
    abandoned_within_days=30.0,
    lapsed_p_alive_below=0.2,
    lapsed_missed_intervals=3.0,
    lapsed_min_days=90.0,
    one_time_lapsed_days=365.0,
)


@pytest.mark.parametrize(
    ("spec", "p_alive", "stage"),
    [
        ({"orders": 0, "abandoned_days_ago": 30}, np.nan, "abandoned_checkout"),
        ({"orders": 0, "abandoned_days_ago": 31}, np.nan, "prospect"),
        ({"orders": 0}, np.nan, "prospect"),
        ({"orders": 1, "first_days_ago": 365}, 1.0, "first_time"),
        ({"orders": 1, "first_days_ago": 366}, 1.0, "lapsed"),
        ({"orders": 2, "first_days_ago": 100, "last_days_ago": 10}, 0.9, "repeat"),
        # usual interval 30 days: lapsed after 3 x 30 = 90 days, and never before 90 days
        ({"orders": 5, "first_days_ago": 210, "last_days_ago": 90}, 0.9, "repeat"),
        ({"orders": 5, "first_days_ago": 211, "last_days_ago": 91}, 0.9, "lapsed"),
        ({"orders": 11, "first_days_ago": 80, "last_days_ago": 60}, 0.9, "repeat"),
        # the model says gone even though the interval rule does not
        ({"orders": 3, "first_days_ago": 100, "last_days_ago": 20}, 0.19, "lapsed"),
        ({"orders": 3, "first_days_ago": 100, "last_days_ago": 20}, 0.20, "repeat"),
        # a buyer who abandons a checkout keeps their buyer stage unless configured otherwise
        ({"orders": 2, "first_days_ago": 100, "abandoned_days_ago": 1}, 0.9, "repeat"),
    ],
)
def test_stage_boundaries(
    customers: Callable[..., CustomerAggregates], spec: dict[str, float], p_alive: float, stage: str
) -> None:
    f = compute_features(customers(spec), AS_OF)
    got = assign_stages(f, np.array([p_alive]), CONFIG, shop_interval_days=60.0)
    assert got.tolist() == [stage]


def test_buyers_who_abandon_after_ordering_can_be_retargeted(
    customers: Callable[..., CustomerAggregates],
) -> None:
    agg = customers(
        {"orders": 2, "first_days_ago": 100, "last_days_ago": 5, "abandoned_days_ago": 1},
        {"orders": 2, "first_days_ago": 100, "last_days_ago": 5, "abandoned_days_ago": 9},
    )
    config = StageConfig(abandoned_include_buyers=True)
    got = assign_stages(compute_features(agg, AS_OF), np.array([0.9, 0.9]), config, 60.0)
    assert got.tolist() == ["abandoned_checkout", "repeat"]


def test_one_time_buyers_lapse_after_missed_shop_intervals_by_default(
    customers: Callable[..., CustomerAggregates],
) -> None:
    agg = customers(
        {"orders": 1, "first_days_ago": 150},
        {"orders": 1, "first_days_ago": 151},
        {"orders": 3, "first_days_ago": 251, "last_days_ago": 151},  # usual interval 50 days
    )
    f = compute_features(agg, AS_OF)
    assert median_interval_days(f) == 50.0
    got = assign_stages(f, np.array([1.0, 1.0, 0.9]), StageConfig(), median_interval_days(f))
    assert got.tolist() == ["first_time", "lapsed", "lapsed"]


def test_no_repeat_buyers_means_a_one_year_yardstick(
    customers: Callable[..., CustomerAggregates],
) -> None:
    f = compute_features(customers({"orders": 1}), AS_OF)
    assert median_interval_days(f) == 365.0
