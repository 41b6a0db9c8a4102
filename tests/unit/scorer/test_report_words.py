"""Label reasons in words: the stored compact reasons become conditions with their thresholds."""

from __future__ import annotations

import pytest

from services.scorer.report_words import condition_of, in_words, reason_lines


@pytest.mark.parametrize(
    ("reason", "condition", "words"),
    [
        ("aov=212.40>150.00", "aov>150.00", "average order value above 150.00 EUR"),
        ("return_rate=0.25>=0.20", "return_rate>=0.20", "share of spend refunded at least 20%"),
        (
            "aov=12.00<p20(15.00)",
            "aov<p20(15.00)",
            "average order value below 15.00 EUR (the 20th percentile of buyers)",
        ),
        (
            "value=812.00>=top10%(640.00)",
            "value>=top10%(640.00)",
            "predicted value at least 640.00 EUR (the shop's top 10%)",
        ),
        (
            "discount_share=0.80>=0.50 and mean_discount_depth=0.31>=0.15",
            "discount_share>=0.50 and mean_discount_depth>=0.15",
            "share of orders with a discount at least 50% and average discount depth at least 15%",
        ),
        ("tickets_per_order=1.50>1.00", "tickets_per_order>1.00", "support tickets per order above 1"),
        ("top value", "top value", "top value"),  # not in the stored format: shown as it is
    ],
)
def test_reason_becomes_a_condition_in_words(reason: str, condition: str, words: str) -> None:
    assert condition_of(reason) == condition
    assert in_words(condition, "EUR") == words


def test_customers_are_counted_once_per_condition_and_label() -> None:
    rows = [
        ("negative_icp", ["aov=10.00<p20(15.00)", "return_rate=0.40>0.30"]),
        ("negative_icp", ["aov=12.00<p20(15.00)"]),
        ("icp", ["value=900.00>=top10%(640.00)"]),
        ("negative_icp", ["aov=9.00<p20(15.00)", "aov=9.00<p20(15.00)"]),  # duplicates count once
    ]
    lines = reason_lines(rows, "USD")
    got = [(x.label, x.condition, x.customers, round(x.share, 3)) for x in lines]
    assert got == [
        ("icp", "value>=top10%(640.00)", 1, 1.0),
        ("negative_icp", "aov<p20(15.00)", 3, 1.0),
        ("negative_icp", "return_rate>0.30", 1, 0.333),
    ]
