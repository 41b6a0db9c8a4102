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


def minimize(objective: Objective, start: FloatArray, model: str) -> FloatArray:
    """Minimize a mean negative log-likelihood (with its gradient) over log-parameters.

    L-BFGS-B with analytic gradients converges in a few dozen evaluations to the precision the
    published-parameter reproduction needs; if it stops without converging, a Nelder-Mead
    polish takes over. Raises ``FitError`` when the optimum is not finite or runs away.
    """

    def safe(theta: FloatArray) -> tuple[float, FloatArray]:
        if np.any(np.abs(theta) > 30):  # parameters beyond e^30 are a runaway, not an estimate
            return np.inf, np.zeros_like(theta)
        with np.errstate(all="ignore"):
            value, grad = objective(theta)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return np.inf, np.zeros_like(theta)
        return value, grad

    if not np.isfinite(safe(start)[0]):
        raise FitError(f"{model}: log-likelihood is not finite at the starting point")
    best = optimize.minimize(
        safe,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 1000},
    )
    if not best.success:
        polish = optimize.minimize(
            lambda theta: safe(theta)[0],
            best.x,
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000, "maxfev": 8000},
        )
        best = polish if polish.fun <= best.fun else best
    if not np.isfinite(best.fun) or np.any(np.abs(best.x) > 25):
        raise FitError(f"{model}: no finite maximum-likelihood estimate ({best.message})")
    out: FloatArray = np.asarray(best.x, dtype=np.float64)
    return out
