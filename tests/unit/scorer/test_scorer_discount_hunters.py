"""The default profile's discount-hunter condition: most orders discounted, deep for this shop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from services.scorer.domain.aggregates import CustomerAggregates
from services.scorer.domain.scoring import score
from shared.definitions.scoring import DEFAULT_SCORING, ScoringConfigError, load_scoring
from tests.unit.scorer.conftest import AS_OF

HUNTER = "discount_share=0.75>=0.50 and mean_discount_depth=0.22>=0.15 and mean_discount_depth=0.22>p75("


def _full_price_shop(n: int = 200) -> list[dict[str, Any]]:
    """Ordinary buyers: full price, AOV spread 40-120, a few orders each."""
    rng = np.random.default_rng(3)
    return [
        {"orders": int(k), "gross": float(k * rng.uniform(40, 120)), "first_days_ago": 300.0}
        for k in rng.integers(1, 5, n)
    ]


@pytest.mark.parametrize(
    ("spec", "hunter"),
    [
        # 25-50% codes on most orders: caught, though no order reached the old "all at 40%+" rule.
        ({"orders": 4, "gross": 320.0, "discounted_orders": 3, "depth": 0.30}, True),
        ({"orders": 3, "gross": 240.0, "discounted_orders": 3, "depth": 0.25}, True),
        ({"orders": 4, "gross": 320.0, "discounted_orders": 2, "depth": 0.50}, True),  # half the orders
        # A code now and then, or shallow codes on every order (a newsletter's 10%): not hunters.
        ({"orders": 4, "gross": 320.0, "discounted_orders": 1, "depth": 0.50}, False),
        ({"orders": 4, "gross": 320.0, "discounted_orders": 4, "depth": 0.10}, False),
        # One discounted order is no habit yet.
        ({"orders": 1, "gross": 80.0, "discounted_orders": 1, "depth": 0.50}, False),
    ],
)
def test_default_profile_catches_customers_with_deep_codes_on_most_orders(
    customers: Callable[..., CustomerAggregates], spec: Mapping[str, Any], hunter: bool
) -> None:
    scored = score(customers(*_full_price_shop(), {"first_days_ago": 300.0, **spec}), DEFAULT_SCORING, AS_OF)
    reason = scored.reasons[-1]
    assert ("discount_share=" in reason) is hunter, reason
    assert (scored.label[-1] == "negative_icp") is hunter


def test_the_reason_states_each_threshold_and_the_shops_percentile(
    customers: Callable[..., CustomerAggregates],
) -> None:
    spec = {"orders": 4, "gross": 320.0, "discounted_orders": 3, "depth": 0.30, "first_days_ago": 300.0}
    scored = score(customers(*_full_price_shop(), spec), DEFAULT_SCORING, AS_OF)
    # 3 of 4 orders at 30% off: 0.75 of orders, 0.225 off on average; the shop's p75 is 0.00.
    assert scored.reasons[-1] == HUNTER + "0.00)"
    assert scored.calibration.cutoffs["mean_discount_depth:p75"] == 0.0


def test_a_shop_always_on_sale_has_no_discount_hunters(customers: Callable[..., CustomerAggregates]) -> None:
    # Every order of every buyer at 30% off: deep for a full-price shop, ordinary here.
    everyone = [{**c, "discounted_orders": c["orders"], "depth": 0.30} for c in _full_price_shop()]
    scored = score(customers(*everyone), DEFAULT_SCORING, AS_OF)
    assert not any("discount_share" in r for r in scored.reasons.tolist())


def test_and_tests_are_configured_under_a_condition_and_validated_by_path() -> None:
    profile = {
        "icp": {"when": [{"feature": "value", "top_percent": 10}]},
        "negative_icp": {
            "match": "any",
            "when": [
                {"feature": "discount_share", "at_least": 0.6, "and": [{"feature": "aov", "below": 30}]}
            ],
        },
    }
    config = load_scoring({"profile": "mine", "profiles": {"mine": profile}})
    (cond,) = config.active.negative_icp.when
    assert (cond.feature, cond.also[0].feature, cond.also[0].threshold) == ("discount_share", "aov", 30.0)
    profile["negative_icp"]["when"][0]["and"] = [{"feature": "aov"}]  # type: ignore[index]
    with pytest.raises(ScoringConfigError, match=r"scoring\.profiles\.mine\.negative_icp\.when\.0\.and\.0"):
        load_scoring({"profile": "mine", "profiles": {"mine": profile}})
