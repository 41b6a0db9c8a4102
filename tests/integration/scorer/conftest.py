"""A demo shop imported once per database kind, through the real bulk import and ingestor."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.ingestor.adapters.rates_store import save_rates
from services.ingestor.bootstrap import service as ingestor_service
from services.ingestor.bulk import run_import
from services.ingestor.demo_data import sibling, write_demo
from services.ingestor.domain import load_rates
from shared.bus.broker import EmbeddedBroker, ensure_topics
from shared.bus.consumer import ConsumerRunner, RunnerConfig
from shared.bus.producer import Publisher
from shared.bus.topics import ALL_TOPICS, ORDERS_RAW
from shared.config import Settings
from shared.store.db import Store
from shared.store.messages import SqlDeadLetterSink, SqlSeenMessages
from shared.store.migrate import upgrade
from shared.store.models import ProcessedMessage
from tests.conftest import _postgres_schema_url
from tests.integration.bus.harness import SESSION_TIMEOUT_MS

DEMO_CUSTOMERS = 400
DEMO_SEED = 11
DEMO_AS_OF = date(2025, 6, 30)


@dataclass(frozen=True)
class DemoShop:
    """An imported demo shop: its store, settings, files and the planted truth."""

    store: Store
    settings: Settings
    orders: Path
    truth: dict[str, str]  # shop customer id -> expected label
    as_of: datetime


def _handled(store: Store) -> int:
    with store.session() as s:
        where = ProcessedMessage.consumer == "ingestor"
        return int(s.scalar(select(func.count()).select_from(ProcessedMessage).where(where)) or 0)


def _import(store: Store, settings: Settings, files: list[tuple[Path, str]]) -> None:
    """Publish every file with ``run_import`` and ingest them with one ingestor on one broker."""
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, ALL_TOPICS, partitions=2)
        live = settings.with_overrides(kafka_bootstrap=broker.bootstrap)
        publisher = Publisher(broker.bootstrap)
        declared = ingestor_service(live)
        runner = ConsumerRunner(
            RunnerConfig(
                name=declared.name,
                topics=(ORDERS_RAW,),
                bootstrap=broker.bootstrap,
                poll_timeout_ms=100,
                session_timeout_ms=SESSION_TIMEOUT_MS,
            ),
            declared.make_handler(store, publisher),
            publisher=publisher,
            seen=SqlSeenMessages(store),
            dead_letters=SqlDeadLetterSink(store),
        )
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        try:
            published = 0
            for path, kind in files:  # one file after the other, as the import command does
                published += run_import(live, path, kind).published
                deadline = time.monotonic() + 120
                while _handled(store) < published:
                    assert time.monotonic() < deadline and thread.is_alive(), "the ingestor stopped short"
                    time.sleep(0.1)
        finally:
            runner.stop.set()
            thread.join(15)
            publisher.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def demo_shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoShop]:
    """``audiencesync demo-data`` output, rates loaded first, imported into a fresh database."""
    folder = tmp_path_factory.mktemp(f"demo-{request.param}")
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{folder / 'demo.db'}"])
    else:
        urls = _postgres_schema_url(request.getfixturevalue("postgres_server"))
    url = next(urls)
    upgrade(url)
    store = Store(url)
    orders = folder / "demo.jsonl"
    write_demo(orders, customers=DEMO_CUSTOMERS, seed=DEMO_SEED, as_of=DEMO_AS_OF, workers=1)
    settings = Settings(database_url=url, shop="demo", var_dir=folder / "var")
    save_rates(store, load_rates(sibling(orders, "rates.yaml")))
    kinds = [(orders, "orders"), (sibling(orders, "checkouts.jsonl"), "checkouts")]
    _import(store, settings, [*kinds, (sibling(orders, "tickets.jsonl"), "tickets")])
    with open(sibling(orders, "truth.csv"), encoding="utf-8") as handle:
        truth = {row["shop_customer_id"]: row["expected_label"] for row in csv.DictReader(handle)}
    try:
        yield DemoShop(store, settings, orders, truth, datetime.combine(DEMO_AS_OF, clock_time.max, UTC))
    finally:
        store.dispose()
        for _ in urls:  # drops the PostgreSQL schema
            pass
