"""Score a shop's customers: features, predicted value, label with reasons, lifecycle stage.

A full rescore calls ``score(aggregates, config, as_of)``: it fits the value model and resolves
the relative thresholds on everyone (the ``Calibration``). An incremental rescore passes the last
full rescore's calibration, so a handful of customers get exactly the labels a full rescore of
the same facts would give them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from services.scorer.domain.aggregates import CustomerAggregates, epoch_days
from services.scorer.domain.features import CustomerFeatures, compute_features
from services.scorer.domain.model import ValueModel, ValuePrediction, fit_value_model, predict_value
from services.scorer.domain.rules import (
    MissingCutoffError,
    apply_profile,
    cutoff_key,
    resolve_cutoffs,
)
from services.scorer.domain.stages import assign_stages, median_interval_days
from services.scorer.domain.value_choice import (
    BASELINE,
    BASELINE_ONLY,
    History,
    ValueChoice,
    apply_choice,
    choose,
)
from shared.definitions.scoring import RULE_FEATURES, ScoringConfig

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]


class CalibrationMismatchError(ValueError):
    """The calibration lacks a cutoff the active profile needs; run a full rescore."""


@dataclass(frozen=True)
class Calibration:
    """Shop-wide quantities a full rescore derives and an incremental rescore reuses."""

    as_of: float  # epoch days
    profile: str
    model: ValueModel
    cutoffs: dict[str, float]  # e.g. {"aov:p10": 18.5, "value:p90": 640.0}
    shop_interval_days: float  # median days between orders of repeat buyers
    customers: int
    value_choice: ValueChoice = BASELINE_ONLY  # which model gives ``value``, with the evidence

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN cutoffs become None)."""
        return {
            "as_of": self.as_of,
            "profile": self.profile,
            "model": self.model.to_dict(),
            "cutoffs": {k: (v if np.isfinite(v) else None) for k, v in self.cutoffs.items()},
            "shop_interval_days": self.shop_interval_days,
            "customers": self.customers,
            "value_choice": self.value_choice.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Inverse of ``to_dict``."""
        return cls(
            as_of=float(data["as_of"]),
            profile=str(data["profile"]),
            model=ValueModel.from_dict(data["model"]),
            cutoffs={k: np.nan if v is None else float(v) for k, v in data["cutoffs"].items()},
            shop_interval_days=float(data["shop_interval_days"]),
            customers=int(data["customers"]),
            value_choice=ValueChoice.from_dict(data["value_choice"])
            if data.get("value_choice")
            else BASELINE_ONLY,
        )


@dataclass(frozen=True)
class LabelSnapshot:
    """What ``labels.changed`` is about, per customer: label, stage and uploaded value."""

    customer_key: ObjectArray
    label: ObjectArray
    stage: ObjectArray
    value: FloatArray


@dataclass(frozen=True)
class ScoredCustomers:
    """Columnar result, in the aggregates' row order.

    label: "icp" | "negative_icp" | "neutral". reasons: matched conditions joined by ";"
    ("" for neutral). stage: see ``stages``. value: predicted spend net of returns over the
    horizon, base currency. expected_orders / order_value: its two factors. p_alive: NaN where
    the model fell back (see ``calibration.model.notes``).
    """

    customer_key: ObjectArray
    label: ObjectArray
    reasons: ObjectArray
    stage: ObjectArray
    value: FloatArray
    expected_orders: FloatArray
    order_value: FloatArray
    p_alive: FloatArray
    icp_match: npt.NDArray[np.bool_]  # the ICP rule matched (label may still be negative_icp)
    negative_match: npt.NDArray[np.bool_]
    features: CustomerFeatures
    calibration: Calibration

    def __len__(self) -> int:
        """Number of customers."""
        return len(self.customer_key)

    def snapshot(self) -> LabelSnapshot:
        """The columns ``material_change`` compares."""
        return LabelSnapshot(self.customer_key, self.label, self.stage, self.value)


def rule_inputs(f: CustomerFeatures, prediction: ValuePrediction) -> dict[str, FloatArray]:
    """Every number a rule may test, by the names in ``RULE_FEATURES``."""
    inputs = {name: getattr(f, name) for name in RULE_FEATURES if hasattr(f, name)}
    inputs |= {
        "value": prediction.value,
        "expected_orders": prediction.expected_orders,
        "p_alive": prediction.p_alive,
    }
    return inputs


def _chosen(
    choice: ValueChoice,
    agg: CustomerAggregates,
    f: CustomerFeatures,
    model: ValueModel,
    prediction: ValuePrediction,
    config: ScoringConfig,
) -> ValuePrediction:
    """The prediction with ``value`` from the chosen model (its factors stay BG/NBD's)."""
    if choice.method == BASELINE:
        return prediction
    value = apply_choice(choice, agg, f, model, prediction, config.model)
    return replace(prediction, value=value)


def _as_of(as_of: date | datetime | float) -> float:
    return float(as_of) if isinstance(as_of, int | float) else epoch_days(as_of)


def calibrate(
    aggregates: CustomerAggregates, config: ScoringConfig, as_of: date | datetime | float
) -> Calibration:
    """Fit the value model and resolve relative thresholds on the whole shop."""
    return score(aggregates, config, as_of).calibration


def score(
    aggregates: CustomerAggregates,
    config: ScoringConfig,
    as_of: date | datetime | float,
    *,
    calibration: Calibration | None = None,
    history: History | None = None,
    value_choice: ValueChoice | None = None,
) -> ScoredCustomers:
    """Label, reasons, value, stage and p_alive for every customer in ``aggregates``.

    ``as_of``: a date (end of that day), a datetime (naive = UTC) or epoch days. Without
    ``calibration`` this is a full rescore; with one, its model, value choice and cutoffs are
    used as-is. ``history`` (the shop at two earlier cuts, see ``value_choice``) lets a full
    rescore backtest the learned model and the blend against BG/NBD + Gamma-Gamma and use the
    best; without it the value is BG/NBD + Gamma-Gamma's. ``value_choice``: one already made
    (a backtest that trained every candidate), used as-is.
    """
    when = _as_of(as_of)
    profile = config.active
    f = compute_features(aggregates, when, frequency_floor_days=config.model.frequency_floor_days)
    if calibration is None:
        model = fit_value_model(f, config.model)
        prediction = predict_value(model, f, config.model)
        choice = value_choice or BASELINE_ONLY
        if config.model.learned and value_choice is None:
            choice = choose(history, config.model) if history else ValueChoice(BASELINE, "no history given")
        prediction = _chosen(choice, aggregates, f, model, prediction, config)
        inputs = rule_inputs(f, prediction)
        calibration = Calibration(
            as_of=when,
            profile=profile.name,
            model=model,
            cutoffs=resolve_cutoffs(profile, inputs, f.buyers),
            shop_interval_days=median_interval_days(f),
            customers=len(aggregates),
            value_choice=choice,
        )
    else:
        prediction = predict_value(calibration.model, f, config.model)
        prediction = _chosen(calibration.value_choice, aggregates, f, calibration.model, prediction, config)
        inputs = rule_inputs(f, prediction)
    try:
        labels = apply_profile(profile, inputs, calibration.cutoffs, f.orders, f.tenure_days)
    except MissingCutoffError as exc:
        raise CalibrationMismatchError(
            f"calibration for profile {calibration.profile!r} has no cutoff {exc.args[0]} "
            f"needed by profile {profile.name!r}; run a full rescore"
        ) from None
    stage = assign_stages(f, prediction.p_alive, config.stages, calibration.shop_interval_days)
    return ScoredCustomers(
        customer_key=aggregates.customer_key,
        label=labels.label,
        reasons=labels.reasons,
        stage=stage,
        value=prediction.value,
        expected_orders=prediction.expected_orders,
        order_value=prediction.order_value,
        p_alive=prediction.p_alive,
        icp_match=labels.icp_match,
        negative_match=labels.negative_match,
        features=f,
        calibration=calibration,
    )


__all__ = [
    "Calibration",
    "CalibrationMismatchError",
    "LabelSnapshot",
    "ScoredCustomers",
    "calibrate",
    "cutoff_key",
    "rule_inputs",
    "score",
]
