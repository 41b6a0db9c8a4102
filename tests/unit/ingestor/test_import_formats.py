"""The import formats' pure rules: Shopify's order export grouped back into orders, the refunds and
customers layouts, and which raw topic each record of each kind and format goes to."""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from services.ingestor.domain import InvalidPayload, Rates, ingest_order
from services.ingestor.domain.customer_rows import ingest_customer_row
from services.ingestor.domain.refund_rows import ingest_refund_row
from services.ingestor.domain.shopify_export import (
    group_orders,
    is_export,
    missing_columns,
    order_body,
    stamp,
)
from services.ingestor.importer import ImportInputError, check_file, read_records
from services.ingestor.layouts import header_names

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify"
EXPORT = FIXTURES / "orders_export.csv"
SHOP = "demo.myshopify.com"
USD = Rates.only("USD")


def _export_rows() -> list[dict[str, str]]:
    with EXPORT.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = header_names(next(reader))
        return [dict(zip(header, row, strict=True)) for row in reader]


def _orders() -> dict[str, dict[str, object]]:
    bodies = [order_body(lines) for lines in group_orders(_export_rows())]
    return {str(body["name"]): body for body in bodies}


def test_the_export_header_is_recognised_and_its_missing_columns_named_as_shopify_spells_them() -> None:
    header = header_names(EXPORT.read_text(encoding="utf-8-sig").splitlines()[0].split(","))
    assert is_export(header) and missing_columns(header) == []
    assert not is_export(["order_id", "created_at", "currency", "gross", "email"])
    lacking = [name for name in header if name not in ("id", "lineitem price")]
    assert is_export(lacking) and missing_columns(lacking) == ["Id", "Lineitem price"]
    assert is_export(["name", "email", "lineitem name"])  # trimmed: told what it lacks, not misread


def test_an_orders_lines_become_one_order_with_the_order_columns_of_its_first_line() -> None:
    orders = _orders()
    assert list(orders) == ["#1001", "#1002", "#1003", "#1004", "#1005"]
    first = orders["#1001"]
    assert first["id"] == "6101234560001" and first["currency"] == "USD" and first["total_price"] == "56.29"
    assert first["line_items"] == [
        {"quantity": "2", "price": "16.00", "total_discount": "0.00", "vendor": "Atelier Fougère"},
        {"quantity": "1", "price": "20.00", "total_discount": "0.00", "vendor": "Atelier Fougère"},
    ]
    assert first["discount_codes"] == [{"code": "FALL5", "amount": "5.00"}]
    assert first["created_at"] == "2025-09-03T10:14:38-04:00"
    assert first["billing_address"] == {
        "first_name": "Zoë",
        "last_name": "Dupré",
        "city": "Montréal",
        "province_code": "QC",
        "province": "Quebec",
        "zip": "H2Y 1Z3",  # the export's leading ' is not part of the code
        "country_code": "CA",
        "phone": "+1 514-555-0142",
    }
    assert len(orders["#1003"]["line_items"]) == 3  # type: ignore[arg-type]


def test_refunded_amount_becomes_one_refund_of_the_order_dated_when_it_was_cancelled() -> None:
    orders = _orders()
    assert orders["#1002"]["refunds"] == [
        {
            "id": "6101234560002",
            "order_id": "6101234560002",
            "created_at": "2025-09-06T09:30:00+02:00",
            "transactions": [{"kind": "refund", "status": "success", "amount": "25.00", "currency": "USD"}],
        }
    ]
    assert orders["#1003"]["refunds"][0]["created_at"] == "2025-09-07T19:44:12+02:00"  # type: ignore[index]
    assert orders["#1004"]["refunds"] == []  # 0.00 refunded is no refund


