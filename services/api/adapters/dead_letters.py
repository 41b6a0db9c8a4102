"""Dead letters for the API: list with filters, mark resolved, replay from the source topic.

The table keeps no payload (raw topics hold personal data), so a replay reads the message back
from its source topic at its recorded partition and offset and publishes the same bytes to the
same topic again: every consumer group sees it once more, and those that handled it already drop
it by its envelope id. When the broker no longer holds that offset (retention, or an embedded
broker that restarted) or holds another message there, the answer says so and nothing is sent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update

from shared.bus.envelope import InvalidMessage, decode
from shared.bus.producer import Publisher
from shared.store.audit import record
from shared.store.db import Store
from shared.store.models import DeadLetterRecord

FETCH_TIMEOUT_MS = 3000


def _as_dict(row: DeadLetterRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "consumer": row.consumer,
        "topic": row.topic,
        "partition": row.partition,
        "offset": row.offset,
        "reason": row.reason,
        "field_path": row.field_path,
        "message_id": row.message_id,
        "message_type": row.message_type,
        "created_at": row.created_at,
        "resolved_at": row.resolved_at,
        "resolved_by": row.resolved_by,
        "replayed_at": row.replayed_at,
    }


def search(
    store: Store,
    *,
    consumer: str | None = None,
    topic: str | None = None,
    resolved: bool | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Dead letters newest first with the total count."""
    where = []
    if consumer:
        where.append(DeadLetterRecord.consumer == consumer)
    if topic:
        where.append(DeadLetterRecord.topic == topic)
    if resolved is not None:
        where.append(
            DeadLetterRecord.resolved_at.is_not(None) if resolved else DeadLetterRecord.resolved_at.is_(None)
        )
    if since:
        where.append(DeadLetterRecord.created_at >= since)
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(DeadLetterRecord).where(*where)) or 0
        rows = session.scalars(
            select(DeadLetterRecord)
            .where(*where)
            .order_by(DeadLetterRecord.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        return [_as_dict(r) for r in rows], total


def get(store: Store, letter_id: int) -> dict[str, Any] | None:
    """One dead letter, or None."""
    with store.session() as session:
        row = session.get(DeadLetterRecord, letter_id)
        return None if row is None else _as_dict(row)


def resolve(store: Store, letter_id: int, actor: str) -> dict[str, Any] | None:
    """Mark a dead letter handled (idempotent: the first resolver and time are kept)."""
    now = datetime.now(UTC)
    with store.transaction() as session:
        row = session.get(DeadLetterRecord, letter_id)
        if row is None:
            return None
        if row.resolved_at is None:
            row.resolved_at, row.resolved_by = now, actor
            record(session, actor, "dead_letter.resolved", f"dead_letter:{letter_id}", None, at=now)
        session.flush()
        return _as_dict(row)


def resolve_matching(
    store: Store,
    actor: str,
    *,
    consumer: str | None = None,
    topic: str | None = None,
    reason: str | None = None,
    before: datetime | None = None,
    everything: bool = False,
) -> int:
    """Mark every unresolved dead letter that matches handled, in one statement; how many.

    For the aftermath of a fixed cause (rates loaded, file corrected and imported again): the
    letters of the failed attempt are history, and the dead-letter alert should stop counting
    them. ``reason`` matches part of the reason, in any case (the same on SQLite and PostgreSQL).
    Without a filter nothing is resolved unless ``everything`` says so. One audit entry names the
    filters and the count.
    """
    if not (consumer or topic or reason or before or everything):
        raise ValueError("name a filter, or everything=True")
    now = datetime.now(UTC)
    where: list[ColumnElement[bool]] = [DeadLetterRecord.resolved_at.is_(None)]
    if consumer:
        where.append(DeadLetterRecord.consumer == consumer)
    if topic:
        where.append(DeadLetterRecord.topic == topic)
    if reason:
        where.append(DeadLetterRecord.reason.icontains(reason, autoescape=True))
    if before:
        where.append(DeadLetterRecord.created_at < before)
    matching = update(DeadLetterRecord).where(*where).values(resolved_at=now, resolved_by=actor)
    filters = {
        "consumer": consumer,
        "topic": topic,
        "reason": reason,
        "before": before and before.isoformat(),
    }
    with store.transaction() as session:
        count = int(session.execute(matching).rowcount or 0)  # type: ignore[attr-defined]
        details = {"resolved": count, **{k: v for k, v in filters.items() if v}}
        record(session, actor, "dead_letter.resolved_many", "dead_letters", details, at=now)
    return count


class Replay(enum.StrEnum):
    """What a replay found."""

    REPLAYED = "replayed"
    GONE = "gone"  # the broker no longer holds the offset
    REPLACED = "replaced"  # the offset holds another message (a restarted broker)


@dataclass(frozen=True)
class Fetched:
    """A record read back from the broker."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def fetch(bootstrap: str, topic: str, partition: int, offset: int) -> Fetched | None:
    """The record at ``topic``/``partition``/``offset``, or None when the broker no longer has it."""
    from kafka import KafkaConsumer, TopicPartition

    from shared.bus.consumer import FETCH_LIMITS

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="api-replay",
        enable_auto_commit=False,
        consumer_timeout_ms=FETCH_TIMEOUT_MS,
        **FETCH_LIMITS,  # a dead-lettered webhook may be the largest message there is
    )
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        first = consumer.beginning_offsets([tp]).get(tp, 0)
        end = consumer.end_offsets([tp]).get(tp, 0)
        if offset < first or offset >= end:
            return None
        consumer.seek(tp, offset)
        for rec in consumer:
            if rec.offset == offset:
                return Fetched(rec.key, rec.value, list(rec.headers or []))
            if rec.offset > offset:
                return None
        return None
    finally:
        consumer.close()


def replay(
    store: Store, bootstrap: str, publisher: Publisher, letter_id: int, actor: str
) -> tuple[Replay, str]:
    """Publish the dead letter's message to its source topic again, if the broker still has it."""
    letter = get(store, letter_id)
    assert letter is not None  # the view checks existence first
    where = f"{letter['topic']}[{letter['partition']}]@{letter['offset']}"
    found = fetch(bootstrap, letter["topic"], letter["partition"], letter["offset"])
    if found is None:
        return Replay.GONE, f"the broker no longer holds {where} (retention, or a restarted broker)"
    if letter["message_id"]:
        try:
            message_id = decode(found.value).id
        except InvalidMessage:
            message_id = None
        if message_id != letter["message_id"]:
            return Replay.REPLACED, f"{where} now holds another message; the dead-lettered one is gone"
    publisher.publish_raw(letter["topic"], found.key, found.value, found.headers)
    publisher.flush()
    now = datetime.now(UTC)
    with store.transaction() as session:
        session.execute(
            update(DeadLetterRecord).where(DeadLetterRecord.id == letter_id).values(replayed_at=now)
        )
        record(session, actor, "dead_letter.replayed", f"dead_letter:{letter_id}", {"source": where}, at=now)
    return Replay.REPLAYED, f"published {where} to {letter['topic']} again"
