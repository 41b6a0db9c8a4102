"""Backtest metrics: did the lists picked at a past date capture the revenue that followed?

Inputs are one row per customer who had bought by the calibration end: the predicted value and
historical spend then, and the net revenue, gross and refunds of the orders they placed in the
following period. A list's capture is its share of that period's net revenue; a random list of
the same size captures its size share in expectation; the plain baseline ranks by historical
spend and takes the same number of customers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

FRACTIONS = (0.05, 0.10, 0.20)


@dataclass(frozen=True)
class Capture:
    """One list's share of the following period's net revenue, beside its baselines."""

    name: str
    customers: int
    customer_share: float  # = what a random list of this size captures in expectation
    revenue_share: float
    historical_share: float  # the same number of customers ranked by historical spend

    @property
    def lift_vs_random(self) -> float:
        """Revenue share over size share (1.0 = no better than random)."""
        return self.revenue_share / self.customer_share if self.customer_share > 0 else math.nan


@dataclass(frozen=True)
class NegativeCheck:
    """The negative-ICP list's later revenue and returns against everyone else's."""

    customers: int
    revenue_per_customer: float
    rest_revenue_per_customer: float
    return_rate: float  # refunds / gross of the orders placed in the following period
    rest_return_rate: float


@dataclass(frozen=True)
class BacktestResult:
    """Captures for the ICP list and the top fractions by predicted value; the negative check."""

    customers: int
    revenue: float
    captures: tuple[Capture, ...]
    negative: NegativeCheck


def top(scores: FloatArray, count: int) -> BoolArray:
    """The ``count`` highest scores (NaN last; ties in row order)."""
    mask = np.zeros(len(scores), dtype=bool)
    if count > 0:
        order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
        mask[order[:count]] = True
    return mask


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def backtest(
    predicted: FloatArray,
    historical: FloatArray,
    later_net: FloatArray,
    later_gross: FloatArray,
    later_refunded: FloatArray,
    icp: BoolArray,
    negative: BoolArray,
    fractions: tuple[float, ...] = FRACTIONS,
) -> BacktestResult:
    """Capture of the ICP list and of the top ``fractions`` by predicted value; negative check."""
    n = len(predicted)
    revenue = float(later_net.sum())

    def capture(name: str, chosen: BoolArray) -> Capture:
        count = int(chosen.sum())
        baseline = top(historical, count)
        return Capture(
            name,
            count,
            _ratio(count, n),
            _ratio(float(later_net[chosen].sum()), revenue),
            _ratio(float(later_net[baseline].sum()), revenue),
        )

    captures = [capture("ICP list", icp)]
    for fraction in fractions:
        chosen = top(predicted, math.ceil(fraction * n))
        captures.append(capture(f"top {fraction:.0%} by value", chosen))
    rest = ~negative
    check = NegativeCheck(
        int(negative.sum()),
        _ratio(float(later_net[negative].sum()), float(negative.sum())),
        _ratio(float(later_net[rest].sum()), float(rest.sum())),
        _ratio(float(later_refunded[negative].sum()), float(later_gross[negative].sum())),
        _ratio(float(later_refunded[rest].sum()), float(later_gross[rest].sum())),
    )
    return BacktestResult(n, revenue, tuple(captures), check)


def capture(scores: FloatArray, actual: FloatArray, fraction: float) -> float:
    """Share of ``actual``'s total taken by the top ``fraction`` of customers by ``scores``."""
    total = float(actual.sum())
    chosen = top(scores, math.ceil(fraction * len(scores)))
    return float(actual[chosen].sum()) / total if total > 0 else math.nan


def normalized_gini(scores: FloatArray, actual: FloatArray) -> float:
    """Gini of ``actual`` ordered by ``scores``, over the Gini of the perfect order (1 = perfect)."""

    def gini(order_by: FloatArray) -> float:
        order = np.argsort(-np.nan_to_num(order_by, nan=-np.inf), kind="stable")
        cumulative = np.cumsum(actual[order]) / actual.sum()
        n = len(actual)
        return float(cumulative.sum() / n - (n + 1) / (2 * n))

    if len(actual) < 2 or actual.sum() <= 0:
        return math.nan
    best = gini(actual)
    return gini(scores) / best if best else math.nan


def spearman(scores: FloatArray, actual: FloatArray) -> float:
    """Rank correlation of the predicted and the realised values (average ranks for ties)."""
    if len(actual) < 3:
        return math.nan
    a, b = stats.rankdata(scores), stats.rankdata(actual)
    if a.std() == 0 or b.std() == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


RANKING_METRICS = (*(f"top {f:.0%}" for f in FRACTIONS), "spearman", "gini")


def ranking_metrics(scores: FloatArray, actual: FloatArray) -> dict[str, float]:
    """Top 5/10/20% capture, Spearman and normalized Gini of one ranking against what followed."""
    out = {f"top {f:.0%}": capture(scores, actual, f) for f in FRACTIONS}
    out["spearman"] = spearman(scores, actual)
    out["gini"] = normalized_gini(scores, actual)
    return out


def bootstrap_intervals(
    rankings: dict[str, FloatArray], actual: FloatArray, *, samples: int = 200, seed: int = 0
) -> dict[str, dict[str, tuple[float, float]]]:
    """95% percentile intervals of each ranking's metrics over customers resampled with replacement.

    The same resamples serve every ranking, so their intervals compare like with like.
    """
    rng = np.random.default_rng(seed)
    n = len(actual)
    draws: dict[str, list[dict[str, float]]] = {name: [] for name in rankings}
    for _ in range(samples):
        rows = rng.integers(0, n, n)
        for name, scores in rankings.items():
            draws[name].append(ranking_metrics(scores[rows], actual[rows]))
    return {
        name: {
            m: (float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5)))
            for m in RANKING_METRICS
            for v in [[d[m] for d in runs]]
        }
        for name, runs in draws.items()
    }