def test_an_export_order_reads_as_the_same_facts_a_webhook_order_would_give() -> None:
    facts = ingest_order(json.dumps(_orders()["#1003"]), shop=SHOP, rates=USD).facts
    assert (facts.gross, facts.discount, facts.refunded, facts.net) == (
        Decimal("90.0000"),
        Decimal("8.0000"),
        Decimal("10.0000"),
        Decimal("72.0000"),
    )
    assert facts.status == "partially_refunded" and facts.country == "ES" and facts.discount_code_count == 1
    assert [r.refund_id for r in facts.refunds] == ["6101234560003"]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2025-09-03 10:14:38 -0400", "2025-09-03T10:14:38-04:00"),
        ("2025-09-03 10:14 +0530", "2025-09-03T10:14+05:30"),
        ("2025-09-03T10:14:38+02:00", "2025-09-03T10:14:38+02:00"),
        ("2025-09-03 10:14:38 UTC", "2025-09-03T10:14:38+00:00"),
        ("2025-09-03", "2025-09-03"),
        ("yesterday", "yesterday"),  # left for the ingestor to refuse with its reason
    ],
)
def test_export_dates_are_read_as_iso_8601(text: str, iso: str) -> None:
    assert stamp(text) == iso


def test_an_order_whose_lines_are_apart_is_refused_before_anything_is_published(tmp_path: Path) -> None:
    lines = EXPORT.read_text(encoding="utf-8-sig").splitlines()
    moved = tmp_path / "sorted.csv"
    moved.write_text("\n".join([lines[0], lines[1], lines[3], lines[2], *lines[4:]]) + "\n", encoding="utf-8")
    with pytest.raises(ImportInputError, match="line 4: order #1001 continues after other orders"):
        check_file(moved, "orders")


@pytest.mark.parametrize(
    ("name", "kind", "fmt", "count", "topics"),
    [
        ("orders_export.csv", "orders", "auto", 5, {"import/shopify"}),
        ("orders_export.csv", "orders", "shopify-csv", 5, {"import/shopify"}),
        ("refunds.csv", "refunds", "auto", 3, {"import/refunds"}),
        ("customers.csv", "customers", "auto", 4, {"import/customers"}),
        ("customers.jsonl", "customers", "auto", 2, {"customers/update"}),
        ("refunds_create.shopify_docs_2026-07.json", "refunds", "auto", 1, {"refunds/create"}),
        ("refunds_create.shopify_docs_2026-07.json", "refunds", "generic", 1, {"import/refunds"}),
    ],
)
def test_each_kind_and_format_goes_to_its_raw_topic(
    name: str, kind: str, fmt: str, count: int, topics: set[str]
) -> None:
    path = FIXTURES / name
    assert check_file(path, kind, fmt) == count
    records = list(read_records(path, kind, SHOP, fmt))
    assert len(records) == count and {r.topic for r in records} == topics
    assert all(r.key.startswith(f"{SHOP}/") and "@" not in r.key for r in records)  # no email in a key


def test_a_refund_is_keyed_by_its_order_so_it_follows_the_order_on_its_partition() -> None:
    keys = [r.key for r in read_records(FIXTURES / "refunds.csv", "refunds", SHOP)]
    assert keys == [f"{SHOP}/6101234560004", f"{SHOP}/6101234560001", f"{SHOP}/9999999999999"]


@pytest.mark.parametrize(
    ("name", "kind", "fmt", "message"),
    [
        ("refunds.csv", "orders", "shopify-csv", "the header lacks Name, Id, Created at"),
        ("customers.jsonl", "orders", "shopify-csv", "--format shopify-csv reads Shopify.s order export"),
        ("refunds.csv", "refunds", "shopify", "--format shopify does not read a CSV of refunds"),
        ("orders_export.csv", "tickets", "auto", "CSV is read for orders, refunds and customers"),
        (
            "orders_export.csv",
            "refunds",
            "auto",
            "the header lacks refund_id, order_id, created_at and amount",
        ),
    ],
)
def test_a_format_that_does_not_fit_the_file_is_refused_in_one_line(
    name: str, kind: str, fmt: str, message: str
) -> None:
    with pytest.raises(ImportInputError, match=message):
        check_file(FIXTURES / name, kind, fmt)


