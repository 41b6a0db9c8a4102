"""``LabelChanged`` messages into the outbox in bulk (a full rescore may announce a million).

Same rows as ``shared.store.outbox.add_to_outbox``, written with chunked Core inserts instead
of ORM objects, so announcing every customer of a first full rescore takes seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import islice

from sqlalchemy import insert
from sqlalchemy.orm import Session

from shared.bus.topics import LABELS_CHANGED
from shared.messages import LabelChanged
from shared.store.models import OutboxMessage
from shared.store.outbox import outbox_row

CHUNK = 20_000


def queue_label_changes(session: Session, changes: Iterable[LabelChanged]) -> int:
    """Queue ``labels.changed`` messages in the caller's transaction; returns how many."""
    now = datetime.now(UTC)
    pending = iter(changes)
    total = 0
    while chunk := list(islice(pending, CHUNK)):
        rows = [outbox_row(LABELS_CHANGED, c.to_envelope(), now) for c in chunk]
        session.execute(insert(OutboxMessage), rows)
        total += len(rows)
    return total
