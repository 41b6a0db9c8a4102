"""Runs a bulk import end to end: check the file, publish, and in the embedded default also ingest.

With no broker configured, the import starts an embedded broker and an in-process ingestor,
publishes every record, waits until each one is stored or dead-lettered, and stops them. Counts
are this import's own: its envelope ids are looked up in ``processed_messages`` and
``dead_letters`` (never table totals, which other imports and webhooks also fill). The first
``PROBE`` records are handled before the rest is published, and an import whose records are
(nearly) all refused for one reason stops there (``verdict.py``).
With ``KAFKA_BOOTSTRAP_SERVERS`` set it only publishes: the deployed ingestors do the rest.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Generator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from sqlalchemy import func, select

from services.ingestor.adapters.rates_store import save_rates
from services.ingestor.bootstrap import service as ingestor_service
from services.ingestor.domain import Rates
from services.ingestor.importer import (
    CheckedFile,
    ImportStalledError,
    Published,
    check_import,
    publish_batches,
    read_records,
)
from services.ingestor.verdict import MIN_HANDLED, Verdict, judge
from shared.bus.broker import EmbeddedBroker, ensure_topics
from shared.bus.consumer import ConsumerRunner, RunnerConfig
from shared.bus.producer import Publisher
from shared.bus.topics import ALL_TOPICS, ORDERS_RAW
from shared.config import Settings
from shared.messages import RawBatch
from shared.store.db import Store
from shared.store.messages import SqlDeadLetterSink, SqlSeenMessages
from shared.store.migrate import upgrade
from shared.store.models import DeadLetterRecord, ProcessedMessage

PROBE = MIN_HANDLED  # records published and handled before the rest is published
STALL_SECONDS = 300.0  # no record handled for this long: the ingestor is stuck, stop waiting
_SLICE = 1_000  # records published between looks at what was handled
_CHUNK = 500  # ids per IN (...) lookup
_LOOKUPS = 20  # chunks looked up per refresh: progress without a query per record

Progress = Callable[[int, int], None]  # (records handled, or published when others ingest; records in file)


@dataclass
class Tally:
    """This import's records by name (``RawBatch.record_id``) and what became of them, read back
    from the store by name."""

    store: Store
    consumer: str = "ingestor"
    published: int = 0
    handled: int = 0
    pending: dict[str, None] = field(default_factory=dict)  # published, not yet handled (in order)
    refusals: Counter[tuple[str, str | None]] = field(default_factory=Counter)  # (reason, path)

    def add(self, sent: Published) -> None:
        """Track the records of one published message."""
        self.published += sent.records
        self.pending.update(
            dict.fromkeys(RawBatch.record_id(sent.envelope_id, i) for i in range(sent.records))
        )

    @property
    def refused(self) -> int:
        """Records of this import that were dead-lettered."""
        return sum(self.refusals.values())

    def refresh(self) -> None:
        """Move records the consumer has handled out of ``pending`` and count their refusals.

        A record's dead letter is stored no later than its mark as handled (the ingestor writes
        both with its effects), so a handled record's refusal is already in ``dead_letters``.
        """
        ids = list(islice(self.pending, _CHUNK * _LOOKUPS))
        with self.store.session() as session:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                done = list(
                    session.scalars(
                        select(ProcessedMessage.message_id).where(
                            ProcessedMessage.consumer == self.consumer, ProcessedMessage.message_id.in_(chunk)
                        )
                    )
                )
                if not done:
                    break  # later records are handled later: no need to look further now
                letters = session.execute(
                    select(DeadLetterRecord.reason, DeadLetterRecord.field_path, func.count())
                    .where(DeadLetterRecord.consumer == self.consumer, DeadLetterRecord.message_id.in_(done))
                    .group_by(DeadLetterRecord.reason, DeadLetterRecord.field_path)
                )
                for reason, path, count in letters:
                    self.refusals[(reason, path)] += count
                for record_id in done:
                    del self.pending[record_id]
                self.handled += len(done)


@dataclass(frozen=True)
class ImportResult:
    """What happened to the file's records; counts are this import's own."""

    shop: str
    records: int  # in the file
    published: int
    handled: int | None  # None when another process ingests (a broker was configured)
    refusals: Counter[tuple[str, str | None]]
    verdict: Verdict | None  # set when the import stopped: one reason refused (nearly) everything
    seconds: float
    rates_loaded: int | None = None  # rates saved before the import (``--rates``)
    unit: str = "record"  # what one record is: "order" for an export whose orders span lines

    @property
    def refused(self) -> int | None:
        """Records dead-lettered, or None when another process ingests."""
        return None if self.handled is None else sum(self.refusals.values())

    @property
    def stored(self) -> int | None:
        """Records the ingestor accepted, or None when another process ingests."""
        return None if self.handled is None else self.handled - sum(self.refusals.values())


def run_import(
    settings: Settings,
    path: Path,
    kind: str,
    *,
    shop: str | None = None,
    rates: Rates | None = None,
    on_progress: Progress | None = None,
    fmt: str = "auto",
    on_check: Progress | None = None,
    checked: CheckedFile | None = None,
) -> ImportResult:
    """Import ``path`` (``kind``: orders, refunds, customers, tickets, checkouts; ``fmt``: its format,
    ``auto`` to tell from the file) for ``shop`` (``--shop``; None: ``SHOP``). ``on_check`` hears
    the file check's bytes read of the file's size, ``on_progress`` the records handled of the total.
    ``checked``: the file's check, already made (``check_import``), for a caller that checks first.

    Raises ``ImportInputError`` for a file or shop that cannot be imported, before any broker
    starts or anything is stored (``rates`` are saved only after the file passed its check);
    ``ImportStalledError`` when the in-process ingestor stops.
    """
    checked = checked or check_import(path, kind, fmt, shop, settings.shop, on_bytes=on_check)
    shop, total, unit = checked.shop, checked.records, checked.unit
    started = time.perf_counter()
    loaded = save_rates_to_store(settings, rates) if rates is not None else None
    progress = on_progress or (lambda _done, _total: None)

    def records(publisher: Publisher) -> Generator[Published, None, None]:
        return publish_batches(publisher, read_records(path, kind, shop, fmt), shop, first=PROBE)

    if settings.kafka_bootstrap is not None:
        published = _publish_only(settings.kafka_bootstrap, records, progress, total)
        seconds = time.perf_counter() - started
        return ImportResult(shop, total, published, None, Counter(), None, seconds, loaded, unit)
    tally, verdict = _ingest_here(settings.with_overrides(shop=shop), records, progress, total)
    seconds = time.perf_counter() - started
    return ImportResult(
        shop, total, tally.published, tally.handled, tally.refusals, verdict, seconds, loaded, unit
    )


Records = Callable[[Publisher], Generator[Published, None, None]]  # publishes the file, yields messages


def _publish_only(bootstrap: str, records: Records, progress: Progress, total: int) -> int:
    """Publish every record for the deployed ingestors; the number published."""
    published, next_look = 0, _SLICE
    with Publisher(bootstrap, client_id="import") as publisher, closing(records(publisher)) as sent:
        for message in sent:
            published += message.records
            if published >= next_look:
                progress(published, total)
                next_look = published + _SLICE
        # Every record acknowledged, however long the broker takes (each one still fails after the
        # producer's delivery timeout): the 30 s default gave up on a 340,000-order file.
        publisher.flush(timeout=None)
    return published


def _ingest_here(
    settings: Settings, records: Records, progress: Progress, total: int
) -> tuple[Tally, Verdict | None]:
    """Publish to an embedded broker and ingest in this process; what was handled, and the verdict."""
    with ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker())
        ensure_topics(broker.bootstrap, ALL_TOPICS, partitions=settings.kafka_partitions)
        upgrade(settings.database_url)
        store = Store(settings.database_url)
        stack.callback(store.dispose)
        publisher = Publisher(broker.bootstrap, client_id="import")
        stack.callback(publisher.close)
        runner = _start_ingestor(settings, store, publisher, broker.bootstrap, stack)
        tally = Tally(store)
        watch = _Watch(tally, runner, progress, total)
        probed, next_look = False, _SLICE
        with closing(records(publisher)) as sent:
            for message in sent:
                tally.add(message)
                probe = not probed and tally.published >= PROBE
                if probe or tally.published >= next_look:
                    publisher.flush()
                    # The probe is handled before the rest is published: a file refused whole
                    # stops after PROBE records, not after all of them sat in the broker.
                    verdict = watch.until_handled() if probe else watch.look()
                    probed, next_look = probed or probe, tally.published + _SLICE
                    if verdict:
                        return tally, verdict
        publisher.flush()
        verdict = watch.until_handled() or judge(tally.handled, tally.refusals, finished=True)
        return tally, verdict
    raise AssertionError("unreachable")


def save_rates_to_store(settings: Settings, rates: Rates) -> int:
    """Store a rates table in the database (migrated first); returns how many rates."""
    upgrade(settings.database_url)
    store = Store(settings.database_url)
    try:
        return save_rates(store, rates)
    finally:
        store.dispose()


@dataclass
class _Watch:
    """Looks at what the in-process ingestor handled: progress, the verdict, a stalled ingestor."""

    tally: Tally
    runner: threading.Thread
    progress: Progress
    total: int
    last_change: float = field(default_factory=time.monotonic)

    def look(self) -> Verdict | None:
        """Refresh the counts once; the verdict so far."""
        before = self.tally.handled
        self.tally.refresh()
        now = time.monotonic()
        if self.tally.handled != before:
            self.last_change = now
        self.progress(self.tally.handled, self.total)
        return judge(self.tally.handled, self.tally.refusals, finished=False)

    def until_handled(self) -> Verdict | None:
        """Wait until every published record is handled, or a verdict stops the import."""
        while True:
            verdict = self.look()
            if verdict or not self.tally.pending:
                return verdict
            if not self.runner.is_alive():
                raise ImportStalledError("the ingestor stopped before every record was handled")
            if time.monotonic() - self.last_change > STALL_SECONDS:
                raise ImportStalledError(f"the ingestor handled nothing for {STALL_SECONDS:.0f}s")
            time.sleep(0.2)


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
            # The only member of its group: joining takes about a heartbeat interval (a third of
            # the session timeout) plus 2 s on the embedded broker, measured 5.2 s at the default
            # 10 s and 2.2 s at 4 s; heartbeats run on kafka-python's own thread while a batch is
            # handled, so a long batch does not end the session.
            session_timeout_ms=4000,
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
