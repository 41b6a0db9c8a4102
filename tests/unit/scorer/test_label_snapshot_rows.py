"""Where the stored labels' rows land in a snapshot: runs in key order, or anything else."""

from __future__ import annotations

import numpy as np

from services.scorer.adapters.labels import _InOrder

KEYS = np.array([f"{i:04x}" for i in range(0, 40, 2)], dtype=object)  # sorted, every other key


def test_a_run_of_the_keys_takes_their_rows() -> None:
    assert _InOrder(KEYS).positions(list(KEYS[3:9])).tolist() == list(range(3, 9))


def test_a_chunk_out_of_order_or_with_unknown_keys_is_looked_up_key_by_key() -> None:
    ordered = _InOrder(KEYS)
    assert ordered.positions([KEYS[5], KEYS[4], KEYS[6]]).tolist() == [5, 4, 6]
    assert ordered.positions([KEYS[1], "0003", KEYS[2]]).tolist() == [1, -1, 2]
    assert ordered.positions(["zzzz"]).tolist() == [-1]
    assert ordered.positions([KEYS[0], KEYS[1]]).tolist() == [0, 1]  # a run again after those
