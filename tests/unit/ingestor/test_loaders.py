"""The compiled fast path loads exactly what marshmallow loads, and never accepts what it refuses."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError

from services.ingestor.demo_data import generate
from services.ingestor.domain import CHECKOUT, CUSTOMER, GENERIC_ROW, ORDER, REFUND, decode_json
from services.ingestor.domain.loaders import NeedsFullLoad, compiled

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify"
SCHEMAS = {"orders": ORDER, "customers_create": CUSTOMER, "refunds": REFUND}


def _same(schema: Schema, data: Any) -> None:
    """Fast path result equals marshmallow's; if the fast path declines, marshmallow decides."""
    fast = compiled(schema)
    assert fast is not None
    try:
        got = fast(data)
    except (NeedsFullLoad, ValidationError):
        return
    assert got == schema.load(data)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_shopify_samples_load_the_same(path: Path) -> None:
    schema = next((s for prefix, s in SCHEMAS.items() if path.name.startswith(prefix)), None)
    if schema is None:
        pytest.skip("not a single webhook body")
    data = decode_json(path.read_bytes())
    fast = compiled(schema)
    assert fast is not None and fast(data) == schema.load(data)


def test_demo_orders_and_rows_load_the_same() -> None:
    customers = list(generate(60, 5, date(2026, 1, 1)))
    orders = [decode_json(o) for c in customers for o in c.orders]
    rows = [r for c in customers for r in c.rows]
    assert orders and rows
    for order in orders:
        assert compiled(ORDER)(order) == ORDER.load(order)  # type: ignore[misc]
    for row in rows:
        assert compiled(GENERIC_ROW)(row) == GENERIC_ROW.load(row)  # type: ignore[misc]


ORDER_KEYS = sorted(ORDER.load_fields)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.text(max_size=12),
    st.sampled_from(["", " 12.50 ", "2026-01-01T00:00:00Z", "USD", "gid://shopify/Customer/7", "1e999"]),
    st.lists(st.none() | st.integers() | st.fixed_dictionaries({"price": st.text(max_size=4)}), max_size=3),
    st.dictionaries(
        st.sampled_from(["id", "email", "country_code", "price", "quantity"]), st.text(max_size=5)
    ),
)
BASE_ORDER = json.loads((FIXTURES / "orders_create.real_store_rudderstack.json").read_bytes())


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(ORDER_KEYS), VALUES, max_size=4),
    st.sampled_from(["line_items", "customer"]),
)
def test_a_mutated_order_is_never_loaded_differently(changes: dict[str, Any], nested: str) -> None:
    order = copy.deepcopy(BASE_ORDER)
    order.update(changes)
    _same(ORDER, order)
    if isinstance(order.get(nested), list) and order[nested] and isinstance(order[nested][0], dict):
        order[nested][0] = {**order[nested][0], **changes}
    elif isinstance(order.get(nested), dict):
        order[nested] = {**order[nested], **changes}
    _same(ORDER, order)


@pytest.mark.parametrize("schema", [CHECKOUT, CUSTOMER, REFUND, GENERIC_ROW])
def test_every_schema_compiles(schema: Schema) -> None:
    assert compiled(schema) is not None
