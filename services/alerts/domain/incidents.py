"""An incident's life: opened when its condition starts, resolved when it clears, each told once.

Pure decisions over plain data; ``adapters/incidents.py`` applies them to ``alert_incidents``.
A message that could not be delivered is due again after a backoff that doubles per failure
(``RETRY_FIRST`` up to ``RETRY_LONGEST``), so a receiver that is down is tried on a later check
rather than hammered, and the caller (the scheduler's loop) never waits on it.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.alerts.domain.rules import Condition

RETRY_FIRST = timedelta(seconds=30)  # under the check cadence: the next check retries
RETRY_LONGEST = timedelta(hours=1)


class Message(enum.StrEnum):
    """Which message of an incident is due."""

    OPENED = "opened"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Plan:
    """What one check changes: incidents to open, keep open, and resolve."""

    open: Sequence[Condition]
    keep: Sequence[str]
    resolve: Sequence[str]


def plan(open_keys: Collection[str], current: Sequence[Condition]) -> Plan:
    """Open what started, keep what lasts, resolve what cleared."""
    now_keys = {c.key for c in current}
    return Plan(
        open=[c for c in current if c.key not in open_keys],
        keep=sorted(k for k in open_keys if k in now_keys),
        resolve=sorted(k for k in open_keys if k not in now_keys),
    )


@dataclass(frozen=True)
class Incident:
    """An ``alert_incidents`` row as the delivery decision needs it."""

    id: int
    key: str
    kind: str
    text: str
    opened_at: datetime
    resolved_at: datetime | None = None
    notified_at: datetime | None = None
    resolved_notified_at: datetime | None = None
    attempts: int = 0
    retry_at: datetime | None = None


def due_message(incident: Incident, now: datetime) -> Message | None:
    """The message to send now, if any.

    An incident resolved before its opening message ever got through is not announced at all:
    a "resolved" for an alert nobody saw would only confuse.
    """
    if incident.retry_at is not None and incident.retry_at > now:
        return None  # backing off, or another sender holds the lease
    if incident.notified_at is None:
        return Message.OPENED if incident.resolved_at is None else None
    if incident.resolved_at is not None and incident.resolved_notified_at is None:
        return Message.RESOLVED
    return None


def backoff(attempts: int) -> timedelta:
    """How long to wait after ``attempts`` failed deliveries in a row."""
    wait: timedelta = RETRY_FIRST * 2 ** max(attempts - 1, 0)
    return min(wait, RETRY_LONGEST)
