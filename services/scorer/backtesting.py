"""Backtest: score as of a past date, then check the lists against what customers did next.

Nothing is stored: the customers are scored from facts up to the calibration end (the same
aggregation and domain as a real rescore), and the following period's orders (placed after the
calibration end, up to the holdout end, net of their refunds by then) are aggregated separately.
The population is every customer who had bought by the calibration end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from services.scorer.adapters.aggregates import load_aggregates
from services.scorer.adapters.label_reads import last_order_at
from services.scorer.domain import CustomerAggregates, learned, score
from services.scorer.domain.backtest import BacktestResult, backtest, bootstrap_intervals, ranking_metrics
from services.scorer.domain.model import predict_value
from services.scorer.domain.value_choice import BASELINE, History, ValueChoice, blend, choose
from services.scorer.history import load_history
from shared.definitions.scoring import ScoringConfig
from shared.store.db import Store


class NothingToBacktestError(ValueError):
    """No customer had bought by the calibration end, or no order came after it."""


@dataclass(frozen=True)
class ModelComparison:
    """The value models side by side on the holdout: metrics with 95% bootstrap intervals."""

    chosen: str
    reason: str
    metrics: dict[str, dict[str, float]]  # candidate -> metric -> value
    intervals: dict[str, dict[str, tuple[float, float]]]
    samples: int


@dataclass(frozen=True)
class BacktestRun:
    """A backtest's window, what the scoring said then, and the metrics."""

    calibration_end: datetime
    holdout_end: datetime
    method: str
    labels: Counter[str]
    later_buyers: int
    result: BacktestResult
    models: ModelComparison | None = None


def bootstrap_samples(customers: int) -> int:
    """Resamples for the intervals: fewer on a large shop, where they are narrow anyway."""
    return 200 if customers <= 100_000 else 30


def compare_models(
    then: CustomerAggregates,
    history: History | None,
    config: ScoringConfig,
    as_of: datetime,
    later_net: np.ndarray,
) -> tuple[ValueChoice, ModelComparison]:
    """Every candidate's ranking of ``then``'s buyers against ``later_net``, and the scorer's choice."""
    baseline_config = replace(config, model=replace(config.model, learned=False))
    btyd = score(then, baseline_config, as_of)
    choice = (
        choose(history, config.model, train_anyway=True)
        if history is not None and config.model.learned
        else ValueChoice(BASELINE, "no backtest: learned model off, small shop or short history")
    )
    rankings: dict[str, np.ndarray] = {BASELINE: btyd.value}
    if choice.learned is not None:
        f, model = btyd.features, btyd.calibration.model
        features_btyd = predict_value(
            model, f, replace(config.model, horizon_days=choice.learned.horizon_days)
        )
        learned_value = learned.predict(choice.learned, then, f, features_btyd, config.model.horizon_days)
        rankings |= {"learned": learned_value, "blend": blend(btyd.value, learned_value)}
    metrics = {name: ranking_metrics(v, later_net) for name, v in rankings.items()}
    samples = bootstrap_samples(len(later_net))
    intervals = bootstrap_intervals(rankings, later_net, samples=samples, seed=config.model.seed)
    return choice, ModelComparison(choice.method, choice.reason, metrics, intervals, samples)


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
        history = load_history(session, then, calibration_end, config.model)
    later = _aligned(later, then.customer_key)
    later_net = later.gross_total - later.refunded_total
    choice, models = compare_models(then, history, config, calibration_end, later_net)
    scored = score(then, config, calibration_end, value_choice=choice)
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
        models=models,
    )
