"""Gamma-Gamma spend-per-order model (Fader and Hardie 2013 note; Colombo and Jiang 1999).

A customer's order values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers. Fitted on
each customer's mean order value ``mean_value`` over ``x`` orders; predicts the expected value of
a customer's future orders, shrunk from their own mean towards the shop's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from services.scorer.domain.fitting import FitError, minimize, wsum

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GammaGammaParams:
    """Shape ``p`` of each customer's spend; ``q`` and ``v`` (gamma) of the scale across them."""

    p: float
    q: float
    v: float

    @property
    def population_mean(self) -> float:
        """Mean order value across customers, p*v/(q-1); infinite when q <= 1."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else float("inf")


@dataclass(frozen=True)
class _Data:
    x: FloatArray
    mean_value: FloatArray
    log_x: FloatArray
    log_mean: FloatArray
    ux: FloatArray  # distinct x: the gamma functions are evaluated once per distinct x
    inv: npt.NDArray[np.intp]
    weights: FloatArray

    @classmethod
    def of(cls, x: FloatArray, mean_value: FloatArray, weights: FloatArray | None) -> _Data:
        x = np.asarray(x, dtype=np.float64)
        mean_value = np.asarray(mean_value, dtype=np.float64)
        ux, inv = np.unique(x, return_inverse=True)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
        return cls(x, mean_value, np.log(x), np.log(mean_value), ux, inv.reshape(-1), w)


def _ll(theta: FloatArray, d: _Data) -> FloatArray:
    p, q, v = np.exp(theta)
    px = p * d.x
    per_x = special.gammaln(p * d.ux + q) - special.gammaln(p * d.ux)
    ll: FloatArray = (
        per_x[d.inv]
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * d.log_mean
        + px * d.log_x
        - (px + q) * np.log(v + d.x * d.mean_value)
    )
    return ll


def log_likelihood(params: GammaGammaParams, x: FloatArray, mean_value: FloatArray) -> FloatArray:
    """Per-customer log-likelihood of a mean order value over ``x`` orders (note, eq. 3)."""
    return _ll(np.log([params.p, params.q, params.v]), _Data.of(x, mean_value, None))


def _objective(theta: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood and its gradient in log-parameters."""
    p, q, v = np.exp(theta)
    w, total, psi = d.weights, float(d.weights.sum()), special.digamma
    log_vxm = np.log(v + d.x * d.mean_value)
    psi_pxq = psi(p * d.ux + q)[d.inv]
    d_p = d.x * (psi_pxq - psi(p * d.ux)[d.inv] + d.log_mean + d.log_x - log_vxm)
    d_q = psi_pxq - psi(q) + np.log(v) - log_vxm
    d_v = q / v - (p * d.x + q) / (v + d.x * d.mean_value)
    grad = np.array([p * wsum(w, d_p), q * wsum(w, d_q), v * wsum(w, d_v)])
    return -wsum(w, _ll(theta, d)) / total, -grad / total


def fit(x: FloatArray, mean_value: FloatArray, *, weights: FloatArray | None = None) -> GammaGammaParams:
    """Maximum-likelihood parameters from customers with ``x >= 1`` and ``mean_value > 0``."""
    x = np.asarray(x, dtype=np.float64)
    mean_value = np.asarray(mean_value, dtype=np.float64)
    keep = (x >= 1) & (mean_value > 0) & np.isfinite(mean_value)
    if np.count_nonzero(keep) < 3:
        raise FitError("Gamma-Gamma needs at least three customers with positive spend")
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[keep]
    # Fit in units of a power of two near the median order value: yen and cents then look the
    # same to the optimizer, and scaling all money by 2^k scales v by exactly 2^k.
    unit = float(2.0 ** np.round(np.log2(np.median(mean_value[keep]))))
    d = _Data.of(x[keep], mean_value[keep] / unit, w)
    p, q, v = np.exp(minimize(lambda theta: _objective(theta, d), np.log([1.0, 2.0, 1.0]), "Gamma-Gamma"))
    if q <= 1:
        raise FitError(f"Gamma-Gamma: q = {q:.3f} <= 1 means an unbounded mean order value")
    return GammaGammaParams(float(p), float(q), float(v) * unit)


def expected_order_value(params: GammaGammaParams, x: FloatArray, mean_value: FloatArray) -> FloatArray:
    """E[value of a future order | x orders averaging ``mean_value``] (note, eq. 5).

    A weighted average of the shop's mean and the customer's own mean; with no orders the
    shop's mean.
    """
    p, q = params.p, params.q
    x = np.asarray(x, dtype=np.float64)
    own = np.where(x > 0, np.asarray(mean_value, dtype=np.float64), 0.0)
    weight = p * x / (p * x + q - 1)
    out: FloatArray = (1 - weight) * params.population_mean + weight * own
    return out
