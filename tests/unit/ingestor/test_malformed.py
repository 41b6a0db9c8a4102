"""Malformed payloads: each is refused with a precise reason and field path, never a raw value."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from services.ingestor.domain import (
    MAX_LINE_ITEMS,
    ROOT,
    InvalidPayload,
    Rates,
    Reason,
    decode_json,
    ingest_order,
    ingest_refund,
)

from .payloads import minimal_order, sample, sample_bytes

DOCS_ORDER = "orders_create.shopify_docs_2026-07.json"


def _body(order: dict[str, Any]) -> bytes:
    return json.dumps(order).encode()


def _with_line(**changes: Any) -> dict[str, Any]:
    order = sample(DOCS_ORDER)
    order["line_items"][3].update(changes)
    return order


def _refused(body: bytes | str | dict[str, Any], rates: Rates) -> InvalidPayload:
    with pytest.raises(InvalidPayload) as caught:
        ingest_order(body, shop="s", rates=rates)
    return caught.value


BODIES: list[tuple[str, bytes, str, Reason]] = [
    ("not json", b"hello, this is not json", ROOT, Reason.NOT_JSON),
    ("html error page", b"<html><body>502 Bad Gateway</body></html>", ROOT, Reason.NOT_JSON),
    ("truncated mid-object", sample_bytes(DOCS_ORDER)[:4000], ROOT, Reason.TRUNCATED_JSON),
    ("truncated mid-string", b'{"id": 1, "email": "ana@exa', ROOT, Reason.TRUNCATED_JSON),
    ("empty body", b"", ROOT, Reason.EMPTY_BODY),
    ("whitespace body", b" \n\t ", ROOT, Reason.EMPTY_BODY),
    ("invalid utf-8", b'{"id": 1, "email": "\xff\xfe"}', ROOT, Reason.NOT_UTF8),
    ("latin-1 bytes", '{"id": 1, "city": "Köln"}'.encode("latin-1"), ROOT, Reason.NOT_UTF8),
    (
        "duplicate top-level key",
        b'{"id": 1, "email": "a@example.com", "email": "b@example.com"}',
        "email",
        Reason.DUPLICATE_KEY,
    ),
    (
        "duplicate nested key",
        b'{"id": 1, "customer": {"id": 2, "email": "a@x.io", "email": "b@x.io"}}',
        "customer.email",
        Reason.DUPLICATE_KEY,
    ),
    (
        "duplicate key in a list item",
        b'{"line_items": [{"price": "1"}, {"price": "1", "price": "2"}]}',
        "line_items.1.price",
        Reason.DUPLICATE_KEY,
    ),
    ("NaN", b'{"id": 1, "total_price": NaN}', ROOT, Reason.NOT_JSON),
    ("top-level array", b"[1, 2, 3]", ROOT, Reason.NOT_AN_OBJECT),
    ("top-level string", b'"an order"', ROOT, Reason.NOT_AN_OBJECT),
    ("nested past the recursion limit", b"[" * 100_000 + b"]" * 100_000, ROOT, Reason.TOO_DEEP),
    ("integer literal of 5,000 digits", b'{"id": ' + b"9" * 5000 + b"}", ROOT, Reason.TOO_LARGE),
]


@pytest.mark.parametrize(("case", "body", "path", "reason"), BODIES, ids=[b[0] for b in BODIES])
def test_undecodable_bodies(case: str, body: bytes, path: str, reason: Reason, rates: Rates) -> None:
    error = _refused(body, rates)
    assert (error.field_path, error.problems[0].reason) == (path, reason)
    assert error.reason == reason.value


def test_a_body_over_the_size_cap_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidPayload) as caught:
        decode_json(b" " * 101, max_bytes=100)
    assert caught.value.reason == "too_large"


ORDERS: list[tuple[str, dict[str, Any], str, Reason]] = [
    (
        "no email, phone or customer id",
        minimal_order(email=None, customer=None),
        ROOT,
        Reason.NO_CUSTOMER_IDENTIFIER,
    ),
    (
        "only a placeholder email",
        minimal_order(email="noemail@shop.com", customer=None),
        "email",
        Reason.PLACEHOLDER_EMAIL,
    ),
    ("unknown currency code", minimal_order(currency="ZZZ"), "currency", Reason.UNKNOWN_CURRENCY),
    ("currency XXX (no currency)", minimal_order(currency="XXX"), "currency", Reason.UNKNOWN_CURRENCY),
    ("currency as a number", minimal_order(currency=986), "currency", Reason.NOT_A_STRING),
    ("currency missing", minimal_order(currency=None), "currency", Reason.NULL),
    (
        "presentment currency unknown",
        minimal_order(presentment_currency="EURO"),
        "presentment_currency",
        Reason.UNKNOWN_CURRENCY,
    ),
    ("negative total", minimal_order(total_price="-5.00"), "total_price", Reason.NEGATIVE_AMOUNT),
    ("negative discounts", minimal_order(total_discounts=-1), "total_discounts", Reason.NEGATIVE_AMOUNT),
    ("total not a decimal", minimal_order(total_price="12,50"), "total_price", Reason.NOT_A_DECIMAL),
    ("total a boolean", minimal_order(total_price=True), "total_price", Reason.NOT_A_DECIMAL),
    ("total absurd", minimal_order(total_price="1e300"), "total_price", Reason.AMOUNT_TOO_LARGE),
    (
        "total missing",
        {k: v for k, v in minimal_order().items() if k != "total_price"},
        "total_price",
        Reason.MISSING,
    ),
    ("id a boolean", minimal_order(id=True), "id", Reason.NOT_AN_ID),
    ("id negative", minimal_order(id=-3), "id", Reason.NOT_AN_ID),
    ("id not digits", minimal_order(id="#1001"), "id", Reason.NOT_AN_ID),
    ("id over 64 bits", minimal_order(id=2**64), "id", Reason.NOT_AN_ID),
    ("customer a list", minimal_order(customer=[1]), "customer", Reason.NOT_AN_OBJECT),
    ("line items an object", minimal_order(line_items={"0": {}}), "line_items", Reason.NOT_A_LIST),
    ("line item a string", minimal_order(line_items=["x"]), "line_items.0", Reason.NOT_AN_OBJECT),
    ("line item null", minimal_order(line_items=[None]), "line_items.0", Reason.NULL),
    (
        "quantity a word",
        minimal_order(line_items=[{"quantity": "two", "price": "1"}]),
        "line_items.0.quantity",
        Reason.NOT_AN_INTEGER,
    ),
    (
        "quantity fractional",
        minimal_order(line_items=[{"quantity": 1.5, "price": "1"}]),
        "line_items.0.quantity",
        Reason.NOT_AN_INTEGER,
    ),
    (
        "quantity negative",
        minimal_order(line_items=[{"quantity": -1, "price": "1"}]),
        "line_items.0.quantity",
        Reason.NEGATIVE_QUANTITY,
    ),
    ("line price missing", minimal_order(line_items=[{"quantity": 1}]), "line_items.0.price", Reason.MISSING),
    ("line price not a decimal", _with_line(price="abc"), "line_items.3.price", Reason.NOT_A_DECIMAL),
    ("line price negative", _with_line(price="-1.00"), "line_items.3.price", Reason.NEGATIVE_AMOUNT),
    ("created_at a number", minimal_order(created_at=1735689600), "created_at", Reason.NOT_A_DATETIME),
    ("created_at not a date", minimal_order(created_at="yesterday"), "created_at", Reason.NOT_A_DATETIME),
    (
        "created_at in year 9999",
        minimal_order(created_at="9999-12-31T23:00:00-05:00"),
        "created_at",
        Reason.DATETIME_OUT_OF_RANGE,
    ),
    ("test flag a word", minimal_order(test="perhaps"), "test", Reason.NOT_A_BOOLEAN),
    ("email not a string", minimal_order(email=["a@example.com"]), "email", Reason.NOT_A_STRING),
    (
        "lone surrogate in a name",
        minimal_order(customer={"id": 1, "first_name": "\ud800"}),
        "customer.first_name",
        Reason.NOT_UTF8,
    ),
    (
        "NUL in a city",
        minimal_order(shipping_address={"city": "Pa\x00ris"}),
        "shipping_address.city",
        Reason.INVALID,
    ),
    (
        "unknown country code",
        minimal_order(shipping_address={"country_code": "XQ"}),
        "shipping_address.country_code",
        Reason.UNKNOWN_COUNTRY,
    ),
    (
        "landing site over the cap",
        minimal_order(landing_site="/" + "a" * 9000),
        "landing_site",
        Reason.TOO_LONG,
    ),
]


@pytest.mark.parametrize(("case", "order", "path", "reason"), ORDERS, ids=[o[0] for o in ORDERS])
def test_invalid_orders(case: str, order: dict[str, Any], path: str, reason: Reason, rates: Rates) -> None:
    for body in (order, _body(order)):  # a decoded mapping and the bytes on the wire agree
        error = _refused(body, rates)
        assert (error.field_path, error.problems[0].reason) == (path, reason), str(error)


def test_the_message_reads_path_then_reason(rates: Rates) -> None:
    assert str(_refused(_with_line(price="abc"), rates)) == "line_items.3.price: not a decimal"


def test_every_problem_is_reported_not_just_the_first(rates: Rates) -> None:
    error = _refused(minimal_order(currency="ZZZ", total_price="-1", id=True), rates)
    assert {(p.path, p.reason) for p in error.problems} == {
        ("currency", Reason.UNKNOWN_CURRENCY),
        ("total_price", Reason.NEGATIVE_AMOUNT),
        ("id", Reason.NOT_AN_ID),
    }


def test_a_currency_missing_from_the_rates_table_is_a_reason(rates: Rates) -> None:
    error = _refused(minimal_order(currency="CHF"), rates)
    assert (error.field_path, error.reason) == ("currency", "no_rate")
    assert "CHF to USD" in str(error)


@pytest.mark.parametrize(
    "secret",
    ["jane.doe@example.com", "+44 20 7946 0123", "Zebulon", "Quuxington", "9 Secret Lane"],
)
def test_no_error_message_carries_a_raw_email_phone_or_name(secret: str, rates: Rates) -> None:
    bad = [
        minimal_order(email=secret, customer={"id": 1, "email": 3}),
        minimal_order(customer={"id": secret}),
        minimal_order(customer={"id": 1, "first_name": secret * 100}),
        minimal_order(phone=secret, currency=secret),
        minimal_order(shipping_address={"country_code": secret, "city": secret}),
        {secret: secret, "id": secret, "created_at": secret, "currency": secret, "total_price": secret},
    ]
    for order in bad:
        error = _refused(order, rates)
        assert secret not in str(error)
        assert all(secret not in p.detail for p in error.problems)
    dup = f'{{"id": 1, "{secret}": 1, "{secret}": 2}}'.encode()
    assert secret not in str(_refused(dup, rates))


def test_two_thousand_line_items_are_refused_over_the_cap_without_reading_them(rates: Rates) -> None:
    order = minimal_order(line_items=[{"quantity": 1, "price": "1.00"}] * 2000)
    error = _refused(order, rates)
    assert (error.field_path, error.reason) == ("line_items", "too_many_line_items")
    assert str(error) == f"line_items: too many line items (2000 over the cap of {MAX_LINE_ITEMS})"
    huge = minimal_order(line_items=[{"quantity": "garbage"}] * 1_000_000)
    started = time.perf_counter()
    _refused(huge, rates)
    assert time.perf_counter() - started < 0.5  # the cap is checked before any element


def test_an_order_at_the_cap_is_accepted(rates: Rates) -> None:
    order = minimal_order(
        line_items=[{"quantity": 1, "price": "1.00", "product_type": "Gift"}] * MAX_LINE_ITEMS
    )
    order["total_line_items_price"] = str(MAX_LINE_ITEMS)
    facts = ingest_order(order, shop="s", rates=rates).facts
    assert len(facts.lines) == MAX_LINE_ITEMS
    assert facts.categories == ("Gift",)


def test_a_refund_without_an_order_id_is_refused(rates: Rates) -> None:
    body = sample("refunds_create.shopify_docs_2026-07.json")
    del body["order_id"]
    with pytest.raises(InvalidPayload) as caught:
        ingest_refund(body, shop="s", rates=rates)
    assert (caught.value.field_path, caught.value.reason) == ("order_id", "missing")
    # A refund naming an order we never stored is found by the store, which uses this reason:
    assert Reason.REFUND_WITHOUT_ORDER.value == "refund_without_order"


def test_placeholder_email_with_a_customer_id_is_kept_without_the_email(rates: Rates) -> None:
    got = ingest_order(minimal_order(email="noemail@shop.com", customer={"id": 5}), shop="s", rates=rates)
    assert got.contact.email is None
    assert got.facts.customer_id == "5"
    assert [(w.path, w.reason) for w in got.warnings] == [("email", Reason.PLACEHOLDER_EMAIL)]


def test_a_phone_alone_identifies_an_order(rates: Rates) -> None:
    got = ingest_order(
        minimal_order(email=None, customer=None, phone="+55 11 91234-5678"), shop="s", rates=rates
    )
    assert got.contact.phone == "+55 11 91234-5678"
    assert got.facts.customer_id is None


def test_a_garbage_email_is_dropped_not_hashed(rates: Rates) -> None:
    got = ingest_order(minimal_order(email="not an email", customer={"id": 9}), shop="s", rates=rates)
    assert got.contact.email is None
    assert [(w.path, w.reason) for w in got.warnings] == [("email", Reason.BAD_EMAIL)]


def test_unknown_fields_are_ignored(rates: Rates) -> None:
    order = minimal_order(brand_new_field={"nested": [1, 2, 3]}, note_attributes="whatever")
    assert ingest_order(order, shop="s", rates=rates).facts.order_id == "1001"
