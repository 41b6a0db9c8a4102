"""Which value model a shop gets: BG/NBD + Gamma-Gamma, the learned model, or their blend.

Decided by the shop's own latest window, never by a global default. With a step ``h`` (the
horizon, shortened to a third of the shop's history when that is shorter) and three cuts
``T - 2h``, ``T - h`` and ``T`` (the scoring date):

1. backtest: the learned model is trained on features as of ``T - 2h`` and the net revenue of
   ``(T - 2h, T - h]``; BG/NBD + Gamma-Gamma is fitted as of ``T - h``; all three rankings of the
   buyers at ``T - h`` are measured against their net revenue in ``(T - h, T]``;
2. choice: a candidate replaces BG/NBD only if it captures more on average at the top 5, 10
   and 20 % (by ``MIN_GAIN``), trails it at none of them by more than ``MAX_SHORTFALL``, and
   beats it on that average in ``MIN_CONFIDENCE`` of paired bootstrap resamples of the buyers
   (the top 5% of a few thousand buyers is a noisy figure); otherwise, and on a small shop or a
   short history, BG/NBD + Gamma-Gamma stays, and ``reason`` says why;
3. the chosen learned model is retrained on ``T - h`` -> ``T`` and applied at ``T``.

Net revenue of a period is the change of cumulative (gross - refunded): orders placed in it,
less the refunds issued in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from services.scorer.domain import learned
from services.scorer.domain.aggregates import CustomerAggregates
from services.scorer.domain.backtest import FRACTIONS, ranking_metrics
from services.scorer.domain.features import CustomerFeatures, compute_features
from services.scorer.domain.learned import BoostingConfig, LearnedModel
from services.scorer.domain.model import ValueModel, ValuePrediction, fit_value_model, predict_value
from shared.definitions.scoring import ModelConfig

FloatArray = npt.NDArray[np.float64]
Choice = Literal["bgnbd_gamma_gamma", "learned", "blend"]
BASELINE: Choice = "bgnbd_gamma_gamma"
# The baseline runs as BG/NBD + Gamma-Gamma, or as a fallback on a shop too small for a fit
# (``model.py``): the reasons name it so that both read true.
BASELINE_WORDS = "the baseline (BG/NBD + Gamma-Gamma where they fit)"
CANDIDATES: tuple[Choice, ...] = (BASELINE, "learned", "blend")
MIN_GAIN = 0.002  # mean capture gain over BG/NBD (0.2 points) below which it is a tie
MAX_SHORTFALL = 0.01  # a candidate may trail BG/NBD by at most 1 point at any top share
MIN_CONFIDENCE = 0.9  # ...and must beat it on mean capture in 90% of paired bootstrap resamples
CONFIDENCE_SAMPLES = 100
MIN_STEP_DAYS = 30.0  # shorter windows say more about noise than about customers
MIN_LATER_BUYERS = 100  # customers buying in the backtest's holdout; fewer: not enough evidence


@dataclass(frozen=True)
class ValueChoice:
    """The model used for ``value``, why, and the backtest figures behind it."""

    method: Choice
    reason: str
    step_days: float = math.nan
    figures: dict[str, dict[str, float]] = field(default_factory=dict)  # candidate -> metric -> value
    learned: LearnedModel | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN figures become None), stored with the calibration."""
        return {
            "method": self.method,
            "reason": self.reason,
            "step_days": None if math.isnan(self.step_days) else self.step_days,
            "figures": {
                c: {k: (v if math.isfinite(v) else None) for k, v in m.items()}
                for c, m in self.figures.items()
            },
            "learned": self.learned.to_dict() if self.learned else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValueChoice:
        """Inverse of ``to_dict``."""
        figures = {
            c: {k: math.nan if v is None else float(v) for k, v in m.items()}
            for c, m in data["figures"].items()
        }
        step = data.get("step_days")
        model = data.get("learned")
        return cls(data["method"], data["reason"], math.nan if step is None else float(step), figures,
                   LearnedModel.from_dict(model) if model else None)  # fmt: skip


BASELINE_ONLY = ValueChoice(BASELINE, "learned model disabled")


@dataclass(frozen=True)
class History:
    """The shop as of the three cuts (same customers, same row order), cut times in epoch days."""

    before: CustomerAggregates  # as of T - 2h
    middle: CustomerAggregates  # as of T - h
    now: CustomerAggregates  # as of T
    step_days: float
    as_of: float


def step_days(first_order_at: FloatArray, as_of: float, config: ModelConfig) -> float:
    """The backtest step: the horizon, or a third of the shop's history when that is shorter."""
    known = first_order_at[np.isfinite(first_order_at)]
    if known.size == 0:
        return 0.0
    return float(min(config.horizon_days, (as_of - known.min()) / 3.0))


def _net(agg: CustomerAggregates) -> FloatArray:
    return agg.gross_total - agg.refunded_total


@dataclass(frozen=True)
class _Scored:
    f: CustomerFeatures
    btyd: ValuePrediction


def _btyd(agg: CustomerAggregates, as_of: float, config: ModelConfig, horizon: float) -> _Scored:
    f = compute_features(agg, as_of, frequency_floor_days=config.frequency_floor_days)
    at = replace(config, horizon_days=horizon)
    return _Scored(f, predict_value(fit_value_model(f, at), f, at))


def _sample(f: CustomerFeatures, config: ModelConfig) -> npt.NDArray[np.bool_]:
    """Training rows: the buyers, a seeded sample of ``fit_sample`` of them on a large shop."""
    buyers = np.flatnonzero(f.buyers)
    mask = np.zeros(len(f.orders), dtype=bool)
    if len(buyers) > config.fit_sample:
        buyers = np.random.default_rng(config.seed).choice(buyers, size=config.fit_sample, replace=False)
    mask[buyers] = True
    return mask


def _train(
    agg: CustomerAggregates, s: _Scored, target: FloatArray, step: float, config: ModelConfig
) -> LearnedModel:
    rows = _sample(s.f, config)
    f = replace(s.f, orders=np.where(rows, s.f.orders, 0.0))  # non-sampled rows read as non-buyers
    boosting = BoostingConfig(trees=config.learned_trees, seed=config.seed)
    return learned.train(agg, f, s.btyd, target, step, boosting)


def blend(btyd_value: FloatArray, learned_value: FloatArray) -> FloatArray:
    """The blend's value: the geometric mean of the two, both base currency over the same horizon.

    An average in log space weighs the two rankings alike whatever their spread (a plain mean
    follows whichever model spreads its values wider), yet stays a currency amount, computable
    for one customer at a time (an incremental rescore), unlike an average of ranks.
    """
    out: FloatArray = np.sqrt(np.maximum(btyd_value, 0.0) * np.maximum(learned_value, 0.0))
    return out


def _decide(figures: dict[str, dict[str, float]]) -> tuple[Choice, str]:
    """The candidate with the best mean capture at the top 5/10/20%, if it beats BG/NBD by
    ``MIN_GAIN`` on average and trails it by no more than ``MAX_SHORTFALL`` at any of them."""
    base = figures[BASELINE]
    keys = [f"top {f:.0%}" for f in FRACTIONS]
    mean_base = float(np.mean([base[k] for k in keys]))
    best: tuple[float, Choice] = (mean_base + MIN_GAIN, BASELINE)
    for name in ("blend", "learned"):  # the blend first: on a tie it is the safer of the two
        got = figures[name]
        mean = float(np.mean([got[k] for k in keys]))
        if all(got[k] >= base[k] - MAX_SHORTFALL for k in keys) and mean > best[0]:
            best = (mean, name)
    if best[1] == BASELINE:
        return BASELINE, (
            f"no candidate captured {MIN_GAIN * 100:.1f}+ points more on average at the top 5/10/20% "
            f"without trailing by {MAX_SHORTFALL * 100:.0f}+ at one of them: {BASELINE_WORDS}"
        )
    mean, method = best
    gain = (mean - mean_base) * 100
    return method, f"{method} captured {gain:.1f} points more on average at the top 5/10/20% in the backtest"


def _refusal(history: History, config: ModelConfig, middle: _Scored | None) -> str:
    """Why this shop cannot backtest the learned model ("" when it can)."""
    step = history.step_days
    if step < MIN_STEP_DAYS or middle is None:
        return f"history too short for a backtest ({3 * max(step, 0):.0f} days)"
    buyers_b = int(middle.f.buyers.sum())
    if buyers_b < config.learned_min_buyers:
        return f"{buyers_b} buyers < {config.learned_min_buyers}: small shop"
    later = (_net(history.now) - _net(history.middle))[middle.f.buyers]
    if int((later > 0).sum()) < MIN_LATER_BUYERS:
        return f"fewer than {MIN_LATER_BUYERS} buyers in the last {step:.0f} days"
    start = compute_features(history.before, history.as_of - 2 * step).buyers
    if int(start.sum()) < config.learned_min_buyers // 2:
        return "too few buyers at the start of the backtest window"
    return ""


def _backtest(
    history: History, config: ModelConfig, middle: _Scored
) -> tuple[dict[str, FloatArray], FloatArray]:
    """Train on T - 2h -> T - h; each candidate's ranking of the buyers at T - h, and their
    net revenue in (T - h, T]."""
    step = history.step_days
    before = _btyd(history.before, history.as_of - 2 * step, config, step)
    trial = _train(history.before, before, _net(history.middle) - _net(history.before), step, config)
    learned_b = learned.predict(trial, history.middle, middle.f, middle.btyd, step)
    rows = middle.f.buyers
    later = (_net(history.now) - _net(history.middle))[rows]
    rankings: dict[str, FloatArray] = {
        BASELINE: middle.btyd.value[rows],
        "learned": learned_b[rows],
        "blend": blend(middle.btyd.value, learned_b)[rows],
    }
    return rankings, later


def _mean_capture(scores: FloatArray, actual: FloatArray) -> float:
    """Mean of the top 5/10/20% captures (``backtest.capture``), from one sort."""
    total = float(actual.sum())
    if total <= 0:
        return math.nan
    cumulative = np.cumsum(actual[np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")])
    return float(np.mean([cumulative[math.ceil(f * len(actual)) - 1] for f in FRACTIONS])) / total


def _confidence(rankings: dict[str, FloatArray], later: FloatArray, name: str, seed: int) -> float:
    """Share of paired bootstrap resamples of the buyers in which ``name`` beats BG/NBD on mean
    capture: a gain a few lucky customers made does not count."""
    rng = np.random.default_rng(seed)
    n, wins = len(later), 0
    for _ in range(CONFIDENCE_SAMPLES):
        rows = rng.integers(0, n, n)
        gain = _mean_capture(rankings[name][rows], later[rows]) - _mean_capture(
            rankings[BASELINE][rows], later[rows]
        )
        wins += gain > 0
    return wins / CONFIDENCE_SAMPLES


def choose(history: History, config: ModelConfig, *, train_anyway: bool = False) -> ValueChoice:
    """Backtest the candidates on the shop's latest window and return the choice (trained for T).

    ``train_anyway``: train the learned model for T even when BG/NBD is chosen (a backtest
    command shows every candidate); the choice itself is unchanged.
    """
    step = history.step_days
    middle = _btyd(history.middle, history.as_of - step, config, step) if step >= MIN_STEP_DAYS else None
    refusal = _refusal(history, config, middle)
    if refusal or middle is None:
        return ValueChoice(BASELINE, refusal, step)
    rankings, later = _backtest(history, config, middle)
    figures = {name: ranking_metrics(scores, later) for name, scores in rankings.items()}
    method, reason = _decide(figures)
    if method != BASELINE:
        sure = _confidence(rankings, later, method, config.seed)
        if sure < MIN_CONFIDENCE:
            method = BASELINE
            reason += f", but in only {sure:.0%} of resamples (< {MIN_CONFIDENCE:.0%}): {BASELINE_WORDS}"
        else:
            reason += f" ({sure:.0%} of resamples)"
    if method == BASELINE and not train_anyway:
        return ValueChoice(BASELINE, reason, step, figures)
    final = _train(history.middle, middle, _net(history.now) - _net(history.middle), step, config)
    return ValueChoice(method, reason, step, figures, final)


def apply_choice(
    choice: ValueChoice,
    agg: CustomerAggregates,
    f: CustomerFeatures,
    model: ValueModel,
    btyd: ValuePrediction,
    config: ModelConfig,
) -> FloatArray:
    """Every customer's value under ``choice``, base currency, over ``config.horizon_days``.

    The learned model reads BG/NBD's predictions over the horizon it was trained on, so they
    are recomputed for that horizon from the same fitted ``model``.
    """
    if choice.method == BASELINE or choice.learned is None:
        return btyd.value
    trained = choice.learned.horizon_days
    features_btyd = predict_value(model, f, replace(config, horizon_days=trained))
    learned_value = learned.predict(choice.learned, agg, f, features_btyd, config.horizon_days)
    return learned_value if choice.method == "learned" else blend(btyd.value, learned_value)


def cuts(now: CustomerAggregates, as_of: float, config: ModelConfig) -> tuple[float, float, float]:
    """(step in days, T - 2 step, T - step): the cuts whose aggregates ``History`` needs."""
    step = step_days(now.first_order_at, as_of, config)
    return step, as_of - 2 * step, as_of - step
