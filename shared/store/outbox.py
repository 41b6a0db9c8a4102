"""The outbox: messages committed with what they announce, published after, kept until consumed.

Every message a process must not lose goes through here: the ingestor's and scorer's change
announcements, and every accepted webhook (the webhook edge answers only after its row and its
receipt commit together, so an acknowledged delivery survives a SIGKILL of any process).

A row is *claimed* (``published_at`` set) before it is published, so relays in several
processes never publish it twice on purpose; a failed publish releases the claim. A published
row stays until every consumer group of its topic has handled its ``message_id``
(``processed_messages``), then ``prune`` deletes it. A row published but never handled (the
broker lost its log, or a relay died between claim and publish) is published again by
``redeliver``: at once after the embedded broker restarts, and otherwise when it has waited
``REDELIVER_AFTER``. Consumers drop repeats by id, so a repeat costs a lookup, never an effect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka.errors import KafkaError
from prometheus_client import Counter
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from shared.bus.envelope import Envelope, encode
from shared.bus.producer import Publisher
from shared.bus.topics import CONSUMER_GROUPS
from shared.log import get_logger
from shared.store.db import Store
from shared.store.dialect import insert_rows
from shared.store.models import OutboxMessage, ProcessedMessage

log = get_logger(__name__)
RELAY_FAILURES = Counter("audiencesync_outbox_relay_failures_total", "Outbox relay passes that failed")

BATCH = 2000
REDELIVER_AFTER = timedelta(minutes=15)  # far beyond a healthy consumer's lag: repeats stay rare
RETENTION = timedelta(days=7)  # a message nobody confirms (an unknown topic) is kept this long


def add_to_outbox(session: Session, topic: str, envelopes: Sequence[Envelope]) -> None:
    """Queue envelopes in the caller's transaction; they are published only if it commits.

    One bulk insert (not ORM objects): an ingest batch announces hundreds of customers, and
    flushing them one object at a time cost more than storing the orders that changed them.
    """
    now = datetime.now(UTC)
    insert_rows(session, OutboxMessage.__table__, [outbox_row(topic, e, now) for e in envelopes])  # type: ignore[arg-type]


def consume(session: Session, topic: str, message_ids: Sequence[str]) -> None:
    """Forget handled messages in the consumer's own transaction (before ``prune`` would).

    The ingestor calls it for ``orders.raw``: the raw body, with its personal data, leaves the
    database in the transaction that stores the hashed facts, never later.
    """
    for start in range(0, len(message_ids), BATCH):
        chunk = list(message_ids[start : start + BATCH])
        session.execute(
            delete(OutboxMessage).where(OutboxMessage.topic == topic, OutboxMessage.message_id.in_(chunk))
        )


def outbox_row(topic: str, envelope: Envelope, now: datetime) -> dict[str, Any]:
    """One row for a Core bulk insert (same columns as ``add_to_outbox`` writes)."""
    return {
        "topic": topic,
        "key": envelope.key,
        "body": encode(envelope),
        "message_id": envelope.id,
        "created_at": now,
    }


def _confirmed() -> ColumnElement[bool]:
    """Rows every consumer group of their topic has handled."""
    checks = []
    for topic, groups in CONSUMER_GROUPS.items():
        handled = (
            select(func.count())
            .select_from(ProcessedMessage)
            .where(
                ProcessedMessage.message_id == OutboxMessage.message_id,
                ProcessedMessage.consumer.in_(groups),
            )
            .scalar_subquery()
        )
        checks.append(and_(OutboxMessage.topic == topic, handled >= len(groups)))
    return or_(*checks)


def _publish_claimed(
    store: Store, publisher: Publisher, where: ColumnElement[bool], topics: Collection[str] | None
) -> int:
    """Claim up to ``BATCH`` rows matching ``where`` (oldest first), publish them, flush."""
    claim = datetime.now(UTC)
    query = select(OutboxMessage.id).where(where).order_by(OutboxMessage.id).limit(BATCH)
    if topics is not None:
        query = query.where(OutboxMessage.topic.in_(list(topics)))
    with store.transaction() as session:
        ids = list(session.scalars(query))
        if not ids:
            return 0
        # The ``where`` is repeated so a row another relay claimed meanwhile is left to it.
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids), where).values(published_at=claim)
        )
    with store.session() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.key, OutboxMessage.body)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.published_at == claim)
            .order_by(OutboxMessage.id)
        ).all()
    try:
        for _, topic, key, body in rows:
            publisher.publish_raw(topic, key.encode(), body)
        publisher.flush()
    except BaseException:
        # Not acknowledged: release the claim so the next relay pass (any process) sends them.
        with store.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r[0] for r in rows]), OutboxMessage.published_at == claim)
                .values(published_at=None)
            )
        raise
    return len(rows)


def relay_outbox(store: Store, publisher: Publisher, *, topics: Collection[str] | None = None) -> int:
    """Publish every committed, unclaimed row (of ``topics``, or all) in order; returns how many.

    Raises ``PublishError`` (rows released for the next pass) when the broker did not acknowledge.
    """
    total = 0
    while sent := _publish_claimed(store, publisher, OutboxMessage.published_at.is_(None), topics):
        total += sent
    return total


def redeliver(
    store: Store,
    publisher: Publisher,
    *,
    after: timedelta = REDELIVER_AFTER,
    topics: Collection[str] | None = None,
) -> int:
    """Publish again rows published more than ``after`` ago that a consumer has not handled yet.

    ``after=timedelta(0)`` after a broker lost its log (the embedded broker restarted): every
    unconfirmed row goes out again, in the order it was first written.
    """
    cutoff = datetime.now(UTC) - after
    stale = and_(
        OutboxMessage.message_id.is_not(None),  # rows from before ids were kept cannot be confirmed
        OutboxMessage.published_at.is_not(None),
        OutboxMessage.published_at <= cutoff,
        ~_confirmed(),
    )
    total = 0
    while True:
        sent = _publish_claimed(store, publisher, stale, topics)
        total += sent
        if sent < BATCH:
            return total


def prune_outbox(store: Store, *, retention: timedelta = RETENTION) -> int:
    """Delete published rows every consumer has handled, and any older than ``retention``."""
    cutoff = datetime.now(UTC) - retention
    done = and_(
        OutboxMessage.published_at.is_not(None),
        or_(_confirmed(), OutboxMessage.published_at < cutoff),
    )
    total = 0
    while True:
        with store.transaction() as session:
            ids = list(session.scalars(select(OutboxMessage.id).where(done).limit(BATCH)))
            if ids:
                session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
        total += len(ids)
        if len(ids) < BATCH:
            return total


def pending_count(store: Store) -> int:
    """Rows not yet published (a backlog the relay has to send)."""
    with store.session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.published_at.is_(None))
            )
            or 0
        )


class OutboxRelay:
    """A background thread that publishes a process's outbox rows soon after they commit.

    ``wake()`` after a commit sends the row within milliseconds; a pass also runs every
    ``interval`` seconds, so rows left by a crash (or released by a failed publish) go out
    without anyone waking it. Stale rows are redelivered and handled rows pruned once a minute.
    Broker or database failures are logged and retried at the next pass: the rows wait safely.
    """

    def __init__(
        self,
        store: Store,
        connect: Callable[[], Publisher],
        *,
        topics: Collection[str] | None = None,
        interval: float = 1.0,
        housekeeping_every: float = 60.0,
    ) -> None:
        self.store, self.connect, self.topics = store, connect, topics
        self.publisher: Publisher | None = None  # connected in the thread, retried while the broker is down
        self.interval, self.housekeeping_every = interval, housekeeping_every
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._last_housekeeping = 0.0

    def start(self) -> OutboxRelay:
        """Start the thread (idempotent)."""
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()
        return self

    def wake(self) -> None:
        """Ask for a pass now (after a commit that added rows)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current pass, run a last one, and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        resend = True  # at start: a previous process may have died between claiming and publishing
        while True:
            self._wake.wait(min(self.interval * 2**failures, 30.0))
            self._wake.clear()
            stopping = self._stop.is_set()
            try:
                if self.publisher is None:
                    self.publisher = self.connect()
                if resend:
                    # Rows claimed by a pass that then failed (the database went away before the
                    # claim could be released, or the process died) are sent again now, rather
                    # than in ``REDELIVER_AFTER``. Consumers drop what they already have.
                    redeliver(self.store, self.publisher, after=timedelta(0), topics=self.topics)
                    resend = False
                relay_outbox(self.store, self.publisher, topics=self.topics)
                if time.monotonic() - self._last_housekeeping >= self.housekeeping_every:
                    self._last_housekeeping = time.monotonic()
                    redeliver(self.store, self.publisher, topics=self.topics)
                    prune_outbox(self.store)
                failures = 0
            except (KafkaError, SQLAlchemyError) as exc:
                # The rows stay in the outbox: nothing is lost, the next pass tries again and first
                # resends what this pass may have claimed without publishing.
                resend = True
                failures = min(failures + 1, 5)
                RELAY_FAILURES.inc()
                log.warning("outbox.relay_failed", error=f"{type(exc).__name__}: {exc}", retry_in=failures)
            if stopping:
                return
