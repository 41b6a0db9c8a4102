"""What an adapter declares (caps, row format) is what the engine and the fake enforce."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.sync.batching import Batch, batches
from shared.sync.diff import Change, Direction, Reason
from shared.sync.membership import CustomerView
from shared.sync.ports import Caps, check_batch
from shared.sync.rows import Member, RowFormat, to_member

GOOGLE_LIKE = RowFormat(
    "google-dm", ("email", "phone", "country_code"), frozenset({"email", "phone"}), None, 10
)


def change(i: int, direction: Direction = Direction.ADD) -> Change:
    return Change(direction, Reason.NEW, Member(f"{i:064d}", ("e" * 64, "", "")))


def test_a_row_format_with_more_columns_than_the_platform_takes_is_refused() -> None:
    with pytest.raises(ValueError, match="more columns"):
        RowFormat("x", tuple(f"c{i}" for i in range(11)), frozenset({"c0"}), max_identifiers=10)
    with pytest.raises(ValueError, match="strong"):
        RowFormat("x", ("a",), frozenset({"b"}))


def test_rows_follow_the_adapters_columns_and_need_a_strong_identifier() -> None:
    customer = CustomerView("k", "icp", None, Decimal("3.456"), True, None, {"phone": "p", "zip": "z"})
    assert to_member(customer, GOOGLE_LIKE, value_based=False) == Member("k", ("", "p", ""))
    no_strong = CustomerView("k", "icp", None, None, True, None, {"country_code": "c"})
    assert to_member(no_strong, GOOGLE_LIKE, value_based=False) is None
    assert GOOGLE_LIKE.schema(value_based=True) == GOOGLE_LIKE.columns  # no value column: none sent


def test_batches_are_cut_at_the_adapters_cap_and_a_bigger_batch_is_refused() -> None:
    caps = Caps(max_rows=100_000)  # Google Ads API operations per request
    cut = list(batches((change(i) for i in range(200_001)), 100_000, cap=caps.max_rows))
    assert [len(b) for b in cut] == [100_000, 100_000, 1] and cut[-1].last
    with pytest.raises(ValueError, match="between 1 and 100000"):
        list(batches([change(0)], 100_001, cap=caps.max_rows))
    with pytest.raises(ValueError, match="cap is 2"):
        check_batch(Caps(2), GOOGLE_LIKE, Batch(Direction.ADD, tuple(change(i) for i in range(3)), last=True))
    with pytest.raises(ValueError, match="no replace"):
        check_batch(
            Caps(2), GOOGLE_LIKE, Batch(Direction.REPLACE, (change(0, Direction.REPLACE),), last=True)
        )
