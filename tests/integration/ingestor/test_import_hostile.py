"""Files a shop really has, and files that are broken in the ways real files break, through the real
``audiencesync import`` (embedded broker and ingestor): one line and exit 2 for a file that cannot
be read, one dead letter with its reason for a record that cannot be used, never a traceback."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.bus.broker import free_port
from shared.identity.normalize import normalize
from shared.identity.result import Normalized, Platform
from shared.store.db import Store
from shared.store.models import Customer, CustomerIdentifier, DeadLetterRecord, Order
from tests.integration.ingestor.harness import FIXTURES, sample
from tests.integration.ingestor.test_import_bad_input import run_cli
from tests.integration.ingestor.test_import_cli import ROOT, import_cli

pytestmark = pytest.mark.integration

GENERIC = "order_id,customer_id,created_at,currency,gross,email\nA-1,C-1,2025-01-01,EUR,10,a@example.com\n"


DEEP = "[" * 100_000 + "]" * 100_000  # past json's recursion limit


# A file that cannot be read as named, and what its one line must say.
UNREADABLE_FILES: dict[str, tuple[str, bytes, str]] = {
    "gzip named .csv": ("orders.csv", gzip.compress(GENERIC.encode()), "name it orders.csv.gz"),
    "gzip named .jsonl": ("orders.jsonl", gzip.compress(b'{"id": 1}\n'), "name it orders.jsonl.gz"),
    "workbook named .csv": ("orders.csv", b"PK\x03\x04\x14\x00\x06\x00" + bytes(64), "export it as CSV"),
    "excel unicode text": ("orders.csv", GENERIC.encode("utf-16"), "UTF-16 text"),
    "deep json document": ("orders.json", f'{{"orders": [{DEEP}]}}'.encode(), "nested too deeply"),
    "deep json value": ("orders.json", DEEP.encode(), "nested too deeply"),
}


@pytest.mark.parametrize("case", list(UNREADABLE_FILES))
def test_a_file_that_is_not_what_its_name_says_is_refused_in_one_line_saying_what_it_is(
    case: str, tmp_path: Path
) -> None:
    name, data, says = UNREADABLE_FILES[case]
    path = tmp_path / name
    path.write_bytes(data)
    done = run_cli(["import", "orders", str(path)], tmp_path / "var")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith(f"audiencesync: {path}: ") and says in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "var" / "audiencesync.db").exists()


def _letters(store: Store) -> list[tuple[str, str | None]]:
    with store.session() as s:
        return [(r.reason, r.field_path) for r in s.scalars(select(DeadLetterRecord))]


def _order_ids(store: Store) -> set[str]:
    with store.session() as s:
        return set(s.scalars(select(Order.order_id)))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_json_lines_record_nested_too_deep_is_refused_alone_and_the_others_are_stored(
    store: Store, tmp_path: Path
) -> None:
    order = sample("orders_create.shopify_docs_2026-07.json")
    path = tmp_path / "orders.jsonl"
    # First line and a later one: the file check and the reader both meet it.
    path.write_text(
        f'{{"id": 1, "x": {DEEP}}}\n{json.dumps(order)}\n{{"id": 2, "x": {DEEP}}}\n', encoding="utf-8"
    )
    done = import_cli(store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com")
    assert "Traceback" not in done.stderr, done.stderr
    assert "3 records: 1 stored, 2 refused" in done.stdout, (done.stdout, done.stderr)
    assert "fix: a record nests arrays or objects too deeply to read" in done.stdout
    assert _letters(store) == [("too_deep", "$")] * 2
    assert _order_ids(store) == {str(order["id"])}


def _excel_saved(text: str) -> str:
    """An export as a spreadsheet saves it back: ids rounded to 6 digits, dates reformatted."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([f"{int(cell):.5E}" if re.fullmatch(r"\d{13}", cell) else cell for cell in row])
    return out.getvalue()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_export_a_spreadsheet_saved_says_the_ids_were_rewritten(store: Store, tmp_path: Path) -> None:
    exported = (FIXTURES / "orders_export.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "orders_export.csv"
    path.write_text(_excel_saved(exported), encoding="utf-8-sig", newline="")
    done = import_cli(store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "audiencesync: import refused: 5 of 5 records refused as not_an_id at id; ids must be whole"
        " numbers as Shopify writes them; a spreadsheet that saved the file may have rewritten them"
        " (6.10123E+12): import the file as exported, unopened"
    ]
    assert _order_ids(store) == set()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_record_too_large_for_a_broker_message_is_refused_alone_as_too_large(
    store: Store, tmp_path: Path
) -> None:
    order = sample("orders_create.shopify_docs_2026-07.json")
    huge = {**order, "id": 1, "note": "\u00e9" * 4_500_000}  # 9 MB of UTF-8: over the 8 MiB message
    path = tmp_path / "orders.jsonl"
    path.write_text(f"{json.dumps(huge, ensure_ascii=False)}\n{json.dumps(order)}\n", encoding="utf-8")
    done = import_cli(store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com")
    assert "Traceback" not in done.stderr, done.stderr
    assert "2 records: 1 stored, 1 refused" in done.stdout, (done.stdout, done.stderr)
    assert "fix: a record may be at most 5 MiB" in done.stdout
    assert [reason.split(" ")[0] for reason, _ in _letters(store)] == ["too_large"]
    assert _order_ids(store) == {str(order["id"])}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_record_the_broker_refuses_stops_the_import_in_one_line(store: Store, tmp_path: Path) -> None:
    order = sample("orders_create.shopify_docs_2026-07.json")
    path = tmp_path / "orders.jsonl"
    # Under the 5 MiB cap as text, but each control character travels as a 6-byte \u0001 escape.
    path.write_text(f"{json.dumps(order)}\n{chr(1) * 2_000_000}\n", encoding="utf-8")
    done = import_cli(store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert "import stopped, the broker did not take every record" in done.stderr


# Shopify's customer export writes ids, phones and zips behind a ' so spreadsheets keep them as text.
CUSTOMERS_EXPORT = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address City,"
    "Default Address Province Code,Default Address Country Code,Default Address Zip,Phone,"
    "Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags\r\n"
    "'7002958422226,Russell,Winfield,russel.winfield@example.com,no,Toronto,ON,CA,'M5C 1N7,"
    "'+16135550135,no,0.00,0,,no,\r\n"
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_shopifys_customer_export_is_read_without_its_spreadsheet_quotes(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "customers_export.csv"
    path.write_text(CUSTOMERS_EXPORT, encoding="utf-8-sig", newline="")
    done = import_cli(store, tmp_path, "customers", str(path), "--shop", "demo.myshopify.com")
    assert "1 record: 1 stored, 0 refused" in done.stdout, (done.stdout, done.stderr)
    with store.session() as s:
        customer = s.scalars(select(Customer)).one()
        held = {
            (i.field, i.value)
            for i in s.scalars(select(CustomerIdentifier).where(CustomerIdentifier.platform == "meta"))
        }
    assert customer.shop_customer_id == "7002958422226"  # as orders' customer.id names it
    for field, value in (("PHONE", "+16135550135"), ("ZIP", "M5C 1N7")):
        expected = normalize(Platform.META, field, value, country="CA")
        assert isinstance(expected, Normalized) and (field, expected.wire_value) in held


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_json_lines_of_rest_api_pages_import_each_order_of_each_page(store: Store, tmp_path: Path) -> None:
    order = sample("orders_create.shopify_docs_2026-07.json")
    pages = [[{**order, "id": 10 + n} for n in range(3)], [], [{**order, "id": 20}]]
    path = tmp_path / "orders_pages.jsonl"
    lines = [json.dumps({"orders": page}) for page in pages]
    path.write_text("\n".join([*lines, json.dumps({**order, "id": 30})]) + "\n", encoding="utf-8")
    done = import_cli(store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com")
    assert "5 records: 5 stored, 0 refused" in done.stdout, (done.stdout, done.stderr)
    # A page after a record line (read as JSON Lines from the first line on)
    path.write_text("\n".join([json.dumps({**order, "id": 40}), lines[0].replace('"id": 1', '"id": 5')]))
    done = import_cli(store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com")
    assert "4 records: 4 stored, 0 refused" in done.stdout, (done.stdout, done.stderr)
    assert _order_ids(store) == {"10", "11", "12", "20", "30", "40", "50", "51", "52"}
    empty = tmp_path / "empty_pages.jsonl"
    empty.write_text('{"orders": []}\n{"orders": []}\n')
    refused = run_cli(["import", "orders", str(empty)], tmp_path / "var2")
    assert refused.returncode == 2
    assert refused.stderr == f"audiencesync: {empty}: pages of JSON with no records in them\n"


def _cli(args: list[str], tmp: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUDIENCESYNC_VAR_DIR": str(tmp / "var"), "DATABASE_URL": database_url}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_database_that_cannot_be_reached_is_one_line_with_its_password_hidden(tmp_path: Path) -> None:
    url = f"postgresql://audience:hunter2@127.0.0.1:{free_port()}/shop"
    orders = tmp_path / "orders.jsonl"
    orders.write_text(json.dumps(sample("orders_create.shopify_docs_2026-07.json")) + "\n")
    for args in (["dead-letters", "list"], ["import", "orders", str(orders), "--shop", "demo.myshopify.com"]):
        done = _cli(args, tmp_path, url)
        assert done.returncode == 1, (done.stdout, done.stderr)
        [line] = done.stderr.splitlines()
        assert (
            line.startswith("audiencesync: the database postgresql://audience:***@127.0.0.1:")
            and "hunter2" not in line
        )
        assert "cannot be used: connection failed" in line


def test_dead_letters_list_refuses_a_limit_below_one_in_one_usage_error(store: Store, tmp_path: Path) -> None:
    done = _cli(["dead-letters", "list", "--limit", "-1"], tmp_path, store.url)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].endswith("argument --limit: '-1' is not 1 or more")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_record_the_database_refuses_is_counted_without_a_traceback_on_stderr(
    store: Store, tmp_path: Path
) -> None:
    with store.engine.begin() as connection:  # a real refusal by the database, as a constraint would
        connection.exec_driver_sql(
            "CREATE TRIGGER no_bad BEFORE INSERT ON orders WHEN NEW.order_id = 'BAD'"
            " BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
        )
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,created_at,currency,gross,email\n"
        "BAD,C-1,2025-01-01,USD,10,a@example.com\nOK-2,C-2,2025-01-01,USD,10,b@example.com\n"
    )
    done = import_cli(store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com")
    assert "2 records: 1 stored, 1 refused" in done.stdout and "handler_error" in done.stdout, done.stdout
    assert done.returncode == 0 and done.stderr == ""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_export_with_a_notes_cell_over_128_kib_imports(store: Store, tmp_path: Path) -> None:
    rows = list(csv.reader(io.StringIO((FIXTURES / "orders_export.csv").read_text(encoding="utf-8-sig"))))
    notes = rows[0].index("Notes")
    rows[1][notes] = "Gift message, as a customer typed it:\n" + "merci " * 40_000  # 240 KB, two lines
    path = tmp_path / "orders_export.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    done = import_cli(store, tmp_path, "orders", str(path), "--shop", "demo.myshopify.com")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "5 orders: 5 stored, 0 refused" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("kind", "header", "says"),
    [
        (
            "orders",
            "order_id,customer_id,created_at,currency,gross,Email, email",
            "'Email' and 'email', all read as email",
        ),
        (
            "customers",
            "Customer ID,Email,Zip,Default Address Zip",
            "'Zip' and 'Default Address Zip', all read as postal_code",
        ),
    ],
)
def test_a_header_naming_a_column_twice_is_refused_in_one_line(
    kind: str, header: str, says: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{kind}.csv"
    path.write_text(header + "\n" + ",".join(["1"] * len(header.split(","))) + "\n")
    done = run_cli(["import", kind, str(path)], tmp_path / "var")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr == f"audiencesync: {path}: the header has {says}; keep one of them\n"
    assert not (tmp_path / "var" / "audiencesync.db").exists()
