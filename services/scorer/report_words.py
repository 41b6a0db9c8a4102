"""Label reasons in words: ``aov=12.00<p20(15.00)`` -> "average order value below 15.00 (bottom 20%)".

The scorer stores each matched condition as compact text (``services/scorer/domain/rules.py``
documents the format); the report groups customers by condition, so the customer's own value is
dropped and the threshold kept. Pure string work, no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

FEATURE_WORDS = {
    "orders": "orders placed",
    "aov": "average order value",
    "ltv": "net revenue to date",
    "orders_per_year": "orders per year",
    "return_rate": "share of spend refunded",
    "return_rate_orders": "share of orders refunded",
    "discount_share": "share of orders with a discount",
    "mean_discount_depth": "average discount depth",
    "min_discount_depth": "smallest discount taken",
    "full_price_share": "share of orders at full price",
    "tickets": "support tickets",
    "tickets_per_order": "support tickets per order",
    "recency_days": "days since the last order",
    "tenure_days": "days since the first order",
    "value": "predicted value",
    "expected_orders": "expected orders",
    "p_alive": "chance still active",
}
# Value models in words: the baseline runs as one of the first four (``domain/model.py`` falls
# back when a fit is impossible), the backtest compares it with the learned model and the blend.
MODEL_WORDS = {
    "bgnbd_gamma_gamma": "BG/NBD + Gamma-Gamma",
    "bgnbd_observed_spend": "BG/NBD + own order value (Gamma-Gamma not fitted)",
    "historical_rate": "order rate x order value (BG/NBD not fitted)",
    "none": "none (no buyers)",
    "learned": "learned",
    "blend": "blend",
}
MONEY = frozenset({"aov", "ltv", "value"})  # thresholds in the base currency
FRACTIONS = frozenset(
    {"return_rate", "return_rate_orders", "discount_share", "mean_discount_depth", "min_discount_depth"}
    | {"full_price_share", "p_alive"}
)
OPERATOR_WORDS = {">": "above", "<": "below", ">=": "at least", "<=": "at most"}
AND = " and "

_TEST = re.compile(
    r"^(?P<feature>[a-z_]+)=(?P<value>[^<>=]*)(?P<op>>=|<=|>|<)"
    r"(?:(?P<relative>p[\d.]+|top[\d.]+%)\()?(?P<threshold>-?[\d.]+|nan|inf)\)?$"
)


@dataclass(frozen=True)
class ReasonLine:
    """One condition in words, and how many customers of ``label`` it caught."""

    label: str
    condition: str
    words: str
    customers: int
    share: float  # of the label's customers


def condition_of(reason: str) -> str:
    """The reason without the customer's own value: ``aov<p20(15.00)``; the text itself if unparsed."""
    parts = []
    for test in reason.split(AND):
        found = _TEST.match(test.strip())
        if found is None:
            return reason
        relative = found["relative"]
        threshold = f"{relative}({found['threshold']})" if relative else found["threshold"]
        parts.append(f"{found['feature']}{found['op']}{threshold}")
    return AND.join(parts)


def _number(feature: str, text: str, currency: str) -> str:
    try:
        amount = float(text)
    except ValueError:
        return text
    if feature in FRACTIONS:
        return f"{amount:.0%}"
    if feature in MONEY:
        return f"{amount:,.2f} {currency}"
    return f"{amount:,.2f}".rstrip("0").rstrip(".")


def _relative(relative: str) -> str:
    if relative.startswith("top"):
        return f"the shop's top {relative[3:-1]}%"
    pct = float(relative[1:])
    return f"the {pct:g}th percentile of buyers"


def in_words(condition: str, currency: str) -> str:
    """A condition (as ``condition_of`` gives it) in words, thresholds included."""
    phrases = []
    for test in condition.split(AND):
        found = re.match(
            r"^(?P<feature>[a-z_]+)(?P<op>>=|<=|>|<)(?:(?P<relative>p[\d.]+|top[\d.]+%)\()?"
            r"(?P<threshold>[^)]*)\)?$",
            test.strip(),
        )
        if found is None:
            return condition
        feature = found["feature"]
        name = FEATURE_WORDS.get(feature, feature.replace("_", " "))
        phrase = f"{name} {OPERATOR_WORDS[found['op']]} {_number(feature, found['threshold'], currency)}"
        if found["relative"]:
            phrase += f" ({_relative(found['relative'])})"
        phrases.append(phrase)
    return AND.join(phrases)


def reason_lines(rows: Iterable[tuple[str, Sequence[str]]], currency: str) -> list[ReasonLine]:
    """Customers per (label, condition) over ``(label, reasons)`` rows, most common first."""
    counts: Counter[tuple[str, str]] = Counter()
    per_label: Counter[str] = Counter()
    for label, reasons in rows:
        per_label[label] += 1
        counts.update({(label, condition_of(r)) for r in reasons if r})
    ordered = sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
    return [
        ReasonLine(label, cond, in_words(cond, currency), n, n / per_label[label])
        for (label, cond), n in ordered
    ]
