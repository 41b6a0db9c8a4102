"""The store on SQLite and PostgreSQL: migrations, time zones, bus adapters, outbox relay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from shared.bus.broker import EmbeddedBroker
from shared.bus.consumer import DeadLetter
from shared.bus.envelope import Envelope, decode
from shared.bus.producer import MAX_MESSAGE_BYTES, Publisher, PublishError
from shared.bus.topics import LABELS_CHANGED, ORDERS_RAW
from shared.store.db import Store
from shared.store.messages import SqlDeadLetterSink, SqlSeenMessages, mark_handled
from shared.store.migrate import current, downgrade, upgrade
from shared.store.models import Base, Customer, DeadLetterRecord, Order, OutboxMessage
from shared.store.outbox import add_to_outbox, pending_count, prune_outbox, redeliver, relay_outbox

pytestmark = pytest.mark.integration


def test_migrations_upgrade_from_empty_and_downgrade_back(database_url: str) -> None:
    assert current(database_url) is None
    upgrade(database_url)
    db = Store(database_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        downgrade(database_url, "base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    finally:
        db.dispose()


def test_models_and_migrations_agree(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_times_come_back_timezone_aware_utc_and_money_exact(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    at = datetime(2026, 3, 1, 12, 0, tzinfo=paris)
    with store.transaction() as s:
        s.add(Customer(customer_key="c" * 64, shop="s", first_seen_at=at, updated_at=at))
        s.add(
            Order(
                shop="s",
                order_id="1",
                customer_key="c" * 64,
                created_at=at,
                updated_at=at,
                currency="EUR",
                gross=Decimal("19.99"),
                gross_base=Decimal("21.6292"),
                source="import",
                ingested_at=at,
            )
        )
    with store.session() as s:
        order = s.scalars(select(Order)).one()
    assert order.created_at == at and order.created_at.tzinfo is not None
    assert order.created_at.utcoffset() == timedelta(0)
    assert order.gross_base == Decimal("21.6292")


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.transaction() as s:
        s.add(
            Customer(
                customer_key="d" * 64,
                shop="s",
                first_seen_at=datetime(2026, 1, 1),
                updated_at=datetime.now(UTC),
            )
        )


def test_seen_messages_remember_ids_per_consumer(store: Store) -> None:
    seen = SqlSeenMessages(store)
    ids = [uuid.uuid4().hex for _ in range(1200)]
    seen.mark("ingestor", ids[:700])
    seen.mark("ingestor", ids[:10])  # marking twice is harmless
    assert seen.seen("ingestor", ids) == set(ids[:700])
    assert seen.seen("scorer", ids) == set()
    assert seen.prune(timedelta(seconds=-1)) == 700


def test_a_redelivery_marked_among_new_ids_keeps_the_transactions_other_writes(store: Store) -> None:
    """PostgreSQL copies the ids straight in and falls back to skipping stored ones under a
    savepoint: the fallback must not undo what the transaction wrote before."""
    seen = SqlSeenMessages(store)
    ids = [uuid.uuid4().hex for _ in range(300)]
    seen.mark("ingestor", ids[100:200])
    with store.transaction() as session:
        mark_handled(session, "scorer", ids[:50])
        mark_handled(session, "ingestor", ids)  # a third of them stored already
    assert seen.seen("ingestor", ids) == set(ids)
    assert seen.seen("scorer", ids) == set(ids[:50])


def test_dead_letters_are_stored_once_per_source_offset(store: Store) -> None:
    sink = SqlDeadLetterSink(store)
    letter = DeadLetter(
        "orders.raw", 2, 41, "gross: must not be negative", "gross", "m1", "OrderReceived", "k"
    )
    sink.record("ingestor", [letter])
    sink.record("ingestor", [letter])
    with store.session() as s:
        rows = s.scalars(select(DeadLetterRecord)).all()
    assert [(r.offset, r.reason, r.field_path) for r in rows] == [
        (41, "gross: must not be negative", "gross")
    ]


def test_outbox_publishes_only_committed_messages(store: Store, broker: EmbeddedBroker, new_topic) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaConsumer

    topic = new_topic("outbox", partitions=1)
    committed = Envelope(type="CustomerChanged", key="k1", payload={})
    with store.transaction() as s:
        add_to_outbox(s, topic, [committed])

    def rolled_back() -> None:
        with store.transaction() as s:
            add_to_outbox(s, topic, [Envelope(type="CustomerChanged", key="k2", payload={})])
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        rolled_back()
    with Publisher(broker.bootstrap) as pub:
        assert relay_outbox(store, pub) == 1
        assert relay_outbox(store, pub) == 0
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    got = [decode(r.value) for r in consumer]
    consumer.close()
    assert [e.id for e in got] == [committed.id]
    with store.session() as s:
        row = s.scalars(select(OutboxMessage)).one()
    assert row.message_id == committed.id and row.published_at is not None


def test_outbox_keeps_a_message_until_its_consumers_handled_it(store: Store, broker: EmbeddedBroker) -> None:
    """A published row survives until every group of its topic marked it; then prune forgets it."""
    change = Envelope(type="LabelChanged", key="k1", payload={})
    with store.transaction() as s:
        add_to_outbox(s, LABELS_CHANGED, [change])
    seen = SqlSeenMessages(store)
    with Publisher(broker.bootstrap) as pub:
        assert relay_outbox(store, pub) == 1
        assert prune_outbox(store) == 0
        # The broker lost its log: everything not yet handled goes out again, once per call.
        assert redeliver(store, pub, after=timedelta(0)) == 1
        seen.mark("syncer-meta", [change.id])
        assert prune_outbox(store) == 0  # syncer-google has not handled it yet
        seen.mark("syncer-google", [change.id])
        assert redeliver(store, pub, after=timedelta(0)) == 0
    assert prune_outbox(store) == 1
    with store.session() as s:
        assert s.scalars(select(OutboxMessage)).all() == []


def test_outbox_rows_stay_pending_when_the_broker_refuses_them(store: Store, broker: EmbeddedBroker) -> None:
    """A publish that fails releases the claim: the row is still pending for the next pass."""
    too_large = Envelope(type="RawReceived", key="k", payload={"body_b64": "A" * MAX_MESSAGE_BYTES})
    with store.transaction() as s:
        add_to_outbox(s, ORDERS_RAW, [too_large])
    with Publisher(broker.bootstrap) as pub, pytest.raises(PublishError):
        relay_outbox(store, pub)
    assert pending_count(store) == 1
