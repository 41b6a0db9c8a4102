"""Cron slots in a time zone: when the refresh is due, and that downtime is caught up once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.scheduler.schedule import due_slot, latest_slot, next_slot

NIGHTLY = "0 2 * * *"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "latest", "following"),
    [
        (at(2, 1, 59), at(1, 2), at(2, 2)),
        (at(2, 2, 0), at(2, 2), at(3, 2)),
        (at(2, 23, 0), at(2, 2), at(3, 2)),
    ],
)
def test_slots_around_two_am_utc(now: datetime, latest: datetime, following: datetime) -> None:
    assert latest_slot(NIGHTLY, "UTC", now) == latest
    assert next_slot(NIGHTLY, "UTC", now) == following


def test_the_cron_is_read_in_the_configured_zone_across_daylight_saving() -> None:
    # 02:00 in Berlin is 01:00 UTC in winter and 00:00 UTC in summer.
    assert next_slot(NIGHTLY, "Europe/Berlin", at(1, 0)) == at(1, 1)
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert next_slot(NIGHTLY, "Europe/Berlin", summer) == datetime(2026, 7, 2, 0, tzinfo=UTC)


def test_a_fresh_installation_waits_for_its_first_slot() -> None:
    started = at(2, 10)
    assert due_slot(NIGHTLY, "UTC", at(2, 11), started) is None  # the baseline is the start
    assert due_slot(NIGHTLY, "UTC", at(3, 2, 1), started) == at(3, 2)


def test_downtime_over_several_slots_is_caught_up_once_with_the_latest() -> None:
    served = at(1, 2)
    assert due_slot(NIGHTLY, "UTC", at(4, 10), served) == at(4, 2)
    assert due_slot(NIGHTLY, "UTC", at(4, 10), at(4, 2)) is None


def test_a_served_slot_is_not_due_again() -> None:
    assert due_slot(NIGHTLY, "UTC", at(2, 2, 30), at(2, 2)) is None
