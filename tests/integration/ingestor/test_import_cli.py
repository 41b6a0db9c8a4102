"""``audiencesync import`` through the real CLI, broker and ingestor, on SQLite and PostgreSQL:
one shop identity with webhooks, counts that are the import's own, a whole-file refusal stopped."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared.store.db import Store
from shared.store.models import Customer, DeadLetterRecord, Order
from tests.integration.bus.harness import wait_for
from tests.integration.ingestor.harness import pipeline, sample

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def import_cli(store: Store, tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m services.cli.main import ARGS`` on ``store``'s database, as a user runs it."""
    environ = {
        **os.environ,
        "AUDIENCESYNC_VAR_DIR": str(tmp / "var"),
        "DATABASE_URL": store.url,
        "KAFKA_PARTITIONS": "2",
        **env,
    }
    environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", "import", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _count(store: Store, model: type) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _generic_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["order_id", "customer_id", "created_at", "currency", "gross", "email"]
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def _row(n: int, currency: str = "USD", gross: str = "40.00") -> dict[str, str]:
    return {
        "order_id": f"A-{n}",
        "customer_id": f"C-{n % 37}",
        "created_at": "2025-02-03 10:00:00",
        "currency": currency,
        "gross": gross,
        "email": f"buyer.{n % 37}@example.com",
    }


def test_an_order_imported_and_then_sent_by_webhook_is_one_order_of_one_customer(
    store: Store, tmp_path: Path
) -> None:
    order = sample("orders_create.real_store_rudderstack.json")
    export = tmp_path / "orders.jsonl"
    export.write_text(json.dumps(order) + "\n", encoding="utf-8")
    # The shop as a merchant might type it: spaces and capitals are the webhook header's domain.
    done = import_cli(store, tmp_path, "orders", str(export), "--shop", " Demo.MyShopify.com ")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("orders.jsonl (shop demo.myshopify.com): 1 record: 1 stored, 0 refused")
    updated = {**order, "updated_at": "2024-11-06T09:00:00-05:00", "note": "gift wrap"}
    with pipeline(store, tmp_path) as p:  # signed, X-Shopify-Shop-Domain: demo.myshopify.com
        assert p.post("orders/updated", updated) == 200
        wait_for(lambda: p.handled() == 2)  # the import's record, then the webhook's
        assert p.dead_letters() == []
    with store.session() as s:
        orders = s.scalars(select(Order)).all()
        customers = s.scalars(select(Customer)).all()
    assert [(o.shop, o.order_id) for o in orders] == [("demo.myshopify.com", str(order["id"]))]
    assert [(c.shop, c.customer_key) for c in customers] == [("demo.myshopify.com", orders[0].customer_key)]
    assert orders[0].source == "webhook"  # the webhook's newer version replaced the imported one


def test_each_import_counts_and_keeps_its_own_refusals(store: Store, tmp_path: Path) -> None:
    # The refused row comes first with the same key in both files: on each import's fresh broker
    # it sits at the same partition and offset, which used to hide the second refusal.
    first = _generic_csv(tmp_path / "first.csv", [_row(1, gross="-5"), _row(2), _row(3)])
    second = _generic_csv(tmp_path / "second.csv", [_row(1, currency="XYZ"), _row(4)])
    one = import_cli(store, tmp_path, "orders", str(first), "--shop", "demo.myshopify.com")
    two = import_cli(store, tmp_path, "orders", str(second), "--shop", "demo.myshopify.com")
    assert one.returncode == 0 and two.returncode == 0, (one.stderr, two.stderr)
    assert one.stdout.splitlines()[:2] == [
        f"first.csv (shop demo.myshopify.com): 3 records: 2 stored, 1 refused in {_seconds(one.stdout)}",
        "  1 refused: negative_amount at gross",
    ]
    assert "2 records: 1 stored, 1 refused" in two.stdout
    assert "  1 refused: unknown_currency at currency" in two.stdout
    with store.session() as s:
        letters = s.scalars(select(DeadLetterRecord).order_by(DeadLetterRecord.id)).all()
    assert [d.reason.split(" ")[0] for d in letters] == ["negative_amount", "unknown_currency"]
    assert letters[0].offset == letters[1].offset  # same coordinates, two messages: both kept
    assert len({d.message_id for d in letters}) == 2
    assert _count(store, Order) == 3


def _seconds(stdout: str) -> str:
    """The timing tail of the summary line (``6.1s (0/s)``), which varies run to run."""
    return stdout.splitlines()[0].split(" in ", 1)[1]


def test_a_shop_refused_whole_stops_early_names_the_fix_and_imports_once_fixed(
    store: Store, tmp_path: Path
) -> None:
    pounds = _generic_csv(tmp_path / "gbp.csv", [_row(n, currency="GBP") for n in range(1_000)])
    done = import_cli(store, tmp_path, "orders", str(pounds), "--shop", "uk.myshopify.com")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "audiencesync: import stopped: 200 of 200 records refused as no_rate (GBP to USD) at currency;"
        " set BASE_CURRENCY=GBP or load rates with `audiencesync rates load FILE`"
    ]
    assert "stopped after 200 of 1,000 records: 0 stored, 200 refused" in done.stdout
    assert _count(store, DeadLetterRecord) == 200  # the rest was never published
    fixed = import_cli(
        store, tmp_path, "orders", str(pounds), "--shop", "uk.myshopify.com", BASE_CURRENCY="GBP"
    )
    assert fixed.returncode == 0, fixed.stderr
    assert "1,000 records: 1,000 stored, 0 refused" in fixed.stdout
    assert _count(store, Order) == 1_000
