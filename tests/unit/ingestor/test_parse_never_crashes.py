"""Property: whatever arrives, parsing returns facts or raises InvalidPayload, nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingestor.domain import (
    CHECKOUT,
    CUSTOMER,
    GENERIC_ROW,
    ORDER,
    REFUND,
    InvalidPayload,
    Rates,
    ingest_checkout,
    ingest_customer,
    ingest_customer_redact,
    ingest_data_request,
    ingest_generic_row,
    ingest_order,
    ingest_refund,
    ingest_shop_redact,
    ingest_ticket,
)

from .payloads import minimal_order, sample

RATES = Rates(base="USD", rates={"EUR": Decimal("1.08"), "JPY": Decimal("0.0067"), "BRL": Decimal("0.2")})
SHOP = "s.myshopify.com"
PARSERS: dict[str, Callable[[Any], object]] = {
    "order": lambda b: ingest_order(b, shop=SHOP, rates=RATES),
    "refund": lambda b: ingest_refund(b, shop=SHOP, rates=RATES),
    "customer": lambda b: ingest_customer(b, shop=SHOP),
    "checkout": lambda b: ingest_checkout(b, shop=SHOP, rates=RATES),
    "generic": lambda b: ingest_generic_row(b, shop=SHOP, rates=RATES),
    "ticket": lambda b: ingest_ticket(b, shop=SHOP),
    "redact": ingest_customer_redact,
    "data_request": ingest_data_request,
    "shop_redact": ingest_shop_redact,
}
FIELD_NAMES = sorted(
    {name for schema in (ORDER, REFUND, CUSTOMER, CHECKOUT, GENERIC_ROW) for name in schema.fields}
    | {"ticket", "requester", "ticket_id", "customer_email", "shop_domain", "orders_to_redact"}
)
SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "USD",
            "EUR",
            "JPY",
            "xxx",
            "XXX",
            "",
            "2025-01-01T00:00:00Z",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "1e999",
            "-0",
            "NaN",
            "12.345678",
            "gid://shopify/Order/12",
            "noemail@shop.com",
            "ana@example.com",
            "555-555-SHIP",
            "+44 20 7946 0018",
            "\ud800",
            "a\x00b",
        ]
    ),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=8)),
    max_leaves=12,
)
payloads = st.dictionaries(keys, json_values, max_size=10)


def _only_invalid_payload(parse: Callable[[Any], object], body: Any) -> None:
    """Parse; an ``InvalidPayload`` (with problems and a message) is fine, anything else fails."""
    problems: tuple[object, ...] = ("not raised",)
    try:
        parse(body)
    except InvalidPayload as error:
        problems = error.problems
    assert problems


@SETTINGS
@given(kind=st.sampled_from(sorted(PARSERS)), body=payloads)
def test_any_json_object_as_a_mapping(kind: str, body: dict[str, Any]) -> None:
    _only_invalid_payload(PARSERS[kind], body)


@SETTINGS
@given(kind=st.sampled_from(sorted(PARSERS)), body=json_values)
def test_any_json_document_as_bytes(kind: str, body: Any) -> None:
    _only_invalid_payload(PARSERS[kind], json.dumps(body).encode("utf-8", "surrogatepass"))


@SETTINGS
@given(kind=st.sampled_from(sorted(PARSERS)), body=st.binary(max_size=300))
def test_any_bytes(kind: str, body: bytes) -> None:
    _only_invalid_payload(PARSERS[kind], body)


@SETTINGS
@given(body=payloads, cut=st.integers(min_value=0, max_value=400))
def test_any_truncation_of_a_json_object(body: dict[str, Any], cut: int) -> None:
    text = json.dumps(body)
    _only_invalid_payload(PARSERS["order"], text[: min(cut, len(text))])


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a decoded document (objects by key, lists by index)."""
    found = [prefix] if prefix else []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        found += _paths(child, (*prefix, key))
    return found


BASES = {
    "minimal": minimal_order(),
    "docs": sample("orders_create.shopify_docs_2026-07.json"),
    "refunds": minimal_order(refunds=[sample("refunds_create.shopify_docs_2026-07.json")]),
}
TARGETS = [(name, path) for name, doc in BASES.items() for path in _paths(doc)]


@SETTINGS
@given(target=st.sampled_from(TARGETS), value=json_values)
def test_any_one_field_of_a_valid_order_replaced(target: tuple[str, tuple[Any, ...]], value: Any) -> None:
    name, path = target
    doc = json.loads(json.dumps(BASES[name]))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _only_invalid_payload(PARSERS["order"], doc)
    _only_invalid_payload(PARSERS["order"], json.dumps(doc).encode("utf-8", "surrogatepass"))
