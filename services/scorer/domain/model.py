"""Predicted customer value per shop: BG/NBD x Gamma-Gamma, net of returns, with fallbacks.

value = E[orders in the horizon] x E[value of an order] x (1 - expected return rate), in the
base currency, so values are comparable across customers and fit for value-based lookalikes.
A shop too small or too one-off for the models gets a plainer estimate, and ``ValueModel.method``
and ``notes`` say which and why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from services.scorer.domain import bgnbd, gamma_gamma
from services.scorer.domain.bgnbd import BgNbdParams
from services.scorer.domain.features import DAYS_PER_YEAR, CustomerFeatures
from services.scorer.domain.fitting import FitError
from services.scorer.domain.gamma_gamma import GammaGammaParams
from shared.definitions.scoring import ModelConfig

FloatArray = npt.NDArray[np.float64]
Method = Literal["bgnbd_gamma_gamma", "bgnbd_observed_spend", "historical_rate", "none"]

DAYS_PER_WEEK = 7.0  # the models run in weeks, like the paper, so alpha reads the same way


@dataclass(frozen=True)
class ValueModel:
    """What was fitted for one shop, and how predictions will be made from it."""

    method: Method
    bgnbd: BgNbdParams | None
    gamma_gamma: GammaGammaParams | None
    shop_return_rate: float
    buyers: int
    repeat_buyers: int
    fitted_on: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, to store beside a full rescore and reuse for incremental ones."""
        out = asdict(self)
        out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValueModel:
        """Inverse of ``to_dict``."""
        bg, gg = data.get("bgnbd"), data.get("gamma_gamma")
        return cls(
            method=data["method"],
            bgnbd=BgNbdParams(**bg) if bg else None,
            gamma_gamma=GammaGammaParams(**gg) if gg else None,
            shop_return_rate=float(data["shop_return_rate"]),
            buyers=int(data["buyers"]),
            repeat_buyers=int(data["repeat_buyers"]),
            fitted_on=int(data["fitted_on"]),
            notes=tuple(data.get("notes", ())),
        )


@dataclass(frozen=True)
class ValuePrediction:
    """Per-customer predictions over the horizon; zeros and NaN p_alive for non-buyers."""

    expected_orders: FloatArray
    order_value: FloatArray
    return_rate: FloatArray
    value: FloatArray
    p_alive: FloatArray  # NaN where no BG/NBD fit exists (historical-rate fallback)


