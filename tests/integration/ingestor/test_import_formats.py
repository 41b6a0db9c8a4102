"""The files shops have, through the real CLI, broker and ingestor, on SQLite and PostgreSQL:
Shopify's order export grouped into orders, refunds applied to their orders, customers with
their consents, and every contact field stored hashed, never raw."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared.store.db import Store
from shared.store.models import Customer, CustomerIdentifier, Order, OrderLine, Refund
from tests.integration.ingestor.test_import_cli import import_cli

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "shopify"
SHOP = "demo.myshopify.com"
# Raw values of the fixtures (the phone as written and as E.164: "514" alone matched a timestamp).
RAW = ("example.com", "Zoë", "Dupré", "Montréal", "Kierkegård", "514-555-0142", "5145550142", "山田")
RAW += ("Kowalska",)


def _summary(done: object) -> str:
    """The summary's first line without its timing tail."""
    stdout: str = done.stdout  # type: ignore[attr-defined]
    return stdout.splitlines()[0].split(" in ", 1)[0]


def _orders(store: Store) -> dict[str, Order]:
    with store.session() as s:
        return {o.order_id: o for o in s.scalars(select(Order))}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_an_order_export_its_refunds_and_its_customers_make_one_history_per_customer(
    store: Store, tmp_path: Path
) -> None:
    export = import_cli(store, tmp_path, "orders", str(FIXTURES / "orders_export.csv"), "--shop", SHOP)
    assert export.returncode == 0, export.stderr
    assert _summary(export) == f"orders_export.csv (shop {SHOP}): 5 orders: 5 stored, 0 refused"
    orders = _orders(store)
    assert sorted(orders) == [f"610123456000{n}" for n in range(1, 6)]
    money = {
        k: (o.gross_base, o.discount_base, o.refunded_base, o.net_base, o.status) for k, o in orders.items()
    }
    assert money["6101234560001"] == (Decimal(52), Decimal(5), Decimal(0), Decimal(47), "paid")
    assert money["6101234560002"] == (Decimal(25), Decimal(0), Decimal(25), Decimal(0), "cancelled")
    assert money["6101234560003"] == (Decimal(90), Decimal(8), Decimal(10), Decimal(72), "partially_refunded")
    with store.session() as s:
        lines = dict(
            s.execute(
                select(Order.order_id, func.sum(OrderLine.quantity)).join(OrderLine).group_by(Order.order_id)
            ).all()
        )
    assert lines == {
        "6101234560001": 3,
        "6101234560002": 1,
        "6101234560003": 4,
        "6101234560004": 1,
        "6101234560005": 1,
    }
    zoe = orders["6101234560001"].customer_key
    assert orders["6101234560005"].customer_key == zoe  # two orders of one buyer: one customer
    assert len({o.customer_key for o in orders.values()}) == 4

    refunds = import_cli(store, tmp_path, "refunds", str(FIXTURES / "refunds.csv"), "--shop", SHOP)
    assert refunds.returncode == 0, refunds.stderr
    assert _summary(refunds) == f"refunds.csv (shop {SHOP}): 3 records: 2 stored, 1 refused"
    assert "  1 refused: refund_without_order at order_id" in refunds.stdout
    orders = _orders(store)
    assert (orders["6101234560004"].refunded_base, orders["6101234560004"].net_base) == (
        Decimal(14),
        Decimal(50),
    )
    assert (orders["6101234560001"].refunded_base, orders["6101234560001"].net_base) == (
        Decimal("5.5"),
        Decimal("41.5"),
    )
    with store.session() as s:
        stored_refunds = sorted(
            s.execute(select(Refund.refund_id, Refund.order_id, Refund.customer_key)).all()
        )
    assert stored_refunds == sorted(
        [
            ("6101234560002", "6101234560002", orders["6101234560002"].customer_key),  # the export's
            ("6101234560003", "6101234560003", orders["6101234560003"].customer_key),
            ("R-2001", "6101234560004", orders["6101234560004"].customer_key),
            ("R-2002", "6101234560001", zoe),
        ]
    )

    customers = import_cli(store, tmp_path, "customers", str(FIXTURES / "customers.csv"), "--shop", SHOP)
    assert customers.returncode == 0, customers.stderr
    assert _summary(customers) == f"customers.csv (shop {SHOP}): 4 records: 4 stored, 0 refused"
    with store.session() as s:
        rows = {c.customer_key: c for c in s.scalars(select(Customer))}
        identifiers = s.execute(
            select(
                CustomerIdentifier.customer_key,
                CustomerIdentifier.platform,
                CustomerIdentifier.field,
                CustomerIdentifier.value,
            )
        ).all()
    assert len(rows) == 7  # the export's 4 buyers (Zoë once) and 3 customers new to the shop
    signals = {
        c.shop_customer_id: (
            c.accepts_email_marketing,
            c.accepts_sms_marketing,
            c.ad_user_data,
            c.ad_personalization,
        )
        for c in rows.values()
    }
    assert signals["C-501"] == (True, False, True, True)
    assert signals["C-502"] == (False, None, False, None)  # "unknown" is not stated
    assert signals["C-504"] == (None, None, None, None)
    assert rows[zoe].shop_customer_id == "C-501"  # the export's buyer, now known by the shop's id
    emails = {
        key
        for key, platform, field, value in identifiers
        if platform == "meta" and field == "EMAIL" and value == _sha256("zoe.dupre@example.com")
    }
    assert emails == {zoe}
    # Names, emails, phones and places are stored hashed: no raw value anywhere in these tables.
    with store.session() as s:
        stored = [
            str(v)
            for model in (Customer, CustomerIdentifier, Order, Refund)
            for row in s.execute(select(model.__table__)).all()
            for v in row
        ]
    assert not [value for value in stored if any(raw in value for raw in RAW)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_shopifys_refund_json_is_applied_to_the_order_the_webhook_shape_imported(
    store: Store, tmp_path: Path
) -> None:
    order = json.loads((FIXTURES / "orders_create.shopify_docs_2026-07.json").read_text())
    orders = tmp_path / "orders.jsonl"
    orders.write_text(json.dumps(order) + "\n", encoding="utf-8")
    assert import_cli(store, tmp_path, "orders", str(orders), "--shop", SHOP).returncode == 0
    before = _orders(store)[str(order["id"])].refunded_base
    refund = import_cli(
        store, tmp_path, "refunds", str(FIXTURES / "refunds_create.shopify_docs_2026-07.json"), "--shop", SHOP
    )
    assert refund.returncode == 0, refund.stderr
    assert (
        _summary(refund)
        == f"refunds_create.shopify_docs_2026-07.json (shop {SHOP}): 1 record: 1 stored, 0 refused"
    )
    with store.session() as s:
        (stored,) = s.scalars(select(Refund)).all()
    assert (stored.order_id, stored.refund_id) == (str(order["id"]), "890088186047892319")
    after = _orders(store)[str(order["id"])]
    assert after.refunded_base == max(before, stored.amount_base) and after.refunded_base > 0


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``audiencesync`` with stdout and stderr on a pseudo-terminal; its exit code and output."""
    master, slave = os.openpty()
    done = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = done.wait(timeout=120)
    screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", b"".join(chunks).decode()).replace("\r", "\n")
    return code, screen


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_a_terminal_the_import_shows_a_bar_with_its_total_and_the_time_left(
    store: Store, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": store.url, "AUDIENCESYNC_VAR_DIR": str(tmp_path), "COLUMNS": "100"}
    env["TERM"] = "xterm"  # the terminal it emulates; rich draws no live bar on a dumb one
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    args = [
        sys.executable,
        "-m",
        "services.cli.main",
        "import",
        "orders",
        str(FIXTURES / "orders_export.csv"),
    ]
    code, screen = _on_a_terminal([*args, "--shop", SHOP], env)
    assert code == 0, screen
    bars = [line.split() for line in screen.splitlines() if line.startswith("importing orders_export.csv")]
    assert bars and {bar[3] for bar in bars} <= {f"{n}/5" for n in range(6)}  # handled of the 5 orders
    assert all(re.fullmatch(r"-:--:--|\d+:\d\d:\d\d", bar[4]) for bar in bars)  # the time left
    assert f"orders_export.csv (shop {SHOP}): 5 orders: 5 stored, 0 refused" in screen
