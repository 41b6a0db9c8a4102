"""The e2e bench's bookkeeping: nearest-rank percentiles and the repeat orders it posts."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bench.e2e import percentile, reorder


def test_percentile_is_nearest_rank_of_measured_values() -> None:
    latencies = [float(s) for s in range(1, 21)]  # 1..20 s, shuffled below
    shuffled = latencies[::2] + latencies[1::2]
    assert percentile(shuffled, 0.5) == 10.0
    assert percentile(shuffled, 0.95) == 19.0
    assert percentile(shuffled, 1.0) == 20.0
    assert percentile([7.0], 0.95) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_reorder_is_a_new_order_now_with_every_total_and_quantity_scaled() -> None:
    order = {
        "id": 1,
        "name": "#1001",
        "created_at": "2025-01-01T10:00:00+01:00",
        "total_price": "12.50",
        "total_price_set": {"shop_money": {"amount": "12.50", "currency_code": "USD"}},
        "total_discounts": "0.00",
        "refunds": [{"id": 5}],
        "line_items": [{"id": 9, "quantity": 2, "current_quantity": 2, "price": "6.25"}],
    }
    when = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
    copy = reorder(order, 42, when, factor=3)
    assert (copy["id"], copy["created_at"], copy["refunds"]) == (42, "2026-12-05T04:00:00+00:00", [])
    assert copy["total_price"] == copy["total_price_set"]["shop_money"]["amount"] == "37.50"
    assert copy["line_items"][0]["quantity"] == 6
    assert copy["line_items"][0]["price"] == "6.25"
    assert order["total_price"] == "12.50"  # the original is left as it was
