"""Store adapters for the bus: redelivery de-duplication and dead letters (the outbox: ``outbox.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.bus.consumer import DeadLetter
from shared.store.db import Store
from shared.store.dialect import among, insert_ignoring_conflicts
from shared.store.models import DeadLetterRecord, ProcessedMessage

_CHUNK = 500  # bound the IN (...) list; SQLite's variable limit is 32766 but plans degrade earlier


class SqlSeenMessages:
    """``SeenMessages`` backed by the ``processed_messages`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def seen(self, consumer: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` this consumer already handled."""
        found: set[str] = set()
        with self.store.session() as session:
            for start in range(0, len(ids), _CHUNK):
                chunk = list(ids[start : start + _CHUNK])
                rows = session.scalars(
                    select(ProcessedMessage.message_id).where(
                        ProcessedMessage.consumer == consumer,
                        among(session, ProcessedMessage.message_id, chunk),
                    )
                )
                found.update(rows)
        return found

    def mark(self, consumer: str, ids: Sequence[str]) -> None:
        """Remember ``ids`` as handled by this consumer."""
        with self.store.transaction() as session:
            mark_handled(session, consumer, ids)

    def prune(self, older_than: timedelta) -> int:
        """Forget ids older than the topics' retention (redeliveries cannot be that old)."""
        cutoff = datetime.now(UTC) - older_than
        with self.store.transaction() as session:
            result = session.execute(delete(ProcessedMessage).where(ProcessedMessage.processed_at < cutoff))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SqlDeadLetterSink:
    """``DeadLetterSink`` writing to the ``dead_letters`` table, idempotent per envelope id.

    Offsets are not a message's name: a new broker (every embedded ``import`` starts one) hands
    out offset 0 again, and keying on it dropped a later import's refusals as "already stored".
    Only a record that had no decodable id is keyed by its source coordinates.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, consumer: str, letters: Sequence[DeadLetter]) -> None:
        """Persist dead letters; a redelivered one (same id, or same place without one) is stored once."""
        with self.store.transaction() as session:
            record_dead_letters(session, consumer, letters)


def mark_handled(session: Session, consumer: str, ids: Sequence[str]) -> None:
    """Remember ``ids`` as handled by ``consumer`` in the caller's transaction (a handler that
    names the records inside its messages marks them with their effects)."""
    now = datetime.now(UTC)
    rows = [{"consumer": consumer, "message_id": i, "processed_at": now} for i in dict.fromkeys(ids)]
    table = ProcessedMessage.__table__
    insert_ignoring_conflicts(session, table, rows, conflicts_rare=True)  # type: ignore[arg-type]


def record_dead_letters(session: Session, consumer: str, letters: Sequence[DeadLetter]) -> None:
    """Store dead letters in the caller's transaction, once per envelope id (or place)."""
    rows = [
        {
            "consumer": consumer,
            "topic": d.topic,
            "partition": d.partition,
            "offset": d.offset,
            "reason": d.reason,
            "field_path": d.field_path,
            "message_id": d.message_id,
            "message_type": d.message_type,
            "key": d.key,
            "created_at": d.at,
        }
        for d in letters
    ]
    insert_ignoring_conflicts(session, DeadLetterRecord.__table__, rows)  # type: ignore[arg-type]
