"""Webhook -> API -> Kafka -> ingestor -> database, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from shared.identity import customer_key
from shared.store.db import Store
from shared.store.models import Customer, CustomerIdentifier, Erasure, Order, OrderLine, Refund
from tests.integration.bus.harness import wait_for
from tests.integration.ingestor.harness import pipeline, sample

pytestmark = pytest.mark.integration
SHOP = "demo.myshopify.com"


def _orders(store: Store) -> dict[str, Order]:
    with store.session() as s:
        return {o.order_id: o for o in s.scalars(select(Order))}


def test_shopify_samples_are_stored_with_their_quirks_handled(store: Store, tmp_path: Path) -> None:
    names = [
        "orders_create.shopify_docs_2026-07.json",
        "orders_create.real_store_rudderstack.json",
        "orders_updated.real_store_rudderstack.json",
        "orders_paid.real_store_rudderstack.json",
        "customers_create.shopify_docs_2026-07.json",
        "refunds_create.shopify_docs_2026-07.json",
    ]
    topics = [
        "orders/create",
        "orders/create",
        "orders/updated",
        "orders/paid",
        "customers/create",
        "refunds/create",
    ]
    with pipeline(store, tmp_path) as p:
        for name, topic in zip(names, topics, strict=True):
            assert (
                p.post(
                    topic, (Path(__file__).resolve().parents[2] / "fixtures" / "shopify" / name).read_bytes()
                )
                == 200
            )
        wait_for(lambda: p.handled() == len(names))
        letters = p.dead_letters()
    orders = _orders(store)
    docs = orders["820982911946154508"]
    assert docs.is_test and docs.cancelled  # Shopify's own sample is a voided test order
    # The customer's email won over the order's; the key proves which one was used.
    assert docs.customer_key == customer_key(
        shop=SHOP, email="john@example.com", shop_customer_id=None
    ) or docs.customer_key == customer_key(shop=SHOP, email="jon@example.com", shop_customer_id=None)
    assert "5778367414385" in orders
    with store.session() as s:
        refunds = s.scalars(select(Refund)).all()
        identifiers = s.scalars(select(CustomerIdentifier)).all()
    assert [r.order_id for r in refunds] == ["820982911946154508"]
    assert letters == [], [(d.reason, d.field_path) for d in letters]
    assert identifiers and all(len(i.value) == 64 or len(i.value) <= 10 for i in identifiers)
    # No raw contact data anywhere: the sample phone "555-555-SHIP" and the emails are gone.
    dump = _dump(store)
    for raw in ("jon@example.com", "john@example.com", "henry@wfls.com", "555-555", "Bob", "Norman"):
        assert raw not in dump, raw


def _dump(store: Store) -> str:
    from shared.store.models import Base

    with store.session() as s:
        return json.dumps(
            [
                [list(map(str, row)) for row in s.execute(text(f"SELECT * FROM {t}"))]  # noqa: S608
                for t in Base.metadata.tables
            ],
            default=str,
        )


def _order(order_id: int, updated_at: str, total: str, email: str = "ana@example.de") -> dict[str, object]:
    body = copy.deepcopy(sample("orders_create.real_store_rudderstack.json"))
    body.update(
        {
            "id": order_id,
            "updated_at": updated_at,
            "total_line_items_price": total,
            "subtotal_price": total,
            "total_price": total,
            "email": email,
            "contact_email": email,
        }
    )
    body["customer"] = {**body["customer"], "email": email, "id": 777}
    for line in body["line_items"]:
        line["price"] = total
        line["quantity"] = 1
        line["discount_allocations"] = []
    body["line_items"] = body["line_items"][:1]
    return body


def test_redelivery_and_out_of_order_updates_leave_the_same_state(store: Store, tmp_path: Path) -> None:
    v1 = _order(42, "2026-01-01T10:00:00Z", "100.00")
    v2 = _order(42, "2026-01-02T10:00:00Z", "150.00")
    with pipeline(store, tmp_path) as p:
        assert p.post("orders/updated", v2) == 200
        assert p.post("orders/create", v1) == 200  # older version arrives late
        assert p.post("orders/updated", v2, webhook_id="same") == 200
        assert p.post("orders/updated", v2) == 200  # same content, new delivery id
        wait_for(lambda: p.handled() == 4)
        changed = [c for c in p.changed() if c["cause"] == "order"]
    order = _orders(store)["42"]
    assert order.gross_base == Decimal("150.0000")
    assert order.updated_at.isoformat().startswith("2026-01-02T10:00:00")
    with store.session() as s:
        assert len(s.scalars(select(OrderLine).where(OrderLine.order_pk == order.id)).all()) == 1
    assert len(changed) == 1  # only the first write changed anything


MALFORMED = [
    ("not json", b"hello", "not_json"),
    ("truncated", b'{"id": 101, "email": "a@b.co", "line_items": [', "truncated_json"),
    ("empty body", b"", "empty_body"),
    ("invalid utf-8", b'{"id": 102, "email": "\xff\xfe@x.com"}', "not_utf8"),
    ("duplicate keys", b'{"id": 103, "id": 2, "email": "a@b.co"}', "duplicate_key"),
]


def _tweak(order_id: int, **changes: object) -> dict[str, object]:
    body = _order(order_id, "2026-01-01T00:00:00Z", "80.00")
    body.update(changes)
    return body


INVALID_ORDERS = [
    (
        "missing email and phone",
        _tweak(201, email=None, contact_email=None, phone=None, customer=None),
        "no_customer_identifier",
    ),
    ("bad currency", _tweak(202, currency="DOLLARS"), "unknown_currency"),
    ("negative total", _tweak(203, total_price="-5.00", total_line_items_price="-5.00"), "negative_amount"),
    ("wrong type", _tweak(204, line_items="three"), "not_a_list"),
    (
        "2,000 line items",
        _tweak(205, line_items=[{"price": "1.00", "quantity": 1}] * 2001),
        "too_many_line_items",
    ),
]


def test_malformed_inputs_are_dead_lettered_with_precise_reasons_and_the_consumer_keeps_going(
    store: Store, tmp_path: Path
) -> None:
    expected: dict[str, str] = {}
    with pipeline(store, tmp_path) as p:
        for case, body, reason in MALFORMED:
            webhook_id = case.replace(" ", "-")
            assert p.post("orders/create", body, webhook_id=webhook_id) == 200
            id_part = body[7:10].decode() if body.startswith(b'{"id": ') else webhook_id
            expected[f"{SHOP}/{id_part}"] = reason
        for _case, order, reason in INVALID_ORDERS:
            assert p.post("orders/create", order) == 200
            expected[f"{SHOP}/{order['id']}"] = reason
        assert p.post("orders/create", _order(7, "2026-01-01T00:00:00Z", "10.00")) == 200
        wait_for(lambda: p.handled() == len(expected) + 1)
        letters = p.dead_letters()
    got = {d.key: d.reason.split(" ")[0] for d in letters}
    assert got == expected
    assert all(d.topic == "orders.raw" and d.offset >= 0 for d in letters)
    assert list(_orders(store)) == ["7"]  # the valid order after the bad ones was stored
    with store.session() as s:
        # nothing empty or garbage was ever hashed: only the valid order's customer has identifiers
        keys = set(s.scalars(select(CustomerIdentifier.customer_key)))
    assert keys == {_orders(store)["7"].customer_key}


def test_refund_without_an_order_is_dead_lettered(store: Store, tmp_path: Path) -> None:
    refund = sample("refunds_create.shopify_docs_2026-07.json")
    with pipeline(store, tmp_path) as p:
        assert p.post("refunds/create", refund) == 200
        wait_for(lambda: p.handled() == 1)
        letters = p.dead_letters()
    assert [(d.reason, d.field_path) for d in letters] == [("refund_without_order", "order_id")]


def test_a_redacted_order_takes_its_refunds_and_a_later_version_starts_without_them(
    store: Store, tmp_path: Path
) -> None:
    """``orders_to_redact`` may name an order of another key (a guest checkout): its refunds go
    with it, and a version of it arriving later is not charged the deleted refunds."""
    order = sample("orders_create.shopify_docs_2026-07.json")
    refund = sample("refunds_create.shopify_docs_2026-07.json")
    redact = {
        "shop_id": 1,
        "shop_domain": SHOP,
        "customer": {"id": 999, "email": "someone.else@example.com", "phone": None},
        "orders_to_redact": [order["id"]],
    }
    with pipeline(store, tmp_path) as p:
        assert p.post("orders/create", order) == 200
        assert p.post("refunds/create", refund) == 200
        wait_for(lambda: p.handled() == 2)
        with store.session() as s:
            refunded = s.scalar(select(Order.refunded_base))
        assert refunded is not None and refunded > 0  # the refund counted
        assert p.post("customers/redact", redact) == 200
        wait_for(lambda: p.handled() == 3)
        with store.session() as s:
            assert s.scalars(select(Order)).all() == [] and s.scalars(select(Refund)).all() == []
        assert p.post("orders/updated", {**order, "updated_at": "2022-01-05T00:00:00-05:00"}) == 200
        wait_for(lambda: p.handled() == 4)
    with store.session() as s:
        assert s.scalar(select(Order.refunded_base)) == 0


def test_customer_redact_erases_facts_and_late_events_do_not_resurrect(store: Store, tmp_path: Path) -> None:
    order = _order(51, "2026-02-01T00:00:00Z", "60.00", email="erase.me@example.com")
    redact = {
        "shop_id": 1,
        "shop_domain": SHOP,
        "customer": {"id": 777, "email": "erase.me@example.com", "phone": None},
        "orders_to_redact": [51],
    }
    with pipeline(store, tmp_path) as p:
        assert p.post("orders/create", order) == 200
        wait_for(lambda: p.handled() == 1)
        assert p.post("customers/redact", redact) == 200
        wait_for(lambda: p.handled() == 2)
        assert (
            p.post(
                "orders/updated", _order(51, "2026-02-02T00:00:00Z", "60.00", email="erase.me@example.com")
            )
            == 200
        )
        wait_for(lambda: p.handled() == 3)
        changed = p.changed()
    key = customer_key(shop=SHOP, email="erase.me@example.com", shop_customer_id=None)
    with store.session() as s:
        assert s.get(Customer, key) is None
        assert s.get(Erasure, key) is not None
        assert s.scalars(select(Order)).all() == []
        assert s.scalars(select(CustomerIdentifier)).all() == []
    assert any(c["customer_key"] == key and c["erased"] for c in changed)
