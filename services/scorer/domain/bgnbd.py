"""BG/NBD purchase-frequency model (Fader, Hardie and Lee 2005): likelihood, fit, predictions.

Per customer: ``x`` repeat purchases, ``t_x`` time from the first to the last purchase, ``T`` time
from the first purchase to the end of observation, all in one time unit (the scorer uses weeks,
like the paper). Every function is vectorized over customers. Terms that depend only on ``x``
are computed once per distinct ``x`` and gathered, which keeps a likelihood evaluation on a
million customers to a few vector operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from services.scorer.domain.fitting import FitError, minimize, wsum

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    """Purchase rate ~ Gamma(r, alpha); dropout probability after each purchase ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


def _by_x(x: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    ux, inv = np.unique(x, return_inverse=True)
    return ux.astype(np.float64), inv.reshape(-1)


@dataclass(frozen=True)
class _Data:
    x: FloatArray
    t_x: FloatArray
    big_t: FloatArray
    ux: FloatArray  # distinct x
    inv: npt.NDArray[np.intp]  # row -> index into ux
    weights: FloatArray

    @classmethod
    def of(cls, x: FloatArray, t_x: FloatArray, big_t: FloatArray, weights: FloatArray | None) -> _Data:
        x = np.asarray(x, dtype=np.float64)
        ux, inv = _by_x(x)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
        t_x, big_t = np.asarray(t_x, dtype=np.float64), np.asarray(big_t, dtype=np.float64)
        return cls(x, t_x, big_t, ux, inv, w)


def _branches(
    theta: FloatArray, d: _Data
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per-row log-likelihood, log(alpha+T), log(alpha+t_x) and the two branches' log terms."""
    r, alpha, a, b = np.exp(theta)
    head = special.gammaln(r + d.ux) - special.gammaln(r) + r * np.log(alpha)
    beta_ab = special.betaln(a, b)
    alive = special.betaln(a, b + d.ux) - beta_ab
    # The "dropped out after the last purchase" branch exists only for customers who repeated.
    died = special.betaln(a + 1, b + np.maximum(d.ux, 1) - 1) - beta_ab
    died = np.where(d.ux > 0, died, -np.inf)
    rx = r + d.x
    log_at, log_atx = np.log(alpha + d.big_t), np.log(alpha + d.t_x)
    term_alive = alive[d.inv] - rx * log_at
    term_died = died[d.inv] - rx * log_atx
    tail = np.logaddexp(term_alive, term_died)
    return head[d.inv] + tail, log_at, log_atx, term_alive, tail


def log_likelihood(params: BgNbdParams, x: FloatArray, t_x: FloatArray, big_t: FloatArray) -> FloatArray:
    """Per-customer log-likelihood of (x, t_x, T) under ``params`` (FHL 2005, eq. 6)."""
    theta = np.log([params.r, params.alpha, params.a, params.b])
    return _branches(theta, _Data.of(x, t_x, big_t, None))[0]


def _objective(theta: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(theta)
    ll, log_at, log_atx, term_alive, tail = _branches(theta, d)
    w, total, ux, inv = d.weights, float(d.weights.sum()), d.ux, d.inv
    died_share = -np.expm1(term_alive - tail)  # posterior weight of the dropped-out branch
    alive_share = 1.0 - died_share
    psi = special.digamma
    rx = r + d.x
    d_r = (psi(r + ux) - psi(r) + np.log(alpha))[inv] - alive_share * log_at - died_share * log_atx
    d_alpha = r / alpha - alive_share * rx / (alpha + d.big_t) - died_share * rx / (alpha + d.t_x)
    shared_a, shared_b = psi(a + b) - psi(a), psi(a + b) - psi(b)
    psi_abx = psi(a + b + ux)
    alive_a = psi(a) - psi_abx + shared_a
    died_a = psi(a + 1) - psi_abx + shared_a
    alive_b = psi(b + ux) - psi_abx + shared_b
    died_b = psi(b + np.maximum(ux, 1) - 1) - psi_abx + shared_b
    d_a = alive_a[inv] + died_share * (died_a - alive_a)[inv]
    d_b = alive_b[inv] + died_share * (died_b - alive_b)[inv]
    grad = np.array([r * wsum(w, d_r), alpha * wsum(w, d_alpha), a * wsum(w, d_a), b * wsum(w, d_b)])
    return -wsum(w, ll) / total, -grad / total


def fit(
    x: FloatArray,
    t_x: FloatArray,
    big_t: FloatArray,
    *,
    weights: FloatArray | None = None,
) -> BgNbdParams:
    """Maximum-likelihood parameters; raises ``FitError`` when the optimum is not finite."""
    d = _Data.of(x, t_x, big_t, weights)
    if d.x.size == 0 or not np.any(d.x > 0):
        raise FitError("BG/NBD needs at least one repeat purchase")
    r, alpha, a, b = np.exp(minimize(lambda theta: _objective(theta, d), np.zeros(4), "BG/NBD"))
    return BgNbdParams(float(r), float(alpha), float(a), float(b))


def _log_odds_dead(params: BgNbdParams, x: FloatArray, t_x: FloatArray, big_t: FloatArray) -> FloatArray:
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) for repeaters; -inf for x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    safe_x = np.where(repeat, x, 1.0)
    odds = np.log(a) - np.log(b + safe_x - 1) + (r + safe_x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    out: FloatArray = np.where(repeat, odds, -np.inf)
    return out


def p_alive(params: BgNbdParams, x: FloatArray, t_x: FloatArray, big_t: FloatArray) -> FloatArray:
    """Probability each customer is still active at ``T`` (FHL 2005, eq. 11)."""
    out: FloatArray = special.expit(-_log_odds_dead(params, x, t_x, big_t))
    return out


def expected_purchases(
    params: BgNbdParams, t: float, x: FloatArray, t_x: FloatArray, big_t: FloatArray
) -> FloatArray:
    """Expected purchases in the next ``t`` time units given each history (FHL 2005, eq. 10).

    The hypergeometric term is rewritten with Euler's transformation,
    (1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z), c = a+b+x-1,
    so its first two parameters do not grow with ``x`` and heavy buyers neither overflow nor
    lose precision.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) < 1e-7:  # removable singularity at a = 1; nudging is far below fit precision
        a = 1.0 + 1e-7
    x = np.asarray(x, dtype=np.float64)
    big_t = np.asarray(big_t, dtype=np.float64)
    c = a + b + x - 1
    z = t / (alpha + big_t + t)
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, c, z)
    unconditional = c / (a - 1) * (1 - (1 - z) ** (a - 1) * hyp)
    out: FloatArray = unconditional * p_alive(params, x, t_x, big_t)
    return out


__all__ = ["BgNbdParams", "FitError", "expected_purchases", "fit", "log_likelihood", "p_alive"]
