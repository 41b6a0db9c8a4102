"""Label rules, vectorized: ICP / negative ICP / neutral with machine-readable reasons.

Relative thresholds (``above_percentile``, ``below_percentile``, ``top_percent``) are resolved
to a number from the shop's own buyers once (``resolve_cutoffs``) and then applied like absolute
ones, so an incremental rescore of a few customers uses the full rescore's cutoffs.

Reason format, one per matched condition, joined by ``;``, numbers with two decimals:
``aov=212.40>150.00``, ``return_rate=0.25>=0.20``, ``aov=212.40>p80(180.00)``,
``aov=12.00<p20(15.00)``, ``value=812.00>=top10%(640.00)``; a condition with ``also`` tests
reads ``discount_share=0.80>=0.50 and mean_discount_depth=0.31>=0.15``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shared.definitions.scoring import Condition, LabelRule, Profile

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

NEUTRAL, ICP, NEGATIVE_ICP = "neutral", "icp", "negative_icp"
REASON_SEPARATOR = ";"
AND = " and "  # between the tests of one condition with ``also`` tests
_LABEL_NAMES = np.array([NEUTRAL, ICP, NEGATIVE_ICP], dtype=object)

_SYMBOL = {
    "above": ">",
    "below": "<",
    "at_least": ">=",
    "at_most": "<=",
    "above_percentile": ">",
    "below_percentile": "<",
    "top_percent": ">=",
}


class MissingCutoffError(KeyError):
    """A relative threshold has no resolved cutoff: the calibration predates the profile."""


def percentile_of(condition: Condition) -> float:
    """The percentile a relative condition compares against (top 10% -> the 90th)."""
    if condition.op == "top_percent":
        return 100.0 - condition.threshold
    return condition.threshold


def cutoff_key(condition: Condition) -> str:
    """Name of a resolved cutoff, e.g. ``aov:p80``; shared by conditions on the same percentile."""
    return f"{condition.feature}:p{percentile_of(condition):g}"


def resolve_cutoffs(
    profile: Profile, inputs: Mapping[str, FloatArray], population: BoolArray
) -> dict[str, float]:
    """Each relative threshold of ``profile`` as a number, from ``population``'s finite values.

    Linear interpolation between order statistics (numpy's default); NaN when the population
    is empty, which then matches nobody.
    """
    cutoffs: dict[str, float] = {}
    for cond in profile.conditions:
        key = cutoff_key(cond)
        if not cond.is_relative or key in cutoffs:
            continue
        values = inputs[cond.feature][population]
        values = values[np.isfinite(values)]
        cutoffs[key] = float(np.percentile(values, percentile_of(cond))) if values.size else np.nan
    return cutoffs


def _threshold(cond: Condition, cutoffs: Mapping[str, float]) -> float:
    if not cond.is_relative:
        return cond.threshold
    try:
        return cutoffs[cutoff_key(cond)]
    except KeyError:
        raise MissingCutoffError(cutoff_key(cond)) from None


def _compare(values: FloatArray, op: str, threshold: float) -> BoolArray:
    # NaN compares False: a customer without the feature never matches a condition on it.
    if op in ("above", "above_percentile"):
        return values > threshold
    if op in ("below", "below_percentile"):
        return values < threshold
    if op in ("at_least", "top_percent"):
        return values >= threshold
    return values <= threshold


def _reason_suffix(cond: Condition, threshold: float) -> str:
    symbol = _SYMBOL[cond.op]
    if cond.op == "top_percent":
        return f"{symbol}top{cond.threshold:g}%({threshold:.2f})"
    if cond.is_relative:
        return f"{symbol}p{cond.threshold:g}({threshold:.2f})"
    return f"{symbol}{threshold:.2f}"


@dataclass(frozen=True)
class RuleMatch:
    """Whether a rule matched each customer, and each condition's own match."""

    matched: BoolArray
    conditions: tuple[BoolArray, ...]


def _match_condition(
    cond: Condition, inputs: Mapping[str, FloatArray], cutoffs: Mapping[str, float], orders: FloatArray
) -> BoolArray:
    """One condition with its ``also`` tests and its own minimum evidence."""
    hit = _compare(inputs[cond.feature], cond.op, _threshold(cond, cutoffs)) & (orders >= cond.min_orders)
    for extra in cond.also:
        hit &= _match_condition(extra, inputs, cutoffs, orders)
    return hit


def _reason_texts(cond: Condition, idx: npt.NDArray[np.intp], inputs: Mapping[str, FloatArray],
                  cutoffs: Mapping[str, float]) -> list[str]:  # fmt: skip
    """``feature=value<op>threshold`` for the customers at ``idx``, ``also`` tests joined by " and "."""
    head, tail = f"{cond.feature}=", _reason_suffix(cond, _threshold(cond, cutoffs))
    texts = [f"{head}{v:.2f}{tail}" for v in inputs[cond.feature][idx].tolist()]
    for extra in cond.also:
        more = _reason_texts(extra, idx, inputs, cutoffs)
        texts = [f"{a}{AND}{b}" for a, b in zip(texts, more, strict=True)]
    return texts


def match_rule(
    rule: LabelRule,
    inputs: Mapping[str, FloatArray],
    cutoffs: Mapping[str, float],
    orders: FloatArray,
    tenure_days: FloatArray,
) -> RuleMatch:
    """Evaluate one label rule: its conditions (all or any) and its minimum evidence."""
    evidence = (orders >= rule.min_orders) & (np.nan_to_num(tenure_days) >= rule.min_tenure_days)
    per_condition = tuple(_match_condition(c, inputs, cutoffs, orders) for c in rule.when)
    stacked = np.vstack(per_condition)
    hit = stacked.all(axis=0) if rule.match == "all" else stacked.any(axis=0)
    return RuleMatch(hit & evidence, per_condition)


def _reasons(
    rule: LabelRule,
    match: RuleMatch,
    rows: BoolArray,
    inputs: Mapping[str, FloatArray],
    cutoffs: Mapping[str, float],
) -> ObjectArray:
    """Reason strings for ``rows`` (the customers given this label), "" elsewhere."""
    out = np.full(len(rows), "", dtype=object)
    idx = np.flatnonzero(rows)
    columns: list[list[str]] = []
    for cond, hit in zip(rule.when, match.conditions, strict=True):
        hit_here = hit[idx]
        if not hit_here.any():
            continue
        texts = _reason_texts(cond, idx, inputs, cutoffs)
        if hit_here.all():
            columns.append(texts)
        else:
            columns.append([t if ok else "" for t, ok in zip(texts, hit_here.tolist(), strict=True)])
    if columns:
        joined = [REASON_SEPARATOR.join(filter(None, parts)) for parts in zip(*columns, strict=True)]
        out[idx] = np.array(joined, dtype=object)
    return out


@dataclass(frozen=True)
class Labels:
    """Per-customer label and reasons, plus each rule's raw match (before negative wins)."""

    label: ObjectArray
    reasons: ObjectArray
    icp_match: BoolArray
    negative_match: BoolArray


def apply_profile(
    profile: Profile,
    inputs: Mapping[str, FloatArray],
    cutoffs: Mapping[str, float],
    orders: FloatArray,
    tenure_days: FloatArray,
) -> Labels:
    """Label every customer: negative ICP wins over ICP; everyone else is neutral."""
    icp = match_rule(profile.icp, inputs, cutoffs, orders, tenure_days)
    negative = match_rule(profile.negative_icp, inputs, cutoffs, orders, tenure_days)
    is_negative = negative.matched
    is_icp = icp.matched & ~is_negative
    code = np.where(is_negative, 2, np.where(is_icp, 1, 0))
    label: ObjectArray = _LABEL_NAMES[code]  # shared str objects, not a million copies
    reasons = _reasons(profile.icp, icp, is_icp, inputs, cutoffs)
    negative_reasons = _reasons(profile.negative_icp, negative, is_negative, inputs, cutoffs)
    reasons[is_negative] = negative_reasons[is_negative]
    return Labels(label, reasons, icp.matched, negative.matched)
