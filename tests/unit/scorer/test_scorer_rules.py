"""Label rules at their boundaries: operators, evidence, negative-wins and the reason format."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from services.scorer.domain.aggregates import CustomerAggregates
from services.scorer.domain.rules import apply_profile, match_rule, resolve_cutoffs
from services.scorer.domain.scoring import score
from shared.definitions.scoring import Condition, LabelRule, Profile, load_scoring
from tests.unit.scorer.conftest import AS_OF

SEED = load_scoring({"profile": "seed"})


def _inputs(**columns: list[float]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}


@pytest.mark.parametrize(
    ("op", "threshold", "value", "matches"),
    [
        ("above", 150.0, 150.0, False),
        ("above", 150.0, 150.01, True),
        ("below", 50.0, 50.0, False),
        ("below", 50.0, 49.99, True),
        ("at_least", 3.0, 3.0, True),
        ("at_least", 3.0, 2.99, False),
        ("at_most", 0.25, 0.25, True),
        ("at_most", 0.25, 0.2501, False),
        ("above", 150.0, float("nan"), False),
        ("below", 50.0, float("nan"), False),
    ],
)
def test_absolute_operator_boundaries(op: str, threshold: float, value: float, matches: bool) -> None:
    rule = LabelRule("all", (Condition("aov", op, threshold),))  # type: ignore[arg-type]
    got = match_rule(rule, _inputs(aov=[value]), {}, np.array([5.0]), np.array([100.0]))
    assert got.matched.tolist() == [matches]


@pytest.mark.parametrize(
    ("spec", "label"),
    [
        # seed ICP: AOV > 150 and LTV > 500 and 3+ orders a year (one year of tenure here)
        ({"orders": 4, "gross": 604.0, "first_days_ago": 300}, "icp"),
        ({"orders": 4, "gross": 600.0, "first_days_ago": 300}, "neutral"),  # AOV = 150.00
        ({"orders": 3, "gross": 500.0, "first_days_ago": 300}, "neutral"),  # LTV = 500.00
        ({"orders": 3, "gross": 501.0, "first_days_ago": 300}, "icp"),  # 3 orders in a year
        ({"orders": 3, "gross": 501.0, "first_days_ago": 400, "last_days_ago": 0}, "neutral"),
        # LTV is net of refunds: a refund drops an otherwise-ICP customer below 500
        ({"orders": 4, "gross": 800.0, "refunded": 301.0, "refunded_orders": 1}, "negative_icp"),
        ({"orders": 4, "gross": 800.0, "refunded": 160.0, "refunded_orders": 1}, "icp"),
        # seed negative: AOV < 50, return rate > 20%, only at 40%+ off, > 1 ticket per order
        ({"orders": 1, "gross": 49.99}, "negative_icp"),
        ({"orders": 1, "gross": 50.0}, "neutral"),
        ({"orders": 2, "gross": 200.0, "refunded": 40.0, "refunded_orders": 1}, "neutral"),
        ({"orders": 2, "gross": 200.0, "refunded": 40.02, "refunded_orders": 1}, "negative_icp"),
        ({"orders": 2, "gross": 200.0, "discounted_orders": 2, "depth": 0.40}, "negative_icp"),
        ({"orders": 2, "gross": 200.0, "discounted_orders": 2, "depth": 0.39}, "neutral"),
        ({"orders": 2, "gross": 200.0, "discounted_orders": 1, "depth": 0.50}, "neutral"),
        ({"orders": 2, "gross": 200.0, "tickets": 2}, "neutral"),
        ({"orders": 2, "gross": 200.0, "tickets": 3}, "negative_icp"),
        # negative wins: an ICP-grade spender who only buys at half price
        ({"orders": 4, "gross": 1000.0, "discounted_orders": 4, "depth": 0.5}, "negative_icp"),
        ({"orders": 0, "abandoned_days_ago": 3}, "neutral"),
    ],
)
def test_seed_profile_boundaries(
    customers: Callable[..., CustomerAggregates], spec: dict[str, float], label: str
) -> None:
    spec = {"first_days_ago": 300, **spec}
    scored = score(customers(spec), SEED, AS_OF)
    assert scored.label.tolist() == [label]


def test_seed_reasons_name_each_matched_condition_with_two_decimals(
    customers: Callable[..., CustomerAggregates],
) -> None:
    scored = score(
        customers(
            {"orders": 4, "gross": 849.6, "first_days_ago": 300},
            {"orders": 2, "gross": 84.0, "refunded": 42.0, "refunded_orders": 1},
        ),
        SEED,
        AS_OF,
    )
    assert scored.reasons.tolist() == [
        "aov=212.40>150.00;ltv=849.60>500.00;orders_per_year=4.00>=3.00",
        "aov=42.00<50.00;return_rate=0.50>0.20",
    ]


def test_neutral_customers_have_no_reasons(customers: Callable[..., CustomerAggregates]) -> None:
    scored = score(customers({"orders": 1, "gross": 100.0}), SEED, AS_OF)
    assert scored.label.tolist() == ["neutral"] and scored.reasons.tolist() == [""]


def _relative_profile() -> Profile:
    icp = LabelRule("all", (Condition("aov", "above_percentile", 80.0),))
    negative = LabelRule("any", (Condition("aov", "below_percentile", 20.0),))
    return Profile("relative", icp, negative)


def test_relative_reasons_show_the_resolved_threshold() -> None:
    aov = np.arange(1.0, 11.0) * 10  # 10 .. 100
    inputs = _inputs(aov=list(aov))
    profile = _relative_profile()
    cutoffs = resolve_cutoffs(profile, inputs, np.ones(10, dtype=bool))
    assert cutoffs == {"aov:p80": pytest.approx(82.0), "aov:p20": pytest.approx(28.0)}
    labels = apply_profile(profile, inputs, cutoffs, np.ones(10), np.full(10, 100.0))
    assert labels.label.tolist() == ["negative_icp"] * 2 + ["neutral"] * 6 + ["icp"] * 2
    assert labels.reasons[0] == "aov=10.00<p20(28.00)"
    assert labels.reasons[-1] == "aov=100.00>p80(82.00)"


def test_top_percent_reason_names_the_share_and_the_cutoff() -> None:
    value = np.arange(1.0, 101.0)
    profile = Profile(
        "value",
        LabelRule("all", (Condition("value", "top_percent", 10.0),)),
        LabelRule("any", (Condition("value", "below", 0.0),)),
    )
    inputs = _inputs(value=list(value))
    cutoffs = resolve_cutoffs(profile, inputs, np.ones(100, dtype=bool))
    labels = apply_profile(profile, inputs, cutoffs, np.ones(100), np.full(100, 100.0))
    assert int(np.count_nonzero(labels.label == "icp")) == 10
    assert labels.reasons[-1] == "value=100.00>=top10%(90.10)"


@pytest.mark.parametrize(
    ("orders", "tenure", "rule", "matches"),
    [
        (1, 100.0, LabelRule("all", (Condition("aov", "above", 1.0),), min_orders=2), False),
        (2, 100.0, LabelRule("all", (Condition("aov", "above", 1.0),), min_orders=2), True),
        (2, 29.0, LabelRule("all", (Condition("aov", "above", 1.0),), min_tenure_days=30), False),
        (2, 30.0, LabelRule("all", (Condition("aov", "above", 1.0),), min_tenure_days=30), True),
        (1, 100.0, LabelRule("any", (Condition("aov", "above", 1.0, min_orders=2),)), False),
        (2, 100.0, LabelRule("any", (Condition("aov", "above", 1.0, min_orders=2),)), True),
    ],
)
def test_minimum_evidence(orders: int, tenure: float, rule: LabelRule, matches: bool) -> None:
    got = match_rule(rule, _inputs(aov=[5.0]), {}, np.array([float(orders)]), np.array([tenure]))
    assert got.matched.tolist() == [matches]


def test_all_needs_every_condition_and_any_needs_one() -> None:
    when = (Condition("aov", "above", 10.0), Condition("ltv", "above", 100.0))
    inputs = _inputs(aov=[20.0, 20.0, 5.0], ltv=[200.0, 50.0, 50.0])
    both = match_rule(LabelRule("all", when), inputs, {}, np.ones(3), np.ones(3))
    either = match_rule(LabelRule("any", when), inputs, {}, np.ones(3), np.ones(3))
    assert both.matched.tolist() == [True, False, False]
    assert either.matched.tolist() == [True, True, False]


def test_negative_reasons_list_only_the_negative_conditions_that_matched(
    customers: Callable[..., CustomerAggregates],
) -> None:
    scored = score(
        customers({"orders": 2, "gross": 1000.0, "discounted_orders": 2, "depth": 0.5, "tickets": 5}),
        SEED,
        AS_OF,
    )
    assert scored.icp_match.tolist() == [False]
    assert scored.reasons.tolist() == ["min_discount_depth=0.50>=0.40;tickets_per_order=2.50>1.00"]
