"""The ICP report's computations: label shares, trait lift, discount use, reasons, movements."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.scorer.domain.insights import (
    FULL_PRICE,
    GONE,
    MOSTLY_DISCOUNT,
    NEW,
    SOME_DISCOUNT,
    LabelShare,
    Movement,
    ReasonCount,
    discount_use,
    label_shares,
    movements,
    reason_counts,
    trait_lifts,
)


def _objects(*values: str) -> np.ndarray:
    return np.array(values, dtype=object)


def test_label_shares_count_customers_and_split_revenue_and_value() -> None:
    labels = _objects("icp", "neutral", "neutral", "negative_icp")
    revenue = np.array([600.0, 100.0, np.nan, 300.0])  # NaN revenue (no orders) counts as 0
    value = np.array([80.0, 10.0, 0.0, 10.0])
    assert label_shares(labels, revenue, value) == [
        LabelShare("icp", 1, 0.25, 600.0, 0.6, 80.0, 0.8),
        LabelShare("neutral", 2, 0.5, 100.0, 0.1, 10.0, 0.1),
        LabelShare("negative_icp", 1, 0.25, 300.0, 0.3, 10.0, 0.1),
    ]


def test_label_shares_of_a_shop_without_revenue_are_nan_not_a_division_error() -> None:
    (share,) = label_shares(_objects("neutral"), np.array([0.0]), np.array([0.0]))
    assert share.customers == 1 and math.isnan(share.revenue_share) and math.isnan(share.value_share)


def test_trait_lift_compares_icp_with_all_buyers() -> None:
    country = _objects("US", "US", "DE", "DE", "DE", "DE", "FR", "", "US", "DE")
    icp = np.array([True, True, False, False, False, False, False, False, False, True])
    buyers = np.array([True] * 9 + [False])  # the last customer never ordered: not in the base
    lifts = trait_lifts({"country": country}, icp, buyers, min_customers=1)
    by_value = {lift.value: lift for lift in lifts}
    assert set(by_value) == {"US", "DE", "FR"}  # "" (unknown) is skipped
    us = by_value["US"]
    assert (us.icp_customers, us.all_customers) == (2, 3)
    # Shares are of all 9 buyers (an unknown country still counts in the base) and of the 2 ICP buyers.
    assert us.icp_share == pytest.approx(1.0) and us.all_share == pytest.approx(3 / 9)
    assert us.lift == pytest.approx(3.0)
    assert by_value["DE"].lift == 0.0
    assert [lift.value for lift in lifts] == ["US", "DE", "FR"]  # by lift, then by name


def test_trait_values_held_by_too_few_buyers_are_left_out() -> None:
    traits = {"channel": _objects("email", "email", "email", "tiktok")}
    lifts = trait_lifts(traits, np.array([True, False, False, True]), np.ones(4, dtype=bool), min_customers=2)
    assert [lift.value for lift in lifts] == ["email"]


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        (0.0, FULL_PRICE),
        (0.01, SOME_DISCOUNT),
        (0.49, SOME_DISCOUNT),
        (0.5, MOSTLY_DISCOUNT),
        (1.0, MOSTLY_DISCOUNT),
        (math.nan, ""),
    ],
)
def test_discount_use_buckets_at_their_boundaries(share: float, expected: str) -> None:
    assert discount_use(np.array([share]))[0] == expected


def test_reason_counts_count_each_customer_once_per_feature() -> None:
    reasons = [
        ["aov=18.00<p10(22.73)", "return_rate=0.50>0.30"],
        ["return_rate=0.41>0.30"],
        ["tickets_per_order=2.00>1.00", "tickets_per_order=2.00>1.00"],
        [],
    ]
    assert reason_counts(reasons) == [
        ReasonCount("return_rate", 2, 0.5),
        ReasonCount("aov", 1, 0.25),
        ReasonCount("tickets_per_order", 1, 0.25),
    ]


def test_movements_count_changes_new_and_gone_customers_and_ignore_the_unchanged() -> None:
    before = ["neutral", "neutral", "icp", None, "negative_icp", "icp"]
    after = ["icp", "icp", "icp", "neutral", None, "neutral"]
    assert movements(before, after) == [
        Movement("neutral", "icp", 2),
        Movement(NEW, "neutral", 1),
        Movement("icp", "neutral", 1),
        Movement("negative_icp", GONE, 1),
    ]
