"""Features computed from aggregates: definitions, floors, and customers without orders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pytest

from services.scorer.domain.aggregates import CustomerAggregates, epoch_days
from services.scorer.domain.features import compute_features
from services.scorer.domain.model import ValuePrediction
from services.scorer.domain.scoring import rule_inputs
from shared.definitions.scoring import RULE_FEATURES
from tests.unit.scorer.conftest import AS_OF


def test_features_of_a_regular_customer(customers: Callable[..., CustomerAggregates]) -> None:
    agg = customers(
        {
            "orders": 4,
            "gross": 400.0,
            "first_days_ago": 730.5,
            "last_days_ago": 30,
            "refunded": 100.0,
            "refunded_orders": 1,
            "discounted_orders": 2,
            "depth": 0.25,
            "tickets": 2,
        }
    )
    f = compute_features(agg, AS_OF)
    got = {
        name: float(getattr(f, name)[0])
        for name in (
            "aov",
            "ltv",
            "orders_per_year",
            "return_rate",
            "return_rate_orders",
            "discount_share",
            "full_price_share",
            "mean_discount_depth",
            "min_discount_depth",
            "tickets_per_order",
            "recency_days",
            "tenure_days",
            "span_days",
        )
    }
    assert got == pytest.approx(
        {
            "aov": 100.0,
            "ltv": 300.0,
            "orders_per_year": 4 * 365.25 / 700.5,
            "return_rate": 0.25,
            "return_rate_orders": 0.25,
            "discount_share": 0.5,
            "full_price_share": 0.5,
            "mean_discount_depth": 0.125,
            "min_discount_depth": 0.0,
            "tickets_per_order": 0.5,
            "recency_days": 30.0,
            "tenure_days": 730.5,
            "span_days": 700.5,
        }
    )


def test_new_customers_are_not_extrapolated(customers: Callable[..., CustomerAggregates]) -> None:
    agg = customers({"orders": 2, "first_days_ago": 10, "last_days_ago": 1})
    assert compute_features(agg, AS_OF).orders_per_year[0] == pytest.approx(2.0 * 365.25 / 365)
    floor_90 = compute_features(agg, AS_OF, frequency_floor_days=90.0).orders_per_year[0]
    assert floor_90 == pytest.approx(2.0 * 365.25 / 90)


def test_customers_without_orders_have_nan_ratios(
    customers: Callable[..., CustomerAggregates],
) -> None:
    f = compute_features(customers({"orders": 0, "tickets": 2}), AS_OF)
    for name in ("aov", "return_rate", "discount_share", "tickets_per_order", "recency_days"):
        assert np.isnan(getattr(f, name)[0]), name
    assert f.ltv[0] == 0.0 and f.orders[0] == 0.0 and not f.buyers[0]


def test_facts_stamped_after_as_of_do_not_give_negative_ages(
    customers: Callable[..., CustomerAggregates],
) -> None:
    f = compute_features(customers({"orders": 2, "first_days_ago": -1, "last_days_ago": -2}), AS_OF)
    assert f.tenure_days[0] == 0.0 and f.recency_days[0] == 0.0 and f.span_days[0] == 0.0


def test_every_rule_feature_has_a_column() -> None:
    f = compute_features(CustomerAggregates.from_columns(_minimal()), AS_OF)
    zeros = np.zeros(1)
    inputs = rule_inputs(f, ValuePrediction(zeros, zeros, zeros, zeros, zeros))
    assert set(inputs) == set(RULE_FEATURES)


def _minimal() -> dict[str, list[object]]:
    return {
        "customer_key": ["a"],
        "n_orders": [1],
        "first_order_at": [AS_OF - 1],
        "last_order_at": [AS_OF - 1],
        "gross_total": [10.0],
    }


def test_aggregates_accept_datetime64_and_fill_optional_columns() -> None:
    cols = _minimal() | {
        "first_order_at": np.array(["2024-06-29T12:00"], dtype="datetime64[m]"),
        "last_abandoned_checkout_at": np.array(["NaT"], dtype="datetime64[s]"),
    }
    agg = CustomerAggregates.from_columns(cols)
    assert agg.first_order_at[0] == pytest.approx(epoch_days(datetime(2024, 6, 29, 12)))
    assert np.isnan(agg.last_abandoned_checkout_at[0])
    assert agg.order_days.tolist() == [1] and agg.tickets.tolist() == [0]
    assert agg.discount_depth_min.tolist() == [0.0]


def test_aggregates_reject_ragged_or_unknown_columns() -> None:
    with pytest.raises(ValueError, match="gross_total: 2 rows"):
        CustomerAggregates.from_columns(_minimal() | {"gross_total": [1.0, 2.0]})
    with pytest.raises(ValueError, match="unknown aggregate columns: spend"):
        CustomerAggregates.from_columns(_minimal() | {"spend": [1.0]})
    with pytest.raises(ValueError, match="missing aggregate columns: gross_total"):
        CustomerAggregates.from_columns({k: v for k, v in _minimal().items() if k != "gross_total"})


def test_a_date_means_the_end_of_that_day() -> None:
    assert epoch_days(date(1970, 1, 1)) == 1.0
    assert epoch_days(datetime(1970, 1, 2)) == 1.0
    assert epoch_days(np.datetime64("1970-01-01T12:00")) == 0.5
