"""The scorer's pure domain: features, predicted value, label rules and lifecycle stages.

numpy and scipy only; no database, bus or web imports. Entry points: ``score`` and
``material_change``; the input is ``CustomerAggregates``.
"""

from services.scorer.domain.aggregates import CustomerAggregates, epoch_days
from services.scorer.domain.changes import material_change
from services.scorer.domain.scoring import (
    Calibration,
    CalibrationMismatchError,
    LabelSnapshot,
    ScoredCustomers,
    calibrate,
    score,
)

__all__ = [
    "Calibration",
    "CalibrationMismatchError",
    "CustomerAggregates",
    "LabelSnapshot",
    "ScoredCustomers",
    "calibrate",
    "epoch_days",
    "material_change",
    "score",
]
