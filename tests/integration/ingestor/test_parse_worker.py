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

from services.ingestor.adapters.parse_worker import INLINE, ParseWorker
from services.ingestor.adapters.rates_store import save_rates
from services.ingestor.bootstrap import cached_rates
from services.ingestor.demo_data import write_demo
from services.ingestor.domain import load_rates
from services.ingestor.handlers import make_handler, transactions
from services.ingestor.importer import publish_batches, read_records
from services.ingestor.layouts import Record
from shared.bus.broker import EmbeddedBroker, ensure_topics
from shared.bus.envelope import Envelope, decode, encode
from shared.bus.producer import Publisher
from shared.bus.records import Delivery
from shared.bus.topics import ALL_TOPICS
from shared.store.db import Store
from shared.store.migrate import upgrade
from shared.store.models import Customer, CustomerIdentifier, DeadLetterRecord, Order, Refund
from tests.conftest import _postgres_schema_url
from tests.integration.bus.harness import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SHOP = "demo.myshopify.com"


def _generic_file(tmp: Path, customers: int = 300) -> Path:
    """A demo shop's generic CSV (~5 rows a customer) with 4 refused rows among them."""
    write_demo(tmp / "orders.csv", customers=customers, seed=11, as_of=date(2025, 6, 30), fmt="generic")
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


@pytest.fixture
def inline_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """A second empty database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'inline.db'}"
        return
    yield from _postgres_schema_url(request.getfixturevalue("postgres_server"))


class _Sent:
    """Captures what ``publish_batches`` would send, as the runner would receive it."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    def partitions(self, _topic: str) -> int:
        return 2

    def publish(self, _topic: str, envelope: Envelope, **_: Any) -> None:
        self.envelopes.append(envelope)


def test_polls_of_many_transactions_store_the_same_with_and_without_the_worker(
    database_url: str, inline_url: str, tmp_path: Path
) -> None:
    path = _generic_file(tmp_path, customers=1000)
    sent = _Sent()
    list(publish_batches(sent, read_records(path, "orders", SHOP), SHOP))  # type: ignore[arg-type]
    polls = [
        [Delivery(decode(encode(e)), "orders.raw", 0, n) for n, e in enumerate(sent.envelopes[i : i + 20])]
        for i in range(0, len(sent.envelopes), 20)
    ]
    assert all(len(transactions(poll)) >= 2 for poll in polls[:-1])  # ~4,000 records a poll
    worker = ParseWorker()
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, ALL_TOPICS, partitions=2)
        with Publisher(broker.bootstrap) as publisher:
            for url, parser in ((database_url, worker), (inline_url, INLINE)):
                upgrade(url)
                store = Store(url)
                handle = make_handler(
                    store, publisher, cached_rates(store, "USD"), tmp_path / "exports", worker=parser
                )
                save_rates(store, load_rates(path.with_name("orders.csv.rates.yaml")))
                for poll in polls:
                    handle(poll)
                store.dispose()
    assert worker._pool is not None  # the worker parsed the later transactions of each poll
    with_worker, inline = _stored(database_url), _stored(inline_url)
    assert len(with_worker["orders"]) > 1000 and len(with_worker["letters"]) == 4
    for table in with_worker:
        assert with_worker[table] == inline[table], table


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


def _polls(records: list[Record], per_poll: int = 15) -> list[list[Delivery]]:
    """The records as ``import`` publishes them, in polls of ``per_poll`` messages as the runner
    would receive them."""
    sent = _Sent()
    list(publish_batches(sent, iter(records), SHOP))  # type: ignore[arg-type]
    wire = [decode(encode(e)) for e in sent.envelopes]
    return [
        [Delivery(e, "orders.raw", 0, n) for n, e in enumerate(wire[i : i + per_poll], start=i)]
        for i in range(0, len(wire), per_poll)
    ]


def test_a_worker_killed_between_polls_costs_no_record(store: Store, tmp_path: Path) -> None:
    polls = _polls(_orders(0, 9_000))  # ~3,000 records a poll
    assert sum(len(transactions(poll)) >= 2 for poll in polls) >= 3
    worker = ParseWorker()
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, ALL_TOPICS, partitions=2)
        with Publisher(broker.bootstrap) as publisher:
            handle = make_handler(store, publisher, cached_rates(store, "USD"), tmp_path / "x", worker=worker)
            refused = 0
            for number, poll in enumerate(polls):
                several = len(transactions(poll)) >= 2  # all but the last poll's leftover
                refused += len(list(handle(poll) or ()))
                workers = multiprocessing.active_children()
                assert workers or not several, f"poll {number}: parsed without a worker"
                for process in workers:
                    os.kill(process.pid or 0, signal.SIGKILL)  # the next poll starts another
                    process.join(10)
    assert refused == 36
    with store.session() as s:
        assert len(list(s.scalars(select(Order.order_id)))) == 9_000 - 36
        assert len(list(s.scalars(select(DeadLetterRecord.reason)))) == 36


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
assert worker.submit(raws, Rates.only("USD"))()[0] is not None
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
