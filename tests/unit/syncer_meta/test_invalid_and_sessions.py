"""Invalid entries mapped back to customers; upload sessions continued after a resume."""

from __future__ import annotations

import json

from services.syncer_meta.adapters.invalid_samples import invalid_entries
from services.syncer_meta.adapters.sessions import Sessions
from shared.sync.diff import Direction
from shared.sync.ledger import BatchRecord
from shared.sync.ports import InvalidEntry
from shared.sync.rows import Member

A, B, C = "a" * 64, "b" * 64, "c" * 64
MEMBERS = [Member("k1", (A, "", "1234"), None), Member("k2", (B, C, ""), None)]


def test_samples_as_a_map_of_rows_are_mapped_to_their_customers() -> None:
    samples = {json.dumps([B, C, ""], separators=(",", ":")): "PHONE: bad", "[1,2]": "arity"}
    assert invalid_entries(samples, MEMBERS) == [
        InvalidEntry("k2", "PHONE: bad"),
        InvalidEntry(None, "arity"),
    ]


def test_samples_quoting_a_single_hash_or_as_a_list_are_mapped_too() -> None:
    assert invalid_entries([f"row with {A.upper()}"], MEMBERS) == [InvalidEntry("k1", "invalid entry")]
    assert invalid_entries([{"entry": C, "reason": "ZIP"}], MEMBERS) == [InvalidEntry("k2", "ZIP")]
    assert invalid_entries(None, MEMBERS) == []


def test_sessions_continue_after_a_resume_and_renew_when_closed() -> None:
    recorded = [
        BatchRecord(1, 1, "add", 10, "111", "acknowledged"),
        BatchRecord(2, 2, "remove", 10, "222", "acknowledged"),
        BatchRecord(3, 3, "add", 10, "111", "unconfirmed"),
    ]
    sessions = Sessions([b.sent() for b in recorded])

    assert sessions.next(Direction.ADD) == (111, 3)
    assert sessions.next(Direction.REMOVE) == (222, 2)
    fresh, _ = sessions.next(Direction.REPLACE)
    assert fresh not in (111, 222) and sessions.next(Direction.REPLACE) == (fresh, 1)
    renewed, count = sessions.renew(Direction.ADD)
    assert count == 0 and sessions.next(Direction.ADD) == (renewed, 1)
    sessions.sent(Direction.ADD, renewed)
    assert sessions.next(Direction.ADD) == (renewed, 2)