def test_a_refunds_row_is_money_returned_on_its_order_in_its_own_or_the_orders_currency() -> None:
    row = {"refund_id": "R-1", "order_id": "A-1", "created_at": "2025-09-21", "amount": "5.50", "items": ""}
    facts = ingest_refund_row(json.dumps(row), shop=SHOP, rates=USD).facts
    assert (
        facts.refund_id,
        facts.order_id,
        facts.amount,
        facts.currency,
        facts.amount_base,
        facts.items,
    ) == (
        "R-1",
        "A-1",
        Decimal("5.5000"),
        None,  # the store converts at the order's rate
        None,
        0,
    )
    with pytest.raises(InvalidPayload) as refused:
        ingest_refund_row(json.dumps({**row, "amount": "-1"}), shop=SHOP, rates=USD)
    assert refused.value.field_path == "amount"


def test_a_customers_row_carries_its_ids_consents_and_contact_apart_from_its_facts() -> None:
    row = {
        "customer_id": "",
        "email": "anna.kowalska@example.com",
        "country": "PL",
        "accepts_email_marketing": "yes",
        "ad_user_data": "Granted",
        "ad_personalization": "unknown",
    }
    got = ingest_customer_row(json.dumps(row), shop=SHOP)
    assert got.facts.customer_id is None and got.facts.email_consent is True and got.facts.country == "PL"
    assert got.contact.email == "anna.kowalska@example.com"  # hashed by the store, never kept raw
    assert (got.facts.ad_user_data, got.facts.ad_personalization) == (True, None)
    spelled = ingest_customer_row(
        json.dumps({**row, "ad_user_data": "no", "ad_personalization": "Yes"}), shop=SHOP
    )
    assert (spelled.facts.ad_user_data, spelled.facts.ad_personalization) == (False, True)
    with pytest.raises(InvalidPayload) as refused:
        ingest_customer_row(json.dumps({**row, "ad_user_data": "maybe"}), shop=SHOP)
    assert refused.value.field_path == "ad_user_data"
    with pytest.raises(InvalidPayload, match="no customer identifier"):
        ingest_customer_row(
            json.dumps({"customer_id": "", "email": "", "phone": "+48 22 555 01 23"}), shop=SHOP
        )


def test_shopifys_customer_export_reads_as_the_customers_layout(tmp_path: Path) -> None:
    path = tmp_path / "customers_export.csv"
    path.write_text(
        "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address City,"
        "Default Address Province Code,Default Address Country Code,Default Address Zip,Phone,"
        "Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags\n"
        "7001,Ana,Souza,ana.souza@example.com,yes,Lisboa,,PT,'1100-148,,no,120.00,2,,no,vip\n",
        encoding="utf-8",
    )
    assert check_file(path, "customers") == 1
    (record,) = read_records(path, "customers", SHOP)
    got = ingest_customer_row(record.body, shop=SHOP)
    assert (got.facts.customer_id, got.facts.country, got.facts.email_consent, got.facts.sms_consent) == (
        "7001",
        "PT",
        True,
        False,
    )


@pytest.mark.parametrize(
    ("kind", "sample", "topic"),
    [
        ("customers", "customers_create.shopify_docs_2026-07.json", "customers/update"),
        ("refunds", "refunds_create.shopify_docs_2026-07.json", "refunds/create"),
    ],
)
def test_a_rest_api_document_of_refunds_or_customers_is_read_record_by_record(
    tmp_path: Path, kind: str, sample: str, topic: str
) -> None:
    record = json.loads((FIXTURES / sample).read_text(encoding="utf-8"))
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps({kind: [record, record]}), encoding="utf-8")
    assert check_file(path, kind) == 2
    assert [r.topic for r in read_records(path, kind, SHOP)] == [topic, topic]


@pytest.mark.parametrize("name", ["orders.csv", "orders.csv.gz"])
def test_the_file_check_reports_how_far_it_has_read_a_large_file(tmp_path: Path, name: str) -> None:
    rows = "".join(f"A-{n},C-{n % 97},2025-01-01,EUR,{n % 50}.00\n" for n in range(45_000))
    text = "order_id,customer_id,created_at,currency,gross\n" + rows
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    reports: list[tuple[int, int]] = []
    assert check_file(path, "orders", on_bytes=lambda done, size: reports.append((done, size))) == 45_000
    size = path.stat().st_size  # bytes on disk: a gzip file's compressed bytes
    assert len(reports) == 2 and all(total == size for _, total in reports)
    assert 0 < reports[0][0] < reports[1][0] <= size
