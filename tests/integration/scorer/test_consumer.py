"""The scorer service as deployed: its declared runner on a real embedded broker, a real store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import delete, func, select

from services.scorer.bootstrap import service
from shared.bus.broker import EmbeddedBroker, ensure_topics
from shared.bus.consumer import HEARTBEAT, ConsumerRunner, RunnerConfig
from shared.bus.envelope import Envelope, decode
from shared.bus.producer import Publisher
from shared.bus.topics import ALL_TOPICS, CUSTOMERS_CHANGED, LABELS_CHANGED
from shared.config import Settings
from shared.messages import CustomerChanged, LabelChanged
from shared.store.db import Store
from shared.store.messages import SqlDeadLetterSink, SqlSeenMessages
from shared.store.models import Customer, DeadLetterRecord, Erasure, Label, ProcessedMessage
from tests.integration.bus.harness import SESSION_TIMEOUT_MS
from tests.integration.scorer.shop import ShopWriter, key, random_shop

pytestmark = pytest.mark.integration


@dataclass
class Scorer:
    """The running scorer and what it has done."""

    store: Store
    broker: EmbeddedBroker
    publisher: Publisher

    def send(self, *envelopes: Envelope) -> None:
        for envelope in envelopes:
            self.publisher.publish(CUSTOMERS_CHANGED, envelope)
        self.publisher.flush()

    def handled(self) -> int:
        with self.store.session() as s:
            where = ProcessedMessage.consumer == "scorer"
            return int(s.scalar(select(func.count()).select_from(ProcessedMessage).where(where)) or 0)

    def wait_handled(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.handled() < count:
            assert time.monotonic() < deadline, f"the scorer handled {self.handled()} of {count} messages"
            time.sleep(0.1)

    def out(self, at_least: int = 0) -> list[Envelope]:
        """Everything on ``labels.changed`` so far: at least ``at_least``, then until a quiet poll.

        The scorer flushes what it publishes before a message counts as handled, so once the
        expected messages are in, one quiet poll shows nothing more is coming.
        """
        consumer = KafkaConsumer(bootstrap_servers=self.broker.bootstrap, enable_auto_commit=False)
        try:
            parts = [
                TopicPartition(LABELS_CHANGED, p) for p in consumer.partitions_for_topic(LABELS_CHANGED) or ()
            ]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            got: list[Envelope] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                batch = [decode(r.value) for rs in consumer.poll(timeout_ms=300).values() for r in rs]
                got += batch
                if not batch and len(got) >= at_least:
                    return got
            raise AssertionError(f"{len(got)} messages on {LABELS_CHANGED}, expected at least {at_least}")
        finally:
            consumer.close()

    def changes(self, at_least: int = 0) -> list[LabelChanged]:
        return [LabelChanged.from_envelope(e) for e in self.out(at_least) if e.type == LabelChanged.TYPE]


@contextmanager
def running_scorer(store: Store) -> Iterator[Scorer]:
    """The service's own declaration (topics, heartbeat hop, handler) run in a thread."""
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, ALL_TOPICS, partitions=2)
        declared = service(Settings(database_url=store.url, kafka_bootstrap=broker.bootstrap))
        publisher = Publisher(broker.bootstrap)
        runner = ConsumerRunner(
            RunnerConfig(
                name=declared.name,
                topics=declared.topics,
                bootstrap=broker.bootstrap,
                poll_timeout_ms=100,
                session_timeout_ms=SESSION_TIMEOUT_MS,
                heartbeat_forward_to=declared.heartbeat_forward_to,
            ),
            declared.make_handler(store, publisher),
            publisher=publisher,
            seen=SqlSeenMessages(store),
            dead_letters=SqlDeadLetterSink(store),
            service=declared.name,
        )
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        try:
            yield Scorer(store, broker, publisher)
        finally:
            runner.stop.set()
            thread.join(15)
            publisher.close()


def test_the_scorer_rescores_announces_material_changes_erases_and_dead_letters(store: Store) -> None:
    names = random_shop(store, 50)
    with running_scorer(store) as scorer:
        # No calibration yet: the first message triggers a full rescore, every label is new.
        scorer.send(CustomerChanged(key(names[0]), "order").to_envelope())
        scorer.wait_handled(1)
        first = scorer.changes(len(names))
        assert sorted(c.customer_key for c in first) == sorted(key(n) for n in names)
        assert all(c.previous_label is None and c.label and not c.erased for c in first)
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(Label)) == len(names)
            busy_before = s.get(Label, key(names[2]))
            gone_before = s.get(Label, key(names[4]))
        assert busy_before is not None and gone_before is not None

        # A consent change moves nothing; a burst of large orders moves the value (and maybe more).
        with store.transaction() as s:
            s.get(Customer, key(names[1])).accepts_sms_marketing = True
            shop = ShopWriter(s)
            now = datetime.now(UTC)
            for day in range(1, 10):
                shop.order(names[2], (now - timedelta(days=day)).strftime("%Y-%m-%d %H:%M"), 950.0)
        scorer.send(
            CustomerChanged(key(names[1]), "customer").to_envelope(),
            CustomerChanged(key(names[2]), "order").to_envelope(),
            Envelope(type=HEARTBEAT, key="ping", payload={"hops": []}),
        )
        scorer.wait_handled(3)  # the ping is forwarded, not recorded as handled work
        changes = scorer.changes(len(first) + 1)
        with store.session() as s:
            busy = s.get(Label, key(names[2]))
        assert busy is not None and busy.value > busy_before.value
        assert len(changes) == len(first) + 1
        last = [c for c in changes if c.customer_key == key(names[2])][-1]
        assert (last.previous_label, last.label, last.stage) == (busy_before.label, busy.label, busy.stage)
        beats = [e for e in scorer.out(len(changes) + 1) if e.type == HEARTBEAT]
        assert [hop["service"] for hop in beats[0].payload["hops"]] == ["scorer"]

        # Erasure (what the ingestor does on customers/redact), and two messages it cannot use.
        gone = key(names[4])
        with store.transaction() as s:
            s.add(Erasure(customer_key=gone, shop="test-shop", requested_at=datetime.now(UTC), source="test"))
            s.execute(delete(Customer).where(Customer.customer_key == gone))
        scorer.send(
            CustomerChanged(gone, "erasure", erased=True).to_envelope(),
            Envelope(type="CustomerChanged", key="x", payload={"customer_key": "short", "cause": "order"}),
            Envelope(type="OrderIngested", key="y", payload={}),
        )
        scorer.wait_handled(6)
        erased = [c for c in scorer.changes(len(changes) + 1) if c.erased]
        assert erased == [LabelChanged(gone, None, previous_label=gone_before.label, erased=True)]
    with store.session() as s:
        assert s.get(Label, gone) is None
        letters = s.scalars(select(DeadLetterRecord).order_by(DeadLetterRecord.id)).all()
    assert sorted((d.consumer, d.field_path) for d in letters) == [
        ("scorer", "payload.customer_key"),
        ("scorer", "type"),
    ]
    assert any("unexpected message type 'OrderIngested'" in d.reason for d in letters)
