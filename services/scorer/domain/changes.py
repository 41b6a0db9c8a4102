"""Decide which rescored customers are worth a ``labels.changed`` message.

A change is material when the label or the stage differs, or the predicted value moved by more
than ``value_relative`` of the previous value and more than ``value_absolute``: value-based
audiences re-upload on value moves, so small drifts must not flood the syncers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.scorer.domain.scoring import LabelSnapshot
from shared.definitions.scoring import MaterialChange

BoolArray = npt.NDArray[np.bool_]


def material_change(previous: LabelSnapshot, current: LabelSnapshot, tolerance: MaterialChange) -> BoolArray:
    """One flag per row of ``current``: True when it differs materially from ``previous``.

    Rows are matched by ``customer_key`` (any order); a customer absent from ``previous`` is a
    change. Keys must be unique within each snapshot.
    """
    n = len(current.customer_key)
    changed = np.ones(n, dtype=bool)
    if len(previous.customer_key) == 0 or n == 0:
        return changed
    if len(previous.customer_key) == n and np.array_equal(previous.customer_key, current.customer_key):
        rows = prev = np.arange(n)  # same customers in the same order: the usual full rescore
    else:
        order = np.argsort(previous.customer_key, kind="stable")
        sorted_keys = previous.customer_key[order]
        pos = np.minimum(np.searchsorted(sorted_keys, current.customer_key), len(order) - 1)
        rows = np.flatnonzero(sorted_keys[pos] == current.customer_key)
        prev = order[pos[rows]]

    before, after = previous.value[prev], current.value[rows]
    moved = np.abs(after - before)
    limit = np.maximum(tolerance.value_relative * np.abs(before), tolerance.value_absolute)
    value_moved = (moved > limit) | (np.isfinite(before) != np.isfinite(after))
    changed[rows] = (
        (previous.label[prev] != current.label[rows])
        | (previous.stage[prev] != current.stage[rows])
        | value_moved
    )
    return changed
