"""Runs a bulk import end to end: publish, and in the embedded default also ingest and wait.

With no broker configured, the import starts an embedded broker and an in-process ingestor,
publishes every record, waits until each one is stored or dead-lettered, and stops them.
With ``KAFKA_BOOTSTRAP_SERVERS`` set it only publishes: the deployed ingestors do the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from services.ingestor.bootstrap import service as ingestor_service
from services.ingestor.importer import publish_records, read_records
from shared.bus.broker import EmbeddedBroker, ensure_topics
from shared.bus.consumer import ConsumerRunner, RunnerConfig
from shared.bus.producer import Publisher
from shared.bus.topics import ALL_TOPICS, ORDERS_RAW
from shared.config import Settings
from shared.store.db import Store
from shared.store.messages import SqlDeadLetterSink, SqlSeenMessages
from shared.store.migrate import upgrade
from shared.store.models import DeadLetterRecord, ProcessedMessage


@dataclass(frozen=True)
class ImportResult:
    """What happened to the file's records."""

    published: int
    stored: int | None  # None when another process ingests (a broker was configured)
    dead_lettered: int | None
    seconds: float


def _count(store: Store, model: type, since: datetime | None = None) -> int:
    with store.session() as session:
        query = select(func.count()).select_from(model)
        if model is ProcessedMessage:
            query = query.where(ProcessedMessage.consumer == "ingestor")
        if since is not None and model is DeadLetterRecord:
            query = query.where(DeadLetterRecord.consumer == "ingestor", DeadLetterRecord.created_at >= since)
        return int(session.scalar(query) or 0)


def run_import(
    settings: Settings,
    path: Path,
    kind: str,
    *,
    on_record: Callable[[], None] | None = None,
    timeout: float = 3600.0,
) -> ImportResult:
    """Import ``path`` (``kind``: orders, tickets, checkouts) and report the counts."""
    started, since = time.perf_counter(), datetime.now(UTC)
    with ExitStack() as stack:
        bootstrap = settings.kafka_bootstrap
        embedded = bootstrap is None
        store = Store(settings.database_url)
        stack.callback(store.dispose)
        if embedded:
            broker = stack.enter_context(EmbeddedBroker())
            bootstrap = broker.bootstrap
            ensure_topics(bootstrap, ALL_TOPICS, partitions=settings.kafka_partitions)
            upgrade(settings.database_url)
        assert bootstrap is not None
        publisher = Publisher(bootstrap, client_id="import")
        stack.callback(publisher.close)
        before = _count(store, ProcessedMessage) if embedded else 0
        if embedded:
            runner = _start_ingestor(settings, store, publisher, bootstrap, stack)
        published = 0
        for _ in _ticking(
            publish_records(publisher, read_records(path, kind, settings.shop), settings.shop), on_record
        ):
            published += 1
        publisher.flush()
        if not embedded:
            return ImportResult(published, None, None, time.perf_counter() - started)
        deadline = time.monotonic() + timeout
        while _count(store, ProcessedMessage) < before + published:
            if time.monotonic() > deadline or not runner.is_alive():
                raise RuntimeError("the ingestor stopped before every record was handled")
            time.sleep(0.2)
        dead = _count(store, DeadLetterRecord, since)
        return ImportResult(published, published - dead, dead, time.perf_counter() - started)
    raise AssertionError("unreachable")


def _ticking(ids: Iterator[str], on_record: Callable[[], None] | None) -> Iterator[str]:
    for envelope_id in ids:
        if on_record:
            on_record()
        yield envelope_id


def _start_ingestor(
    settings: Settings, store: Store, publisher: Publisher, bootstrap: str, stack: ExitStack
) -> threading.Thread:
    declared = ingestor_service(settings)
    runner = ConsumerRunner(
        RunnerConfig(
            name=declared.name,
            topics=(ORDERS_RAW,),
            bootstrap=bootstrap,
            batch_size=declared.batch_size,
            poll_timeout_ms=200,
        ),
        declared.make_handler(store, publisher),
        publisher=publisher,
        seen=SqlSeenMessages(store),
        dead_letters=SqlDeadLetterSink(store),
        service="ingestor",
    )
    thread = threading.Thread(target=runner.run, name="ingestor", daemon=True)
    thread.start()

    def stop() -> None:
        runner.stop.set()
        thread.join(30)

    stack.callback(stop)
    return thread
