"""Incremental rescoring with a stored calibration, and which changes are worth a message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from services.scorer.domain.aggregates import CustomerAggregates
from services.scorer.domain.changes import material_change
from services.scorer.domain.scoring import (
    Calibration,
    CalibrationMismatchError,
    LabelSnapshot,
    ScoredCustomers,
    score,
)
from services.scorer.domain.synthetic import synthetic_shop
from shared.definitions.scoring import DEFAULT_SCORING, MaterialChange, load_scoring
from tests.unit.scorer.conftest import AS_OF


@pytest.fixture(scope="module")
def shop() -> CustomerAggregates:
    return synthetic_shop(8_000, AS_OF, seed=5)


@pytest.fixture(scope="module")
def full(shop: CustomerAggregates) -> ScoredCustomers:
    return score(shop, DEFAULT_SCORING, AS_OF)


def test_incremental_and_full_rescoring_give_identical_results(
    shop: CustomerAggregates, full: ScoredCustomers
) -> None:
    rows = np.random.default_rng(1).choice(len(shop), size=300, replace=False)
    stored = Calibration.from_dict(json.loads(json.dumps(full.calibration.to_dict())))
    some = score(shop.take(rows), DEFAULT_SCORING, AS_OF, calibration=stored)
    for column in ("label", "reasons", "stage"):
        assert getattr(some, column).tolist() == getattr(full, column)[rows].tolist(), column
    np.testing.assert_array_equal(some.value, full.value[rows])


def test_a_calibration_without_the_profiles_cutoffs_is_refused(full: ScoredCustomers) -> None:
    mine = load_scoring(
        {
            "profile": "mine",
            "profiles": {
                "mine": {
                    "icp": {"when": [{"feature": "ltv", "above_percentile": 95}]},
                    "negative_icp": {"when": [{"feature": "aov", "below": 5}]},
                }
            },
        }
    )
    with pytest.raises(CalibrationMismatchError, match="ltv:p95"):
        score(synthetic_shop(10, AS_OF, seed=5), mine, AS_OF, calibration=full.calibration)


def _snap(keys: list[str], labels: list[str], stages: list[str], values: list[float]) -> LabelSnapshot:
    return LabelSnapshot(
        np.array(keys, dtype=object),
        np.array(labels, dtype=object),
        np.array(stages, dtype=object),
        np.array(values, dtype=np.float64),
    )


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        (("icp", "repeat", 100.0), ("icp", "repeat", 100.0), False),
        (("icp", "repeat", 100.0), ("neutral", "repeat", 100.0), True),
        (("icp", "repeat", 100.0), ("icp", "lapsed", 100.0), True),
        (("icp", "repeat", 100.0), ("icp", "repeat", 110.0), False),  # exactly 10%
        (("icp", "repeat", 100.0), ("icp", "repeat", 110.01), True),
        (("icp", "repeat", 100.0), ("icp", "repeat", 89.99), True),
        (("neutral", "first_time", 0.0), ("neutral", "first_time", 0.99), False),  # < 1.00 abs
        (("neutral", "first_time", 0.0), ("neutral", "first_time", 1.01), True),
    ],
)
def test_material_change_boundaries(
    before: tuple[str, str, float], after: tuple[str, str, float], changed: bool
) -> None:
    previous = _snap(["a"], [before[0]], [before[1]], [before[2]])
    current = _snap(["a"], [after[0]], [after[1]], [after[2]])
    tolerance = MaterialChange(value_relative=0.10, value_absolute=1.0)
    assert material_change(previous, current, tolerance).tolist() == [changed]


def test_material_change_matches_customers_by_key_not_by_row() -> None:
    previous = _snap(["b", "a", "c"], ["icp", "neutral", "icp"], ["repeat"] * 3, [5.0, 5.0, 5.0])
    current = _snap(["a", "b", "new"], ["neutral", "neutral", "neutral"], ["repeat"] * 3, [5.0] * 3)
    got = material_change(previous, current, MaterialChange())
    assert got.tolist() == [False, True, True]


def test_an_unchanged_rescore_emits_nothing(full: ScoredCustomers, shop: CustomerAggregates) -> None:
    again = score(shop, DEFAULT_SCORING, AS_OF, calibration=full.calibration)
    assert not material_change(full.snapshot(), again.snapshot(), MaterialChange()).any()
    assert material_change(_snap([], [], [], []), again.snapshot(), MaterialChange()).all()
