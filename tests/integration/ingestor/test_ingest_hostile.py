"""Records that are well formed but wrong in value, through the real CLI and the real webhook edge:
money the store cannot hold, another shop's privacy request, a buyer's currency, counts and contact
fields spelled as other programs write them. Each is stored right or refused alone with its reason."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import select

from shared.bus.topics import ORDERS_RAW
from shared.identity.normalize import normalize
from shared.identity.result import Normalized, Platform
from shared.store.db import Store
from shared.store.models import Customer, CustomerIdentifier, FxRate, Order, Refund
from tests.integration.bus.harness import wait_for
from tests.integration.ingestor.harness import pipeline, sample
from tests.integration.ingestor.test_import_cli import import_cli
from tests.integration.ingestor.test_import_hostile import _cli, _letters, _order_ids

pytestmark = pytest.mark.integration

PROD, DEV = "prod.myshopify.com", "dev.myshopify.com"


def _customers(store: Store) -> int:
    with store.session() as s:
        return len(s.scalars(select(Customer)).all())


def test_a_privacy_webhook_of_another_shop_erases_nothing_of_this_shop(store: Store, tmp_path: Path) -> None:
    """The signed body names the shop; the unsigned header and the SHOP setting cannot widen it."""
    order = sample("orders_create.shopify_docs_2026-07.json")
    email = order["customer"]["email"]
    redact = {"shop_id": 2, "shop_domain": DEV, "customer": {"id": 1, "email": email}, "orders_to_redact": []}
    with pipeline(store, tmp_path, default_shop=PROD) as p:
        assert p.post("orders/create", order, shop=PROD) == 200
        wait_for(lambda: p.handled() == 1)
        # A development store on the same app uninstalled 48 h ago; then a dev body sent as prod's.
        assert p.post("shop/redact", {"shop_id": 2, "shop_domain": DEV}, shop=DEV) == 200
        assert p.post("customers/redact", redact, shop=PROD) == 200
        assert p.post("shop/redact", {"shop_id": 2, "shop_domain": DEV}, shop=PROD) == 200
        wait_for(lambda: p.handled() == 4)
        assert _customers(store) == 1 and _order_ids(store) == {str(order["id"])}
        assert p.post("shop/redact", {"shop_id": 1, "shop_domain": PROD}, shop=PROD) == 200
        wait_for(lambda: p.handled() == 5)
    assert _customers(store) == 0 and _order_ids(store) == set()


def _euro_order() -> dict[str, object]:
    """A USD shop's order paid in EUR (Shopify Markets): totals in USD, refunds in EUR."""
    return {
        "id": 7001,
        "email": "marie.curie@example.com",
        "created_at": "2025-06-01T10:00:00+02:00",
        "updated_at": "2025-06-03T10:00:00+02:00",
        "currency": "USD",
        "presentment_currency": "EUR",
        "total_price": "110.00",
        "total_price_set": {
            "shop_money": {"amount": "110.00", "currency_code": "USD"},
            "presentment_money": {"amount": "100.00", "currency_code": "EUR"},
        },
        "line_items": [{"id": 1, "price": "110.00", "quantity": 1}],
        "financial_status": "partially_refunded",
        "refunds": [  # a shipping-only refund: no lines, the order's rate applies
            {
                "id": 8001,
                "created_at": "2025-06-03T10:00:00+02:00",
                "refund_line_items": [],
                "transactions": [
                    {"id": 1, "kind": "refund", "status": "success", "amount": "50.00", "currency": "EUR"}
                ],
            }
        ],
    }


