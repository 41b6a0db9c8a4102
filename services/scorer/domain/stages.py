"""Lifecycle stage per customer, beside the label, so audiences can select on both.

Stages, first match wins:
  abandoned_checkout: no order, and an abandoned checkout within ``abandoned_within_days``
    (with ``abandoned_include_buyers`` also a buyer whose latest checkout came after the last
    order and was abandoned);
  prospect: no order and no recent abandoned checkout;
  lapsed: a buyer with P(alive) below ``lapsed_p_alive_below`` under the fitted model, or with
    no order for ``lapsed_missed_intervals`` of their usual intervals (never under
    ``lapsed_min_days``); a one-time buyer's usual interval is the shop's median;
  first_time: one order; repeat: two or more.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.scorer.domain.features import CustomerFeatures
from shared.definitions.scoring import STAGES, StageConfig

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]

_NAMES = np.array(STAGES, dtype=object)
# Codes index STAGES; keep the two in the same order.
_PROSPECT, _ABANDONED, _FIRST, _REPEAT, _LAPSED = range(5)

FALLBACK_INTERVAL_DAYS = 365.0  # a shop with no repeat buyers has no median interval to use


def usual_interval_days(f: CustomerFeatures) -> FloatArray:
    """Mean days between a repeat buyer's order days; NaN for one-time buyers."""
    gaps = f.order_days - 1
    out = np.full(len(gaps), np.nan)
    np.divide(f.span_days, gaps, out=out, where=gaps > 0)
    return out


def median_interval_days(f: CustomerFeatures) -> float:
    """The shop's median usual interval over repeat buyers (the one-time buyers' yardstick)."""
    intervals = usual_interval_days(f)
    intervals = intervals[np.isfinite(intervals) & (intervals > 0)]
    return float(np.median(intervals)) if intervals.size else FALLBACK_INTERVAL_DAYS


def assign_stages(
    f: CustomerFeatures, p_alive: FloatArray, config: StageConfig, shop_interval_days: float
) -> ObjectArray:
    """Stage name per customer (shared str objects; compare with ``==``)."""
    has = f.buyers
    checkout = f.last_abandoned_checkout_at
    since_checkout = f.as_of - checkout
    recent = np.isfinite(checkout) & (since_checkout >= -1.0)  # tolerate a day of clock skew
    if config.abandoned_within_days is not None:
        recent &= since_checkout <= config.abandoned_within_days
    abandoned = recent & ~has
    if config.abandoned_include_buyers:
        abandoned |= recent & has & (checkout > np.nan_to_num(f.last_order_at, nan=np.inf))

    interval = usual_interval_days(f)
    one_time_days = config.one_time_lapsed_days
    if one_time_days is None:
        one_time_days = config.lapsed_missed_intervals * shop_interval_days
    allowed = np.where(np.isfinite(interval), config.lapsed_missed_intervals * interval, one_time_days)
    allowed = np.maximum(allowed, config.lapsed_min_days)
    overdue = has & (f.recency_days > allowed)
    unlikely_alive = has & (p_alive < config.lapsed_p_alive_below)  # NaN (no model): False

    code = np.full(len(has), _PROSPECT, dtype=np.int8)
    code[has & (f.orders == 1)] = _FIRST
    code[has & (f.orders >= 2)] = _REPEAT
    code[overdue | unlikely_alive] = _LAPSED
    code[abandoned] = _ABANDONED
    names: ObjectArray = _NAMES[code]
    return names
