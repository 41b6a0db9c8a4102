"""The import's pure rules: the shop it stores under, what a file holds, and when it stops."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from services.api.errors import ApiError
from services.api.webhooks import shop_domain
from services.ingestor.importer import ImportInputError, check_file, import_shop, read_records
from services.ingestor.verdict import MIN_HANDLED, judge, reason_code
from shared.shops import InvalidShopDomain, normalize_shop_domain

DOMAINS = [
    "demo.myshopify.com",
    " Demo.MyShopify.com ",
    "shop.example.co.uk",
    "a.b",
    "xn--caf-dma.myshopify.com",
    "default",
    "",
    "   ",
    "demo .myshopify.com",
    "demo.myshopify.com\n",
    "demo\x00.myshopify.com",
    "-demo.myshopify.com",
    "demo..myshopify.com",
    "demo.myshopify.com/admin",
    "x" * 64 + ".myshopify.com",
]


@pytest.mark.parametrize("value", DOMAINS)
def test_the_import_names_a_shop_exactly_as_the_webhook_edge_does(value: str) -> None:
    try:
        edge: str | None = shop_domain(value, default="unused")
    except ApiError:
        edge = None
    try:
        ours: str | None = normalize_shop_domain(value)
    except InvalidShopDomain:
        ours = None
    assert ours == edge


@pytest.mark.parametrize(
    ("flag", "setting", "shop"),
    [
        (" Demo.MyShopify.com ", "default", "demo.myshopify.com"),  # --shop wins, normalized
        (None, "default", "default"),  # SHOP unset: the single-shop placeholder, as webhooks use it
        (None, "demo", "demo"),  # a plain name, the same one header-less webhooks store under
        (None, "demo.myshopify.com", "demo.myshopify.com"),
    ],
)
def test_the_shop_is_the_flag_else_the_setting(flag: str | None, setting: str, shop: str) -> None:
    assert import_shop(flag, setting) == shop


@pytest.mark.parametrize(
    ("flag", "setting", "message"),
    [
        ("my shop", "default", "--shop: 'my shop' is not a shop domain (e.g. your-shop.myshopify.com)"),
        (
            None,
            "Demo.myshopify.com",
            "SHOP: write 'Demo.myshopify.com' as Shopify sends it: demo.myshopify.com",
        ),
    ],
)
def test_a_shop_that_would_split_customers_is_refused(flag: str | None, setting: str, message: str) -> None:
    with pytest.raises(ImportInputError) as refused:
        import_shop(flag, setting)
    assert str(refused.value) == message


def _write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "text", "kind", "count"),
    [
        ("o.jsonl", '{"id": 1}\n\n{"id": 2}\n', "orders", 2),
        ("o.jsonl.gz", '{"id": 1}\n{"id": 2}\n{"id": 3}\n', "orders", 3),
        ("o.json", '[{"id": 1}, {"id": 2}]', "orders", 2),
        ("o.json", '{"orders": [{"id": 1}, {"id": 2}, {"id": 3}]}', "orders", 3),
        ("o.json", '{\n  "id": 1\n}\n', "orders", 1),  # one pretty-printed order
        ("t.json", '{"tickets": [{"id": 1}, {"id": 2}]}', "tickets", 2),
        ("o.jsonl", 'not json\n{"id": 2}\n', "orders", 2),  # a broken line is dead-lettered alone
        (
            "o.csv",
            "\ufeff Order_ID ,Customer_ID,Created_At,Currency,Gross\nA-1,C-1,2025-01-01,EUR,10\n,,,,\n",
            "orders",
            1,
        ),
    ],
)
def test_a_file_is_counted_as_its_records_are_read(
    tmp_path: Path, name: str, text: str, kind: str, count: int
) -> None:
    path = _write(tmp_path / name, text)
    assert check_file(path, kind) == count
    assert len(list(read_records(path, kind, "demo.myshopify.com"))) == count


def test_csv_columns_are_read_as_the_layout_spells_them(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "o.csv",
        " Order_ID ,EMAIL,created_at,currency,gross\nA-1,a@example.com,2025-01-01,EUR,10\n",
    )
    (record,) = read_records(path, "orders", "demo.myshopify.com")
    assert record.key == "demo.myshopify.com/A-1"
    assert (
        json.loads(record.body)["order_id"] == "A-1" and json.loads(record.body)["email"] == "a@example.com"
    )


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("o.csv", "order_id,email\nA-1,a@example.com\n", "the header lacks created_at, currency and gross"),
        ("o.csv", "order_id,created_at,currency,gross\n1,2025-01-01,EUR,1\n", "lacks customer_id or email"),
        ("o.json", "[]", "a JSON document with no records in it"),
        ("o.jsonl", "order_id,email\nA-1,a@example.com\n", "not JSON or JSON Lines"),
        ("o.jsonl.gz", "", "only blank lines, no records"),
    ],
)
def test_a_file_that_cannot_be_imported_says_why(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = _write(tmp_path / name, text)
    with pytest.raises(ImportInputError, match=message):
        check_file(path, "orders")


@pytest.mark.parametrize(
    ("reason", "code", "detail"),
    [
        ("no_rate (GBP to USD)", "no_rate", "GBP to USD"),
        ("missing", "missing", ""),
        ("handler_error: KeyError at handlers.py:80", "handler_error", "KeyError at handlers.py:80"),
    ],
)
def test_a_reason_splits_into_its_code_and_detail(reason: str, code: str, detail: str) -> None:
    assert reason_code(reason) == (code, detail)


def test_a_whole_shop_in_an_unrated_currency_stops_with_the_base_currency_fix() -> None:
    verdict = judge(MIN_HANDLED, {("no_rate (GBP to USD)", "currency"): MIN_HANDLED}, finished=False)
    assert str(verdict) == (
        "200 of 200 records refused as no_rate (GBP to USD) at currency;"
        " set BASE_CURRENCY=GBP or load rates with `audiencesync rates load FILE`"
    )


def test_several_unrated_currencies_are_one_reason_whose_fix_is_loading_rates() -> None:
    refusals = {("no_rate (EUR to USD)", "currency"): 120, ("no_rate (GBP to USD)", "currency"): 80}
    verdict = judge(200, refusals, finished=False)
    assert verdict is not None and verdict.refused == 200
    assert verdict.fix == "load rates with `audiencesync rates load FILE` (for EUR, GBP)"


@pytest.mark.parametrize(
    ("handled", "refused", "finished", "stops"),
    [
        (199, 199, False, False),  # too few handled yet to judge the file
        (200, 190, False, True),  # 95 %
        (200, 189, False, False),  # 94.5 %: a shop with some bad rows still imports
        (3, 3, True, True),  # a small file refused whole is judged once it is all handled
        (20, 18, True, False),
        (0, 0, True, False),
    ],
)
def test_an_import_stops_when_one_reason_refuses_nearly_everything(
    handled: int, refused: int, finished: bool, stops: bool
) -> None:
    refusals = {("missing", "order_id"): refused} if refused else {}
    assert (judge(handled, refusals, finished=finished) is not None) is stops


def test_many_reasons_together_do_not_stop_an_import() -> None:
    refusals = {("missing", "order_id"): 100, ("not_a_decimal", "gross"): 100}
    assert judge(200, refusals, finished=True) is None
