"""The incident lifecycle, pure: open, keep, resolve; which message is due; the backoff."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.alerts.domain.incidents import Incident, Message, backoff, due_message, plan
from services.alerts.domain.messages import incident_body
from services.alerts.domain.rules import AlertKind, Condition

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def test_plan_opens_what_started_keeps_what_lasts_and_resolves_what_cleared() -> None:
    current = [Condition("a", AlertKind.SHRINK, "a"), Condition("b", AlertKind.SHRINK, "b")]
    change = plan({"b", "c"}, current)
    assert [c.key for c in change.open] == ["a"] and change.keep == ["b"] and change.resolve == ["c"]


@pytest.mark.parametrize(
    ("incident", "expected"),
    [
        (Incident(1, "k", "shrink", "t", NOW), Message.OPENED),
        (Incident(1, "k", "shrink", "t", NOW, notified_at=NOW), None),  # never again while open
        (Incident(1, "k", "shrink", "t", NOW, LATER, NOW), Message.RESOLVED),
        (Incident(1, "k", "shrink", "t", NOW, LATER, NOW, LATER), None),
        (Incident(1, "k", "shrink", "t", NOW, LATER), None),  # cleared before anyone heard of it
        (Incident(1, "k", "shrink", "t", NOW, retry_at=LATER + timedelta(seconds=1)), None),  # backing off
        (Incident(1, "k", "shrink", "t", NOW, retry_at=LATER), Message.OPENED),
    ],
)
def test_the_due_message(incident: Incident, expected: Message | None) -> None:
    assert due_message(incident, LATER) == expected


def test_backoff_doubles_from_under_a_minute_up_to_an_hour() -> None:
    waits = [backoff(n).total_seconds() for n in range(1, 10)]
    assert waits[:4] == [30, 60, 120, 240] and waits[-1] == 3600
    assert all(a <= b for a, b in itertools.pairwise(waits))


def test_bodies_are_slack_incoming_webhook_json_with_a_full_text_fallback() -> None:
    incident = Incident(1, "shrink:meta:act_1:icp_seed", "shrink", "icp_seed shrank", NOW, LATER, NOW)
    opened = incident_body(incident, Message.OPENED, "shop-a")
    resolved = incident_body(incident, Message.RESOLVED, "shop-a")
    assert "icp_seed shrank" in opened["text"] and "shop-a" in opened["text"]
    assert "Resolved" in resolved["text"] and "Resolved" not in opened["text"]
    assert [b["type"] for b in opened["blocks"]] == ["section", "context"]
    assert set(opened) == {"text", "blocks"}
