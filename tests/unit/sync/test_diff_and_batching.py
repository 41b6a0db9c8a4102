"""The diff and the batches: invariants over random audiences (hypothesis) and the edge cases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.sync.batching import batches, planned_calls
from shared.sync.diff import (
    Change,
    Direction,
    Reason,
    Synced,
    UnsortedInputError,
    count_changes,
    diff,
    replace_set,
    tally,
)
from shared.sync.rows import Member

KEYS = st.text(alphabet="0123456789abcdef", min_size=1, max_size=3)
ROWS = st.sampled_from([("a",), ("b",), ("a", "b")])
VALUES = st.sampled_from([None, Decimal("1.00"), Decimal("2.50")])
AUDIENCE = st.dictionaries(KEYS, st.tuples(ROWS, VALUES), max_size=40)


def members(audience: dict[str, tuple[tuple[str, ...], Decimal | None]]) -> list[Member]:
    return [Member(k, row, value) for k, (row, value) in sorted(audience.items())]


def ledger(
    audience: dict[str, tuple[tuple[str, ...], Decimal | None]], erased: frozenset[str] = frozenset()
) -> list[Synced]:
    return [Synced(k, row, value, k in erased) for k, (row, value) in sorted(audience.items())]


@given(desired=AUDIENCE, synced=AUDIENCE)
def test_applying_the_diff_to_the_ledger_gives_the_desired_audience(desired, synced) -> None:  # type: ignore[no-untyped-def]
    state = dict(synced)
    for change in diff(members(desired), ledger(synced)):
        if change.direction is Direction.ADD:
            state[change.member.key] = (change.member.row, change.member.value)
        else:
            assert state.pop(change.member.key) == (change.member.row, change.member.value)  # the row held
    assert state == desired


@given(audience=AUDIENCE)
def test_nothing_changed_means_no_change(audience) -> None:  # type: ignore[no-untyped-def]
    assert list(diff(members(audience), ledger(audience))) == []


def test_reasons_tell_new_updated_deselected_and_erased_apart() -> None:
    desired = {"a": (("x",), None), "b": (("y2",), None)}
    synced = {"b": (("y",), None), "c": (("z",), None), "d": (("w",), None)}

    changes = list(diff(members(desired), ledger(synced, erased=frozenset({"d"}))))

    assert [(c.member.key, c.direction, c.reason) for c in changes] == [
        ("a", Direction.ADD, Reason.NEW),
        ("b", Direction.ADD, Reason.UPDATED),
        ("c", Direction.REMOVE, Reason.DESELECTED),
        ("d", Direction.REMOVE, Reason.ERASED),
    ]
    plan = count_changes(members(desired), ledger(synced, erased=frozenset({"d"})))
    assert (plan.desired, plan.synced, plan.new, plan.updated, plan.deselected, plan.erased) == (
        2,
        3,
        1,
        1,
        1,
        1,
    )
    assert (plan.adds, plan.removes, plan.total) == (2, 2, 4)


def test_a_value_change_alone_is_an_update() -> None:
    changes = list(diff([Member("a", ("x",), Decimal("2.00"))], [Synced("a", ("x",), Decimal("1.0000"))]))
    assert [c.reason for c in changes] == [Reason.UPDATED]
    assert list(diff([Member("a", ("x",), Decimal("1.00"))], [Synced("a", ("x",), Decimal("1.0000"))])) == []


def test_unsorted_or_duplicate_input_is_refused() -> None:
    with pytest.raises(UnsortedInputError):
        list(diff([Member("b", ()), Member("a", ())], []))
    with pytest.raises(UnsortedInputError):
        list(diff([], [Synced("a", ()), Synced("a", ())]))


def test_small_plans_keep_their_changes_and_big_ones_do_not() -> None:
    desired = members({f"{i:03d}": (("x",), None) for i in range(10)})
    assert len(count_changes(desired, [], keep=10).kept or []) == 10
    assert count_changes(desired, [], keep=9).kept is None
    assert count_changes(desired, []).kept is None


def test_a_resumed_replace_skips_what_its_own_batches_already_sent() -> None:
    desired = members({"a": (("x",), None), "b": (("y",), None), "c": (("z",), None)})
    held = [
        Synced("a", ("x",), None, batch_id=7),
        Synced("b", ("old",), None, batch_id=7),
        Synced("c", ("z",), None, batch_id=3),
    ]

    again = [c.member.key for c in replace_set(desired, held, frozenset({7}))]

    assert again == ["b", "c"]  # a went in batch 7 unchanged; b changed since; c came from another run
    assert all(c.direction is Direction.REPLACE for c in replace_set(desired, held))


CHANGES = st.lists(st.sampled_from([Direction.ADD, Direction.REMOVE]), max_size=120)


@given(directions=CHANGES, size=st.integers(min_value=1, max_value=25))
def test_batches_are_minimal_ordered_and_flag_each_directions_last(directions, size) -> None:  # type: ignore[no-untyped-def]
    changes = [Change(d, Reason.NEW, Member(f"{i:04d}", ())) for i, d in enumerate(directions)]

    out = list(batches(changes, size))

    for direction in (Direction.ADD, Direction.REMOVE):
        mine = [b for b in out if b.direction is direction]
        expected = [c for c in changes if c.direction is direction]
        assert [c for b in mine for c in b.changes] == expected
        assert len(mine) == -(-len(expected) // size)
        assert all(1 <= len(b) <= size for b in mine)
        assert [b.last for b in mine] == [False] * (len(mine) - 1) + [True] * bool(mine)
    adds = directions.count(Direction.ADD)
    assert len(out) == planned_calls(adds, len(directions) - adds, 0, size)


def test_batch_size_is_capped_at_metas_ten_thousand_rows() -> None:
    with pytest.raises(ValueError, match="10000"):
        list(batches([], 10_001))
    rows = [Change(Direction.ADD, Reason.NEW, Member(f"{i:06d}", ())) for i in range(20_001)]
    assert [len(b) for b in batches(rows)] == [10_000, 10_000, 1]


@given(desired=AUDIENCE, synced=AUDIENCE)
def test_counting_while_streaming_gives_the_same_plan(desired, synced) -> None:  # type: ignore[no-untyped-def]
    plan, stream = tally(members(desired), ledger(synced))
    streamed = list(stream)

    assert streamed == list(diff(members(desired), ledger(synced)))
    again = count_changes(members(desired), ledger(synced))
    assert (plan.desired, plan.synced, plan.new, plan.updated, plan.deselected) == (
        again.desired,
        again.synced,
        again.new,
        again.updated,
        again.deselected,
    )
