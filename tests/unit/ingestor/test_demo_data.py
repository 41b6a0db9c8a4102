"""The demo generator: deterministic, valid through our own schemas, realistic, segments planted."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest

from services.cli import demo_data as cli
from services.ingestor import demo_data
from services.ingestor.demo_data import SEGMENTS, DemoCustomer, generate, write_demo
from services.ingestor.domain import (
    ingest_checkout,
    ingest_generic_row,
    ingest_order,
    ingest_ticket,
    load_rates,
    parse_rates_yaml,
)
from shared.config import Settings

AS_OF = date(2026, 1, 1)
CURRENCY = {
    "US": "USD",
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "JP": "JPY",
    "AU": "AUD",
    "CA": "CAD",
    "NL": "EUR",
    "BR": "BRL",
    "IN": "INR",
}
RATES = parse_rates_yaml(demo_data.rates_yaml())


@pytest.fixture(scope="module")
def customers() -> list[DemoCustomer]:
    return list(generate(400, seed=11, as_of=AS_OF))


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.parent.iterdir())}


def test_same_seed_same_bytes_and_workers_do_not_matter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_data, "CHUNK", 40)  # several chunks, so two workers really share the work
    for name in "abc":
        (tmp_path / name).mkdir()
    one = write_demo(tmp_path / "a" / "o.jsonl", customers=150, seed=5, as_of=AS_OF, workers=1)
    two = write_demo(tmp_path / "b" / "o.jsonl", customers=150, seed=5, as_of=AS_OF, workers=2)
    other = write_demo(tmp_path / "c" / "o.jsonl", customers=150, seed=6, as_of=AS_OF, workers=1)
    assert _files(tmp_path / "a" / "o.jsonl") == _files(tmp_path / "b" / "o.jsonl")
    assert _files(tmp_path / "a" / "o.jsonl") != _files(tmp_path / "c" / "o.jsonl")
    assert (
        (one.customers, one.orders) == (two.customers, two.orders) == (156, one.orders)
    )  # 150 + 4 % prospects
    assert other.orders > 0


def test_fewer_customers_are_a_prefix_of_more(customers: list[DemoCustomer]) -> None:
    fewer = list(generate(100, seed=11, as_of=AS_OF))
    assert [c.orders for c in fewer[:100]] == [c.orders for c in customers[:100]]


def test_every_order_checkout_and_ticket_validates_through_our_schemas(customers: list[DemoCustomer]) -> None:
    seen_tests = 0
    for cust in customers:
        for body in cust.orders:
            got = ingest_order(body.encode(), shop="demo", rates=RATES)
            assert got.warnings == ()
            assert got.contact.email == cust.email
            assert got.facts.currency == CURRENCY[cust.country.code]
            seen_tests += got.facts.test
        for body in cust.checkouts:
            assert ingest_checkout(body.encode(), shop="demo", rates=RATES).contact.email == cust.email
        for body in cust.tickets:
            assert ingest_ticket(body.encode(), shop="demo").contact.email == cust.email
        for row in cust.rows:
            assert ingest_generic_row(row, shop="demo", rates=RATES).facts.customer_id == str(
                cust.customer_id
            )
    assert seen_tests == sum(c.test_orders for c in customers)


def test_ten_countries_with_valid_phones_and_unique_emails(customers: list[DemoCustomer]) -> None:
    assert {c.country.code for c in customers} == set(CURRENCY)
    phones = [(c.phone, c.country.code) for c in customers if c.phone]
    assert len(phones) > 150
    for phone, region in phones:
        number = phonenumbers.parse(phone, region)
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.region_code_for_number(number) == region, phone
    assert len({c.email for c in customers}) == len(customers)
    assert all(c.email.endswith(("@example.com", "@example.net", "@example.org")) for c in customers)


def test_orders_are_shopify_shaped(customers: list[DemoCustomer]) -> None:
    order = json.loads(next(c for c in customers if c.segment == "discount_hunter").orders[0])
    for key in (
        "id",
        "admin_graphql_api_id",
        "customer",
        "billing_address",
        "shipping_address",
        "line_items",
        "total_price_set",
        "discount_codes",
        "discount_applications",
        "financial_status",
        "refunds",
    ):
        assert key in order
    assert order["customer"]["default_address"]["default"] is True
    assert order["created_at"].endswith(
        ("+00:00", "-05:00", "+01:00", "+09:00", "+10:00", "-03:00", "+05:30")
    )


def _features(cust: DemoCustomer) -> dict[str, float]:
    facts = [
        f for f in (ingest_order(o.encode(), shop="d", rates=RATES).facts for o in cust.orders) if not f.test
    ]
    gross = sum((f.gross_base for f in facts), Decimal(0)) or Decimal(1)
    return {
        "orders": len(facts),
        "net": float(sum((f.net_base for f in facts), Decimal(0))),
        "depth": float(sum((f.discount_base for f in facts), Decimal(0)) / gross),
        "returned": float(sum((f.refunded_base for f in facts), Decimal(0)) / gross),
        "tickets": len(cust.tickets),
        "first_days_ago": (datetime(2026, 1, 1, 12, tzinfo=UTC) - min(f.created_at for f in facts)).days
        if facts
        else -1,
    }


def test_planted_segments_are_findable(customers: list[DemoCustomer]) -> None:
    by_segment: dict[str, list[dict[str, float]]] = defaultdict(list)
    for cust in customers:
        by_segment[cust.segment].append(_features(cust))
    mean = {seg: {k: sum(f[k] for f in fs) / len(fs) for k in fs[0]} for seg, fs in by_segment.items()}
    assert set(by_segment) == {*SEGMENTS, "prospect"}
    assert mean["loyal_high_value"]["net"] > 5 * max(
        m["net"] for s, m in mean.items() if s != "loyal_high_value"
    )
    assert mean["loyal_high_value"]["orders"] >= 6
    assert (
        mean["discount_hunter"]["depth"]
        > 0.25
        > 0.05
        > max(m["depth"] for s, m in mean.items() if s != "discount_hunter")
    )
    assert (
        mean["serial_returner"]["returned"]
        > 0.4
        > 0.15
        > max(m["returned"] for s, m in mean.items() if s != "serial_returner")
    )
    assert min(f["tickets"] for f in by_segment["support_heavy"]) >= 4
    assert max(f["tickets"] for s, fs in by_segment.items() if s != "support_heavy" for f in fs) <= 1
    assert all(f["orders"] == 1 and f["first_days_ago"] >= 200 for f in by_segment["one_time"])
    assert all(f["orders"] == 1 and f["first_days_ago"] <= 21 for f in by_segment["new_customer"])
    assert all(f["orders"] == 0 for f in by_segment["prospect"])


def test_prospects_and_some_customers_abandoned_a_recent_checkout(customers: list[DemoCustomer]) -> None:
    assert all(len(c.checkouts) == 1 for c in customers if c.segment == "prospect")
    buyers_with_checkout = [c for c in customers if c.segment != "prospect" and c.checkouts]
    assert 0.04 < len(buyers_with_checkout) / 400 < 0.2
    for cust in customers:
        for body in cust.checkouts:
            facts = ingest_checkout(body.encode(), shop="d", rates=RATES).facts
            assert not facts.completed
            assert facts.created_at >= datetime(2026, 1, 1, 12, tzinfo=UTC) - timedelta(days=31)


def test_write_demo_truth_and_rates_files(tmp_path: Path) -> None:
    out = tmp_path / "shop.jsonl"
    summary = write_demo(out, customers=120, seed=2, as_of=AS_OF, workers=1)
    truth = list(csv.DictReader(io.StringIO((tmp_path / "shop.jsonl.truth.csv").read_text())))
    assert len(truth) == summary.customers
    assert {r["expected_label"] for r in truth} == {"icp", "negative_icp", "neutral"}
    assert all(SEGMENTS.get(r["segment"], ("neutral",))[0] == r["expected_label"] for r in truth)
    assert len(out.read_text().splitlines()) == summary.orders
    assert len((tmp_path / "shop.jsonl.tickets.jsonl").read_text().splitlines()) == summary.tickets
    assert len((tmp_path / "shop.jsonl.checkouts.jsonl").read_text().splitlines()) == summary.checkouts
    assert load_rates(tmp_path / "shop.jsonl.rates.yaml").rate("JPY") == Decimal("0.006700")


def test_generic_format_writes_the_generic_layout_without_test_orders(tmp_path: Path) -> None:
    out = tmp_path / "shop.csv"
    summary = write_demo(out, customers=80, seed=2, as_of=AS_OF, fmt="generic", workers=1)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == summary.orders and summary.test_orders == 0
    assert Counter(ingest_generic_row(r, shop="s", rates=RATES).facts.source for r in rows) == {
        "generic": len(rows)
    }


def test_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    out = tmp_path / "demo" / "orders.jsonl"
    args = parser.parse_args(
        [
            "demo-data",
            "--customers",
            "30",
            "--seed",
            "4",
            "--out",
            str(out),
            "--as-of",
            "2026-01-01",
            "--workers",
            "1",
        ]
    )
    assert args.func(args, Settings()) == 0
    assert "orders" in capsys.readouterr().out
    assert out.exists() and (tmp_path / "demo" / "orders.jsonl.truth.csv").exists()
    with pytest.raises(SystemExit):
        parser.parse_args(["demo-data", "--customers", "0", "--out", str(out)])
