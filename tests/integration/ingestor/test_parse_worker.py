"""The parse worker: big transactions are parsed and hashed in a second process while the
ingestor writes the one before. What is stored must not depend on where a record was parsed,
a worker that dies costs no record, and a worker never outlives its ingestor."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.ingestor.demo_data import write_demo
from services.ingestor.importer import publish_batches
from services.ingestor.layouts import Record
from shared.store.db import Store
from shared.store.models import Customer, CustomerIdentifier, DeadLetterRecord, Order, Refund
from tests.integration.bus.harness import wait_for
from tests.integration.ingestor.harness import pipeline

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SHOP = "demo.myshopify.com"


def _generic_file(tmp: Path) -> Path:
    """A demo shop's generic CSV (~1,500 rows) with refused rows among them."""
    write_demo(tmp / "orders.csv", customers=300, seed=11, as_of=date(2025, 6, 30), fmt="generic")
    path = tmp / "orders.csv"
    with path.open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    for at in (5, 700, len(rows) - 3):
        rows[at] = {**rows[at], "gross": "-3.00"}  # negative_amount
    rows[40] = {**rows[40], "created_at": "yesterday"}  # not a date
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _import(path: Path, tmp: Path, url: str, worker: str) -> None:
    env = {
        **os.environ,
        "AUDIENCESYNC_VAR_DIR": str(tmp / "var"),
        "DATABASE_URL": url,
        "INGEST_PARSE_WORKER": worker,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    args = [
        "import",
        "orders",
        str(path),
        "--shop",
        SHOP,
        "--rates",
        str(path.with_name("orders.csv.rates.yaml")),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)


def _stored(url: str) -> dict[str, Any]:
    store = Store(url)
    try:
        with store.session() as s:
            orders = sorted(
                (
                    o.order_id,
                    o.customer_key,
                    str(o.gross_base),
                    str(o.net_base),
                    str(o.refunded_base),
                    o.created_at,
                    o.status,
                    o.channel,
                    o.referral,
                    tuple(o.categories or ()),
                    o.country,
                    o.line_count,
                    o.source,
                )
                for o in s.scalars(select(Order))
            )
            customers = sorted(
                (c.customer_key, c.shop_customer_id, c.country, c.accepts_email_marketing, c.first_seen_at)
                for c in s.scalars(select(Customer))
            )
            identifiers = sorted(
                s.execute(
                    select(
                        CustomerIdentifier.customer_key,
                        CustomerIdentifier.platform,
                        CustomerIdentifier.field,
                        CustomerIdentifier.value,
                    )
                ).all()
            )
            refunds = sorted(
                s.execute(select(Refund.refund_id, Refund.customer_key, Refund.amount_base)).all()
            )
            letters = sorted(s.execute(select(DeadLetterRecord.reason, DeadLetterRecord.field_path)).all())
    finally:
        store.dispose()
    return {
        "orders": orders,
        "customers": customers,
        "identifiers": identifiers,
        "refunds": refunds,
        "letters": letters,
    }


def test_an_import_parsed_by_the_worker_stores_exactly_what_an_inline_import_stores(tmp_path: Path) -> None:
    path = _generic_file(tmp_path)
    urls = {mode: f"sqlite:///{tmp_path / mode}.db" for mode in ("worker", "inline")}
    _import(path, tmp_path / "a", urls["worker"], "1")
    _import(path, tmp_path / "b", urls["inline"], "0")
    worker, inline = _stored(urls["worker"]), _stored(urls["inline"])
    assert len(worker["orders"]) > 1000 and len(worker["identifiers"]) > 3000
    assert [reason.split(" ")[0] for reason, _ in worker["letters"]].count("negative_amount") == 3
    assert len(worker["letters"]) == 4
    for table in worker:
        assert worker[table] == inline[table], table


def _orders(start: int, count: int) -> list[Record]:
    records = []
    for n in range(start, start + count):
        row = {
            "order_id": f"W-{n}",
            "customer_id": f"C-{n % 97}",
            "created_at": "2025-02-03 10:00:00",
            "currency": "USD",
            "gross": "-1" if n % 250 == 7 else "30.00",
            "email": f"buyer.{n % 97}@example.com",
            "phone": "+1 415 555 0100",
        }
        records.append(Record("import/generic", f"{SHOP}/W-{n}", json.dumps(row).encode(), f"id:C-{n % 97}"))
    return records


def test_a_worker_killed_between_batches_costs_no_record(store: Store, tmp_path: Path) -> None:
    with pipeline(store, tmp_path) as p:
        for part, start in enumerate((0, 1200, 2400)):  # a new worker after each kill
            list(publish_batches(p.publisher, iter(_orders(start, 1200)), SHOP))
            p.publisher.flush()
            wait_for(lambda start=start: p.handled() == start + 1200, timeout=120)
            workers = multiprocessing.active_children()
            assert workers, f"part {part}: 1,200 records were parsed without a worker"
            for worker in workers:
                os.kill(worker.pid or 0, signal.SIGKILL)
    with store.session() as s:
        assert len(list(s.scalars(select(Order.order_id)))) == 3600 - 15
        letters = list(s.scalars(select(DeadLetterRecord.reason)))
    assert len(letters) == 15 and all(r.startswith("negative_amount") for r in letters)


_INGESTOR = """
import json, sys, time
from datetime import UTC, datetime
from services.ingestor.adapters.parse_worker import MIN_RECORDS, ParseWorker
from services.ingestor.domain import Rates
from shared.messages import RawReceived
body = json.dumps({"order_id": "1", "created_at": "2025-02-03 10:00:00", "currency": "USD",
                   "gross": "5", "email": "a@example.com"}).encode()
raws = [RawReceived("import", "import/generic", "s", body, datetime.now(UTC))] * MIN_RECORDS
worker = ParseWorker()
assert worker.submit(raws, Rates.only("USD"))().results[0] is not None
import multiprocessing
print(multiprocessing.active_children()[0].pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_worker_exits_when_its_ingestor_is_killed(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _INGESTOR], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as ingestor:
        assert ingestor.stdout is not None
        worker = int(ingestor.stdout.readline())
        assert _alive(worker)
        ingestor.send_signal(signal.SIGKILL)
        ingestor.wait(30)
        wait_for(lambda: not _alive(worker), timeout=30)
