"""Backtest: score as of a past date, then check the lists against what customers did next.

Nothing is stored: the customers are scored from facts up to the calibration end (the same
aggregation and domain as a real rescore), and the following period's orders (placed after the
calibration end, up to the holdout end, net of their refunds by then) are aggregated separately.
The population is every customer who had bought by the calibration end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from services.scorer.adapters.aggregates import load_aggregates
from services.scorer.adapters.label_reads import last_order_at
from services.scorer.domain import CustomerAggregates, score
from services.scorer.domain.backtest import BacktestResult, backtest
from shared.definitions.scoring import ScoringConfig
from shared.store.db import Store


class NothingToBacktestError(ValueError):
    """No customer had bought by the calibration end, or no order came after it."""


@dataclass(frozen=True)
class BacktestRun:
    """A backtest's window, what the scoring said then, and the metrics."""

    calibration_end: datetime
    holdout_end: datetime
    method: str
    labels: Counter[str]
    later_buyers: int
    result: BacktestResult


def _aligned(later: CustomerAggregates, keys: np.ndarray) -> CustomerAggregates:
    """``later`` in the row order of ``keys`` (customers created meanwhile dropped)."""
    if np.array_equal(later.customer_key, keys):
        return later
    index = {key: i for i, key in enumerate(later.customer_key.tolist())}
    return later.take(np.array([index[k] for k in keys.tolist()], dtype=np.intp))


def run_backtest(
    store: Store, config: ScoringConfig, calibration_end: datetime, holdout_end: datetime | None = None
) -> BacktestRun:
    """Score as of ``calibration_end``; measure against orders up to ``holdout_end`` (default: the last)."""
    with store.session() as session:
        end = holdout_end or last_order_at(session)
        if end is None or end <= calibration_end:
            raise NothingToBacktestError("no order was placed after the calibration end")
        then = load_aggregates(session, calibration_end)
        later = load_aggregates(session, end, orders_after=calibration_end)
    buyers = then.n_orders > 0
    if not buyers.any():
        raise NothingToBacktestError("no customer had ordered by the calibration end")
    then = then.take(buyers)
    later = _aligned(later, then.customer_key)
    scored = score(then, config, calibration_end)
    later_net = later.gross_total - later.refunded_total
    result = backtest(
        predicted=scored.value,
        historical=scored.features.ltv,
        later_net=later_net,
        later_gross=later.gross_total,
        later_refunded=later.refunded_total,
        icp=scored.label == "icp",
        negative=scored.label == "negative_icp",
    )
    return BacktestRun(
        calibration_end=calibration_end,
        holdout_end=end,
        method=scored.calibration.model.method,
        labels=Counter(scored.label.tolist()),
        later_buyers=int((later.n_orders > 0).sum()),
        result=result,
    )