def test_a_multi_currency_orders_refunds_count_at_the_orders_own_rate_without_loaded_rates(
    store: Store, tmp_path: Path
) -> None:
    refund = {
        "id": 8002,
        "order_id": 7001,
        "created_at": "2025-06-04T10:00:00+02:00",
        "refund_line_items": [
            {
                "line_item_id": 1,
                "quantity": 1,
                "subtotal": "20.00",
                "subtotal_set": {
                    "shop_money": {"amount": "22.00", "currency_code": "USD"},
                    "presentment_money": {"amount": "20.00", "currency_code": "EUR"},
                },
            }
        ],
        "transactions": [
            {"id": 2, "kind": "refund", "status": "success", "amount": "20.00", "currency": "EUR"}
        ],
    }
    with pipeline(store, tmp_path) as p:  # base USD, no rates loaded: EUR has none
        assert p.post("orders/updated", _euro_order()) == 200
        wait_for(lambda: p.handled() == 1)
        assert p.post("refunds/create", refund) == 200
        wait_for(lambda: p.handled() == 2)
    assert _letters(store) == []
    with store.session() as s:
        order = s.scalars(select(Order)).one()
        refunds = {r.refund_id: r.amount_base for r in s.scalars(select(Refund))}
    assert refunds == {"8001": Decimal("55.00"), "8002": Decimal("22.00")}
    assert order.refunded_base == Decimal("77.00") and order.net_base == Decimal("33.00")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_phones_and_zips_written_as_json_numbers_are_read_as_their_digits(
    store: Store, tmp_path: Path
) -> None:
    row = {
        "order_id": 5001,
        "customer_id": 77,
        "created_at": "2025-01-01",
        "currency": "USD",
        "gross": 10,
        "email": "a.numbers@example.com",
        "postal_code": 75001,
        "phone": 33612345678,
        "country": "FR",
    }
    order = sample("orders_create.shopify_docs_2026-07.json")
    order["shipping_address"]["zip"] = 40202
    order["customer"]["phone"] = 16135550123
    path = tmp_path / "orders.jsonl"
    path.write_text(f"{json.dumps(row)}\n{json.dumps(order)}\n", encoding="utf-8")
    done = import_cli(store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com")
    assert "2 records: 2 stored, 0 refused" in done.stdout, (done.stdout, done.stderr)
    with store.session() as s:
        key = s.scalars(select(Order.customer_key).where(Order.order_id == "5001")).one()
        held = {
            (i.field, i.value)
            for i in s.scalars(select(CustomerIdentifier).where(CustomerIdentifier.customer_key == key))
        }
    for field, value in (("PHONE", "+33612345678"), ("ZIP", "75001")):
        expected = normalize(Platform.META, field, value, country="FR")
        assert isinstance(expected, Normalized) and (field, expected.wire_value) in held


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_refund_webhook_travels_on_its_orders_partition_and_is_applied(
    store: Store, tmp_path: Path
) -> None:
    order = sample("orders_create.shopify_docs_2026-07.json")
    refund = sample("refunds_create.shopify_docs_2026-07.json")
    with pipeline(store, tmp_path) as p:
        assert p.post("orders/create", order) == 200
        assert p.post("refunds/create", refund) == 200
        wait_for(lambda: p.handled() == 2)
        consumer = KafkaConsumer(bootstrap_servers=p.broker.bootstrap, consumer_timeout_ms=1000)
        parts = [TopicPartition(ORDERS_RAW, n) for n in consumer.partitions_for_topic(ORDERS_RAW) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        keys = [(record.partition, record.key) for record in consumer]
        consumer.close()
    assert _letters(store) == []
    assert len(keys) == 2 and keys[0] == keys[1], keys  # the order's key: shop/order id
    assert keys[0][1] == f"demo.myshopify.com/{order['id']}".encode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_refund_listed_twice_in_an_order_counts_once(store: Store, tmp_path: Path) -> None:
    order = {**_euro_order(), "currency": "EUR", "total_price_set": None}
    order["refunds"] = [order["refunds"][0], order["refunds"][0]]  # type: ignore[index]
    path = tmp_path / "orders.jsonl"
    path.write_text(json.dumps(order) + "\n", encoding="utf-8")
    done = import_cli(
        store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com", BASE_CURRENCY="EUR"
    )
    assert "1 record: 1 stored, 0 refused" in done.stdout, (done.stdout, done.stderr)
    with store.session() as s:
        stored = s.scalars(select(Order)).one()
        refunds = s.scalars(select(Refund)).all()
    assert [r.amount_base for r in refunds] == [Decimal("50.00")]
    assert stored.refunded_base == Decimal("50.00") and stored.net_base == Decimal("60.00")


@pytest.mark.parametrize("rate", ["1E+400", "1E-25", "10000000000"])
def test_a_rate_the_rates_table_cannot_hold_is_refused_in_one_line(
    store: Store, tmp_path: Path, rate: str
) -> None:
    path = tmp_path / "rates.yaml"
    path.write_text(f"base: USD\nrates:\n  EUR: {rate}\n  GBP: '1.27'\n")
    done = _cli(["rates", "load", str(path)], tmp_path, store.url)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.splitlines() == [
        f"audiencesync: {path}: rates.EUR: rate must be from 0.0000000001 to under 10,000,000,000"
    ]
    with store.session() as s:
        assert s.scalars(select(FxRate)).all() == []  # nothing replaced


def test_an_amount_the_money_columns_cannot_hold_is_refused_alone_without_a_traceback(
    store: Store, tmp_path: Path
) -> None:
    rates = tmp_path / "rates.yaml"
    rates.write_text("base: USD\nrates:\n  EUR: '9999'\n")
    generic = tmp_path / "orders.csv"
    generic.write_text(  # 99,999,999,999 EUR is under the input cap, ~10^15 USD once converted
        "order_id,customer_id,created_at,currency,gross,email\n"
        "BIG-1,C-1,2025-01-01,EUR,99999999999,big@example.com\n"
        "OK-1,C-2,2025-01-01,USD,10,ok@example.com\n"
    )
    order = sample("orders_create.shopify_docs_2026-07.json")
    order["total_line_items_price"] = None  # gross from the lines: 10^6 units at 10^11
    order["line_items"][0].update(quantity=1_000_000, price="99999999999")
    shopify = tmp_path / "orders.jsonl"
    shopify.write_text(json.dumps(order) + "\n")
    first = import_cli(
        store, tmp_path, "orders", str(generic), "--shop", "demo.myshopify.com", "--rates", str(rates)
    )
    second = import_cli(store, tmp_path, "orders", str(shopify), "--shop", "demo.myshopify.com")
    for done in (first, second):
        assert "Traceback" not in done.stderr and "handler_error" not in done.stdout, (
            done.stdout,
            done.stderr,
        )
    assert "2 records: 1 stored, 1 refused" in first.stdout, first.stdout
    assert "1 record: 0 stored, 1 refused" in second.stdout, second.stdout
    assert sorted(_letters(store)) == [
        ("amount_too_large (after conversion)", "currency"),
        ("amount_too_large (over what the store holds)", "line_items.0.quantity"),
    ]
    assert _order_ids(store) == {"OK-1"}


def test_text_longer_than_its_column_is_refused_as_too_long_not_as_a_database_error(
    store: Store, tmp_path: Path
) -> None:
    order = sample("orders_create.shopify_docs_2026-07.json")
    order["financial_status"] = "partially_refunded_pending_review"  # 33 characters
    checkout = {"token": "t" * 65, "email": "c@example.com", "currency": "USD", "created_at": "2025-01-01"}
    orders, checkouts = tmp_path / "orders.jsonl", tmp_path / "checkouts.jsonl"
    orders.write_text(json.dumps(order) + "\n")
    checkouts.write_text(json.dumps(checkout) + "\n")
    for kind, path in (("orders", orders), ("checkouts", checkouts)):
        done = import_cli(store, tmp_path, kind, str(path), "--shop", "demo.myshopify.com")
        assert "Traceback" not in done.stderr and "handler_error" not in done.stdout, (
            done.stdout,
            done.stderr,
        )
        assert "1 record: 0 stored, 1 refused" in done.stdout, done.stdout
    assert sorted(_letters(store)) == [
        ("too_long (over 32 characters)", "financial_status"),
        ("too_long (over 64 characters)", "token"),
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_counts_written_as_float_columns_write_them_are_whole_numbers(store: Store, tmp_path: Path) -> None:
    order = sample("orders_create.shopify_docs_2026-07.json")
    order["total_line_items_price"] = None
    order["line_items"] = [{"id": 1, "price": "12.50", "quantity": "2.0"}]
    orders = tmp_path / "orders.jsonl"
    orders.write_text(json.dumps(order) + "\n")
    refunds = tmp_path / "refunds.csv"  # as pandas writes a column with an empty cell: 1.0
    refunds.write_text(
        f"refund_id,order_id,created_at,amount,items\nR-1,{order['id']},2025-09-20,12.50,1.0\nR-2,{order['id']},2025-09-21,1,\n"
    )
    first = import_cli(store, tmp_path, "orders", str(orders), "--shop", "demo.myshopify.com")
    second = import_cli(store, tmp_path, "refunds", str(refunds), "--shop", "demo.myshopify.com")
    assert "1 record: 1 stored, 0 refused" in first.stdout, first.stdout
    assert "2 records: 2 stored, 0 refused" in second.stdout, second.stdout
    with store.session() as s:
        stored = s.scalars(select(Order)).one()
        items = {r.refund_id: r.items for r in s.scalars(select(Refund))}
    assert stored.gross == Decimal("25.00")  # 2 x 12.50 from the line
    assert items == {"R-1": 1, "R-2": 0}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_refunds_written_as_negative_amounts_are_refused_with_the_fix(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "refunds.csv"  # as many platforms export refunds: money out, a minus sign
    path.write_text(
        "refund_id,order_id,created_at,amount\nR-1,1001,2025-09-20,-5.00\nR-2,1002,2025-09-21,-7.50\n"
    )
    done = import_cli(store, tmp_path, "refunds", str(path), "--shop", "demo.myshopify.com")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.splitlines() == [
        "audiencesync: import refused: 2 of 2 records refused as negative_amount at amount; amounts are"
        " written without a minus sign: a refund or discount is money returned or taken off,"
        " a positive amount"
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_guest_orders_known_only_by_a_phone_are_refused_with_a_fix_that_says_so(
    store: Store, tmp_path: Path
) -> None:
    order = sample("orders_create.shopify_docs_2026-07.json")
    guest = {
        **order,
        "customer": None,
        "email": None,
        "contact_email": None,
        "phone": "+16135550123",
        "billing_address": None,
        "shipping_address": None,
    }
    path = tmp_path / "orders.jsonl"
    path.write_text(json.dumps(guest) + "\n")
    done = import_cli(store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.splitlines() == [
        "audiencesync: import refused: 1 of 1 records refused as no_customer_identifier; each record"
        " needs a customer id or a usable email (a phone alone is not enough)"
    ]