def _btyd_inputs(f: CustomerFeatures) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(x, t_x, T) in weeks: repeat purchase days, first-to-last, first-to-as_of.

    x repeat purchase days take at least x days after the first: inconsistent aggregates (e.g.
    order days counted in another time zone than the timestamps) are stretched to that, since
    t_x = 0 with x > 0 makes the likelihood unbounded.
    """
    x = np.maximum(f.order_days - 1, 0.0)
    t_x = np.maximum(np.nan_to_num(f.span_days), x) / DAYS_PER_WEEK
    big_t = np.maximum(np.nan_to_num(f.tenure_days) / DAYS_PER_WEEK, t_x)
    return x, t_x, big_t


def _shop_return_rate(f: CustomerFeatures) -> float:
    gross = float(np.sum(f.gross_total[f.buyers]))
    refunded = gross - float(np.sum(f.ltv[f.buyers]))
    return min(max(refunded / gross, 0.0), 1.0) if gross > 0 else 0.0


def fit_value_model(f: CustomerFeatures, config: ModelConfig) -> ValueModel:
    """Fit BG/NBD and Gamma-Gamma on this shop's buyers (a seeded sample when there are many)."""
    buyers = np.flatnonzero(f.buyers)
    x_all, _, _ = _btyd_inputs(f)
    repeat = int(np.count_nonzero(x_all[buyers] > 0))
    notes: list[str] = []

    def result(method: Method, bg: BgNbdParams | None, gg: GammaGammaParams | None) -> ValueModel:
        fitted_on = len(sample) if bg is not None else 0
        return ValueModel(method, bg, gg, _shop_return_rate(f), len(buyers), repeat, fitted_on, tuple(notes))

    sample = buyers
    if len(buyers) == 0:
        notes.append("no buyers")
        return result("none", None, None)
    if len(buyers) > config.fit_sample:
        rng = np.random.default_rng(config.seed)
        sample = np.sort(rng.choice(buyers, size=config.fit_sample, replace=False))
        notes.append(f"fitted on a seeded sample of {config.fit_sample} of {len(buyers)} buyers")
    historical = "value is the customer's historical order rate x AOV over the horizon"
    if repeat < config.min_repeat_buyers:
        notes.append(f"{repeat} repeat buyers < {config.min_repeat_buyers}: no fit; {historical}")
        return result("historical_rate", None, None)
    x, t_x, big_t = (col[sample] for col in _btyd_inputs(f))
    try:
        bg = bgnbd.fit(x, t_x, big_t)
        with np.errstate(all="ignore"):
            check = bgnbd.expected_purchases(bg, config.horizon_days / DAYS_PER_WEEK, x, t_x, big_t)
        if not np.all(np.isfinite(check) & (check >= 0)):
            raise FitError("BG/NBD: the fitted parameters give non-finite predictions")
    except FitError as exc:
        notes.append(f"{exc}; {historical}")
        return result("historical_rate", None, None)
    # As in the paper: the mean value of repeat orders, over repeat buyers only (the first order
    # is often atypical: a welcome discount, a starter kit).
    repeats, spend = f.orders[sample] - 1, f.repeat_aov[sample]
    repeaters = (repeats >= 1) & (spend > 0)
    try:
        if np.count_nonzero(repeaters) < config.min_repeat_buyers:
            raise FitError(f"Gamma-Gamma: fewer than {config.min_repeat_buyers} repeat buyers")
        gg = gamma_gamma.fit(repeats[repeaters], spend[repeaters])
    except FitError as exc:
        notes.append(f"{exc}; order value is the customer's own AOV")
        return result("bgnbd_observed_spend", bg, None)
    return result("bgnbd_gamma_gamma", bg, gg)


def predict_value(model: ValueModel, f: CustomerFeatures, config: ModelConfig) -> ValuePrediction:
    """Expected orders, order value, return rate and value over ``config.horizon_days``."""
    has = f.buyers
    x, t_x, big_t = _btyd_inputs(f)
    horizon_weeks = config.horizon_days / DAYS_PER_WEEK
    historical = np.where(has, f.orders_per_year, 0.0) * config.horizon_days / DAYS_PER_YEAR
    expected = historical
    p_alive = np.full(len(has), np.nan)
    if model.bgnbd is not None:
        idx = np.flatnonzero(has)
        expected = np.zeros(len(has))
        with np.errstate(all="ignore"):
            expected[idx] = bgnbd.expected_purchases(model.bgnbd, horizon_weeks, x[idx], t_x[idx], big_t[idx])
            p_alive[idx] = bgnbd.p_alive(model.bgnbd, x[idx], t_x[idx], big_t[idx])
        # A history far outside the fitting sample can overflow; it gets the plain estimate.
        broken = ~np.isfinite(expected) | (expected < 0)
        expected = np.where(broken, historical, expected)
    aov = np.where(has, f.aov, 0.0)
    if model.gamma_gamma is not None:
        repeats = np.where(f.orders >= 2, f.orders - 1, 0.0)
        spend = np.nan_to_num(f.repeat_aov)
        order_value = gamma_gamma.expected_order_value(model.gamma_gamma, repeats, spend)
        order_value = np.where(has, order_value, 0.0)
    else:
        order_value = aov
    # A customer's own return rate is noisy on few orders: shrink it towards the shop's.
    k = config.return_shrinkage_orders
    own = np.nan_to_num(f.return_rate)
    with np.errstate(invalid="ignore", divide="ignore"):
        shrunk = (f.orders * own + k * model.shop_return_rate) / (f.orders + k)
    return_rate = np.where(has & np.isfinite(shrunk), shrunk, model.shop_return_rate)
    value = np.where(has, expected * order_value * (1.0 - return_rate), 0.0)
    return ValuePrediction(expected, order_value, return_rate, value, p_alive)
