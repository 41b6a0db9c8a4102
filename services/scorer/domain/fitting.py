"""Shared maximum-likelihood plumbing: one optimizer recipe and one failure type."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy import optimize

FloatArray = npt.NDArray[np.float64]
Objective = Callable[[FloatArray], tuple[float, FloatArray]]


class FitError(RuntimeError):
    """A model could not be fitted on this shop's data; callers fall back and say so."""


def wsum(weights: FloatArray, values: FloatArray) -> float:
    """Weighted sum; elementwise rather than ``@``, whose BLAS threads cost more than they save
    on vectors this size (measured 25x slower on a busy two-core machine)."""
    return float(np.sum(weights * values))


LOG_BOUND = 15.0  # parameters live in [e^-15, e^15]; an optimum on that edge is a runaway


def minimize(objective: Objective, start: FloatArray, model: str) -> FloatArray:
    """Minimize a mean negative log-likelihood (with its gradient) over log-parameters.

    L-BFGS-B with analytic gradients converges in a few dozen evaluations to the precision the
    published-parameter reproduction needs; if it stops short, a bounded Nelder-Mead polish
    takes over. Raises ``FitError`` when the likelihood is not finite or the optimum runs to
    the edge of the box (the data then have no interior maximum, e.g. no heterogeneity).
    """

    def safe(theta: FloatArray) -> tuple[float, FloatArray]:
        with np.errstate(all="ignore"):
            value, grad = objective(theta)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return np.inf, np.zeros_like(theta)
        return value, grad

    if not np.isfinite(safe(start)[0]):
        raise FitError(f"{model}: log-likelihood is not finite at the starting point")
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    best = optimize.minimize(
        safe,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 500},
    )
    if not best.success:
        polish = optimize.minimize(
            lambda theta: safe(theta)[0],
            best.x,
            method="Nelder-Mead",
            bounds=bounds,
            options={"xatol": 1e-8, "fatol": 1e-12, "maxfev": 2000},
        )
        best = polish if polish.fun <= best.fun else best
    if not np.isfinite(best.fun):
        raise FitError(f"{model}: no finite maximum-likelihood estimate ({best.message})")
    if np.any(np.abs(best.x) > LOG_BOUND - 0.01):
        raise FitError(f"{model}: a parameter ran to the edge (no interior maximum)")
    out: FloatArray = np.asarray(best.x, dtype=np.float64)
    return out
