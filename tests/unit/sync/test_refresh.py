"""Members sent long ago are sent again unchanged, before the platform lets them lapse."""

from __future__ import annotations

from shared.sync.diff import Direction, Reason, Synced, count_changes, diff
from shared.sync.rows import Member


def test_a_stale_ledger_row_is_refreshed_and_a_fresh_one_is_not() -> None:
    desired = [Member("a", ("x",)), Member("b", ("y",)), Member("c", ("z",))]
    synced = [Synced("a", ("x",), stale=True), Synced("b", ("y",)), Synced("c", ("old",), stale=True)]
    changes = list(diff(desired, synced))
    assert [(c.member.key, c.direction, c.reason) for c in changes] == [
        ("a", Direction.ADD, Reason.REFRESHED),
        ("c", Direction.ADD, Reason.UPDATED),  # changed rows are updates, whatever their age
    ]
    plan = count_changes(desired, synced)
    assert (plan.refreshed, plan.updated, plan.adds) == (1, 1, 2)


def test_a_stale_row_no_longer_desired_is_removed_not_refreshed() -> None:
    changes = list(diff([], [Synced("a", ("x",), stale=True)]))
    assert [(c.direction, c.reason) for c in changes] == [(Direction.REMOVE, Reason.DESELECTED)]
