"""Dead letters are keyed by envelope id: a new broker reusing offsets cannot hide a refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import select

from shared.bus.consumer import DeadLetter
from shared.store.db import Store, make_engine
from shared.store.messages import SqlDeadLetterSink
from shared.store.migrate import current, downgrade, upgrade
from shared.store.models import DeadLetterRecord


def _letter(offset: int, message_id: str | None, reason: str = "missing") -> DeadLetter:
    return DeadLetter("orders.raw", 0, offset, reason, "order_id", message_id, "RawReceived", "shop/1")


def _rows(store: Store) -> list[tuple[int, str | None, str]]:
    with store.session() as s:
        found = s.scalars(select(DeadLetterRecord).order_by(DeadLetterRecord.id)).all()
        return [(r.offset, r.message_id, r.reason) for r in found]


def test_two_messages_at_the_same_offset_of_two_brokers_are_both_kept(store: Store) -> None:
    sink = SqlDeadLetterSink(store)
    sink.record("ingestor", [_letter(0, "first-import-record", "no_rate (GBP to USD)")])
    sink.record("ingestor", [_letter(0, "second-import-record", "missing")])
    assert _rows(store) == [
        (0, "first-import-record", "no_rate (GBP to USD)"),
        (0, "second-import-record", "missing"),
    ]


def test_a_redelivered_message_is_stored_once_wherever_it_comes_from(store: Store) -> None:
    sink = SqlDeadLetterSink(store)
    sink.record("ingestor", [_letter(7, "m1")])
    sink.record("ingestor", [_letter(7, "m1")])
    sink.record("ingestor", [_letter(900, "m1")])  # the same message refilled at another offset
    sink.record("scorer", [_letter(7, "m1")])  # another consumer's refusal is its own
    assert _rows(store) == [(7, "m1", "missing"), (7, "m1", "missing")]


def test_records_without_an_id_fall_back_to_their_coordinates(store: Store) -> None:
    sink = SqlDeadLetterSink(store)
    sink.record("ingestor", [_letter(3, None, "not_json"), _letter(4, None, "not_json")])
    sink.record("ingestor", [_letter(3, None, "not_json")])  # redelivered
    sink.record("ingestor", [_letter(3, "has-an-id")])  # an id never collides with coordinates
    assert _rows(store) == [(3, None, "not_json"), (4, None, "not_json"), (3, "has-an-id", "missing")]


def _insert(url: str, rows: list[tuple[int, str | None]]) -> None:
    engine = make_engine(url)
    table = sa.table(
        "dead_letters",
        *(sa.column(c) for c in ("consumer", "topic", "partition", "offset", "reason", "message_id")),
        sa.column("created_at"),
    )
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {
                    "consumer": "ingestor",
                    "topic": "orders.raw",
                    "partition": 0,
                    "offset": offset,
                    "reason": "missing",
                    "message_id": message_id,
                    "created_at": datetime.now(UTC),
                }
                for offset, message_id in rows
            ],
        )
    engine.dispose()


def _ids_and_offsets(url: str) -> list[tuple[int, str | None]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        got = conn.execute(sa.text('SELECT "offset", message_id FROM dead_letters ORDER BY id')).all()
    engine.dispose()
    return [(int(offset), message_id) for offset, message_id in got]


def test_migration_keeps_one_letter_per_id_and_back_one_per_offset(database_url: str) -> None:
    upgrade(database_url, "0002")
    # Under the old key one message could be recorded at two offsets (refilled from the outbox).
    _insert(database_url, [(1, "m1"), (2, "m1"), (3, "m2"), (4, None)])
    upgrade(database_url, "0003")
    assert current(database_url) == "0003"
    assert _ids_and_offsets(database_url) == [(1, "m1"), (3, "m2"), (4, None)]
    _insert(database_url, [(1, "from-a-second-broker")])
    downgrade(database_url, "0002")
    assert _ids_and_offsets(database_url) == [(1, "m1"), (3, "m2"), (4, None)]
