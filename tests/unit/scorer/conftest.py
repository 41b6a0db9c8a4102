"""Factories for scorer tests: customers described in plain words, turned into aggregates."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pytest

from services.scorer.domain.aggregates import CustomerAggregates, epoch_days

AS_OF = epoch_days(date(2024, 6, 30))


def customer_row(
    *,
    orders: int = 1,
    gross: float = 100.0,
    first_gross: float | None = None,
    first_days_ago: float = 100.0,
    last_days_ago: float | None = None,
    refunded: float = 0.0,
    refunded_orders: int = 0,
    discounted_orders: int = 0,
    depth: float = 0.0,
    tickets: int = 0,
    abandoned_days_ago: float | None = None,
    country: str = "US",
) -> dict[str, Any]:
    """One customer's aggregate row; discounted orders all share ``depth``.

    ``first_gross``: the first order's value (default: an average order).
    """
    if last_days_ago is None:
        last_days_ago = first_days_ago if orders <= 1 else 0.0
    has = orders > 0
    return {
        "n_orders": orders,
        "order_days": orders,
        "first_order_at": AS_OF - first_days_ago if has else np.nan,
        "last_order_at": AS_OF - last_days_ago if has else np.nan,
        "gross_total": gross if has else 0.0,
        "first_order_total": (gross / orders if first_gross is None else first_gross) if has else np.nan,
        "refunded_total": refunded,
        "refunded_orders": refunded_orders,
        "discount_total": gross * depth / (1 - depth) * discounted_orders / max(orders, 1),
        "discounted_orders": discounted_orders,
        "discount_depth_sum": depth * discounted_orders,
        "discount_depth_min": (depth if discounted_orders == orders else 0.0) if has else np.nan,
        "tickets": tickets,
        "last_abandoned_checkout_at": (np.nan if abandoned_days_ago is None else AS_OF - abandoned_days_ago),
        "country": country,
    }


def build(rows: Sequence[Mapping[str, Any]]) -> CustomerAggregates:
    """Aggregates from ``customer_row`` dicts, keys c0, c1, ..."""
    columns: dict[str, Any] = {"customer_key": [f"c{i}" for i in range(len(rows))]}
    for name in customer_row():
        columns[name] = [row[name] for row in rows]
    return CustomerAggregates.from_columns(columns)


@pytest.fixture
def customers() -> Callable[..., CustomerAggregates]:
    """``customers(dict(orders=3, gross=600), ...)`` -> aggregates, one row per mapping."""

    def make(*specs: Mapping[str, Any]) -> CustomerAggregates:
        return build([customer_row(**spec) for spec in specs])

    return make
