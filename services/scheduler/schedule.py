"""When the nightly refresh is due: cron slots read in the configured time zone (pure).

A *slot* is one cron time, in UTC. The refresh for a slot is due once ``now`` has reached it and
no refresh has served it or a later slot (the baseline). After downtime only the latest missed
slot is due, so a scheduler that was down for three nights refreshes once, not three times. An
installation that has never refreshed waits for its next slot rather than refreshing the moment
it first starts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

_EPSILON = timedelta(microseconds=1)


def latest_slot(cron: str, zone: str, now: datetime) -> datetime:
    """The most recent cron time at or before ``now`` (aware UTC)."""
    local = now.astimezone(ZoneInfo(zone))
    previous: datetime = croniter(cron, local + _EPSILON).get_prev(datetime)
    return previous.astimezone(UTC)


def next_slot(cron: str, zone: str, now: datetime) -> datetime:
    """The first cron time strictly after ``now`` (aware UTC)."""
    local = now.astimezone(ZoneInfo(zone))
    following: datetime = croniter(cron, local).get_next(datetime)
    return following.astimezone(UTC)


def due_slot(cron: str, zone: str, now: datetime, baseline: datetime) -> datetime | None:
    """The slot to refresh now, or None: the latest slot, if it is after ``baseline``.

    ``baseline`` is the newest slot a refresh served (any replica), or, before any, the moment
    from which slots count (``services.scheduler.refresh.baseline``).
    """
    slot = latest_slot(cron, zone, now)
    return slot if slot > baseline else None
