"""What the ICP report says, computed from plain columns: label shares, trait lift, reasons, moves.

Pure numpy over one row per customer; the report adapter reads the columns and renders the
result. Lift is a trait's share among ICP customers over its share among all buyers: 2.0 means
ICP customers have the trait twice as often as the shop's buyers in general.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

LABEL_ORDER = ("icp", "neutral", "negative_icp")
FULL_PRICE, SOME_DISCOUNT, MOSTLY_DISCOUNT = "full price only", "some orders discounted", "mostly discounted"
NEW, GONE = "(new)", "(gone)"


@dataclass(frozen=True)
class LabelShare:
    """One label's size, and its share of historical net revenue and of predicted value."""

    label: str
    customers: int
    customer_share: float
    revenue: float
    revenue_share: float
    value: float
    value_share: float


def _share(part: float, whole: float) -> float:
    return part / whole if whole > 0 else float("nan")


def label_shares(labels: ObjectArray, revenue: FloatArray, value: FloatArray) -> list[LabelShare]:
    """Size and money per label (known labels first, then any other in name order)."""
    revenue = np.nan_to_num(revenue)
    value = np.nan_to_num(value)
    total_revenue, total_value = float(revenue.sum()), float(value.sum())
    names = [n for n in LABEL_ORDER if n in set(labels.tolist())]
    names += sorted(set(labels.tolist()) - set(LABEL_ORDER))
    out = []
    for name in names:
        rows = labels == name
        count = int(rows.sum())
        rev, val = float(revenue[rows].sum()), float(value[rows].sum())
        out.append(
            LabelShare(
                name,
                count,
                _share(count, len(labels)),
                rev,
                _share(rev, total_revenue),
                val,
                _share(val, total_value),
            )
        )
    return out


@dataclass(frozen=True)
class TraitLift:
    """How much more (lift > 1) or less often ICP customers have a trait than all buyers."""

    trait: str
    value: str
    icp_customers: int
    icp_share: float
    all_customers: int
    all_share: float
    lift: float


def trait_lifts(
    traits: Mapping[str, ObjectArray], icp: BoolArray, population: BoolArray, *, min_customers: int = 5
) -> list[TraitLift]:
    """Lift of every trait value held by at least ``min_customers`` of ``population``.

    Sorted by trait, then by lift (highest first). Empty values ("" = unknown) are skipped.
    """
    in_icp = icp & population
    n_icp, n_all = int(in_icp.sum()), int(population.sum())
    out: list[TraitLift] = []
    for trait, values in traits.items():
        everyone = Counter(values[population].tolist())
        ideal = Counter(values[in_icp].tolist())
        rows = []
        for value, count in everyone.items():
            if value in ("", None) or count < min_customers:
                continue
            icp_share, all_share = _share(ideal[value], n_icp), _share(count, n_all)
            rows.append(
                TraitLift(
                    trait, str(value), ideal[value], icp_share, count, all_share, _share(icp_share, all_share)
                )
            )
        out += sorted(rows, key=lambda r: (-np.nan_to_num(r.lift, nan=-1.0), r.value))
    return out


def discount_use(discount_share: FloatArray) -> ObjectArray:
    """A discount-use trait per customer from the share of their orders with a discount."""
    out = np.full(len(discount_share), "", dtype=object)
    known = np.isfinite(discount_share)
    out[known & (discount_share <= 0)] = FULL_PRICE
    out[known & (discount_share > 0) & (discount_share < 0.5)] = SOME_DISCOUNT
    out[known & (discount_share >= 0.5)] = MOSTLY_DISCOUNT
    return out


@dataclass(frozen=True)
class ReasonCount:
    """How many negative-ICP customers a condition (named by its feature) caught."""

    feature: str
    customers: int
    share: float  # of the negative-ICP customers


def reason_counts(reasons: Iterable[Sequence[str]]) -> list[ReasonCount]:
    """Customers per feature named in their reasons (``aov=18.00<p10(22.73)`` counts for aov)."""
    counts: Counter[str] = Counter()
    customers = 0
    for entry in reasons:
        customers += 1
        counts.update({reason.split("=", 1)[0] for reason in entry if reason})
    return [ReasonCount(feature, n, _share(n, customers)) for feature, n in counts.most_common()]


@dataclass(frozen=True)
class Movement:
    """Customers who moved from one label to another (``(new)``/``(gone)`` at the edges)."""

    before: str
    after: str
    customers: int


def movements(before: Sequence[str | None], after: Sequence[str | None]) -> list[Movement]:
    """Counts of label moves between two snapshots of the same customers (None: no label)."""
    pairs = Counter((b or NEW, a or GONE) for b, a in zip(before, after, strict=True) if b != a and (b or a))
    return [Movement(b, a, n) for (b, a), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))]
