"""The ``scoring:`` YAML section: label profiles, value model, stages, change tolerance.

``load_scoring(mapping)`` validates the section with marshmallow and returns a frozen
``ScoringConfig``; errors name the bad key path (``scoring.profiles.mine.icp.when.0.above``).
The built-in profiles (``default`` and ``seed``) are always available; a profile of the same
name in the YAML replaces the built-in one. Every other key falls back to its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

LABELS = ("neutral", "icp", "negative_icp")
STAGES = ("prospect", "abandoned_checkout", "first_time", "repeat", "lapsed")

#: Per-customer numbers a rule may test; the scorer's features and value model provide each.
RULE_FEATURES = (
    "orders",
    "aov",
    "ltv",
    "orders_per_year",
    "return_rate",
    "return_rate_orders",
    "discount_share",
    "mean_discount_depth",
    "min_discount_depth",
    "full_price_share",
    "tickets",
    "tickets_per_order",
    "recency_days",
    "tenure_days",
    "value",
    "expected_orders",
    "p_alive",
)

Operator = Literal[
    "above", "below", "at_least", "at_most", "above_percentile", "below_percentile", "top_percent"
]
OPERATORS: tuple[Operator, ...] = (
    "above",
    "below",
    "at_least",
    "at_most",
    "above_percentile",
    "below_percentile",
    "top_percent",
)
RELATIVE_OPERATORS = frozenset({"above_percentile", "below_percentile", "top_percent"})


class ScoringConfigError(ValueError):
    """The ``scoring:`` section is invalid; the message lists each bad key path."""


@dataclass(frozen=True)
class Condition:
    """One test on one feature, e.g. ``aov > 150`` or ``aov > p80 of the shop``."""

    feature: str
    op: Operator
    threshold: float
    min_orders: int = 0  # extra evidence this condition alone needs (0: the label's minimum)
    # Tests that must hold as well (YAML ``and:``), e.g. most orders discounted *and* deep
    # discounts for the shop: one condition, one reason, inside a rule that matches ``any``.
    also: tuple[Condition, ...] = ()

    @property
    def is_relative(self) -> bool:
        """True when the threshold is resolved from the shop's own distribution."""
        return self.op in RELATIVE_OPERATORS

    def flat(self) -> tuple[Condition, ...]:
        """This test and every ``also`` test, each on its own (for resolving cutoffs)."""
        return (self, *(part for extra in self.also for part in extra.flat()))


@dataclass(frozen=True)
class LabelRule:
    """When a label applies: all or any of its conditions, given minimum evidence."""

    match: Literal["all", "any"]
    when: tuple[Condition, ...]
    min_orders: int = 1
    min_tenure_days: float = 0.0


@dataclass(frozen=True)
class Profile:
    """A named pair of rules; negative ICP wins when both match."""

    name: str
    icp: LabelRule
    negative_icp: LabelRule
    description: str = ""

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """Every test of both rules, ``also`` tests included."""
        return tuple(part for cond in self.icp.when + self.negative_icp.when for part in cond.flat())


@dataclass(frozen=True)
class ModelConfig:
    """The predicted-value model: horizon, fitting sample and fallbacks."""

    horizon_days: float = 365.0
    fit_sample: int = 200_000  # customers sampled for the maximum-likelihood fit
    min_repeat_buyers: int = 30  # fewer: no BG/NBD / Gamma-Gamma fit, historical rate instead
    return_shrinkage_orders: float = 2.0  # pseudo-orders pulling a return rate to the shop's
    frequency_floor_days: float = 365.0  # shortest span for orders_per_year (new customers)
    seed: int = 20050101  # sampling seed, so a rescore of the same facts fits the same model
    learned: bool = True  # backtest a learned model and a blend against BG/NBD, use the best
    learned_min_buyers: int = 1000  # fewer buyers at the backtest cut: BG/NBD + Gamma-Gamma only
    learned_trees: int = 150  # boosting rounds of each LightGBM stage
    learned_sample: int = 100_000  # customers the choice and the training read (by key), at most


@dataclass(frozen=True)
class StageConfig:
    """Lifecycle stage definitions."""

    abandoned_within_days: float | None = 30.0  # None: an abandoned checkout never expires
    abandoned_include_buyers: bool = False  # buyers whose latest checkout was abandoned too
    lapsed_p_alive_below: float = 0.2
    lapsed_missed_intervals: float = 3.0
    lapsed_min_days: float = 90.0
    one_time_lapsed_days: float | None = None  # None: missed intervals x shop median interval


@dataclass(frozen=True)
class MaterialChange:
    """When a rescore is worth a ``labels.changed`` message."""

    value_relative: float = 0.10
    value_absolute: float = 1.0  # base currency; smaller moves never count


@dataclass(frozen=True)
class ScoringConfig:
    """The validated ``scoring:`` section."""

    profile: str
    profiles: Mapping[str, Profile] = field(hash=False)
    model: ModelConfig = ModelConfig()
    stages: StageConfig = StageConfig()
    material_change: MaterialChange = MaterialChange()

    @property
    def active(self) -> Profile:
        """The profile named by ``profile``."""
        return self.profiles[self.profile]


class _ConditionSchema(Schema):
    feature = fields.String(required=True, validate=validate.OneOf(RULE_FEATURES))
    above = fields.Float(allow_nan=False)
    below = fields.Float(allow_nan=False)
    at_least = fields.Float(allow_nan=False)
    at_most = fields.Float(allow_nan=False)
    above_percentile = fields.Float(validate=validate.Range(0, 100, min_inclusive=False))
    below_percentile = fields.Float(validate=validate.Range(0, 100, max_inclusive=False))
    top_percent = fields.Float(validate=validate.Range(0, 100, min_inclusive=False))
    min_orders = fields.Integer(load_default=0, validate=validate.Range(min=0))
    also = fields.List(
        fields.Nested(lambda: _ConditionSchema()),
        data_key="and",
        load_default=list,
        validate=validate.Length(1),
    )

    @validates_schema
    def _one_operator(self, data: dict[str, Any], **_: Any) -> None:
        given = [op for op in OPERATORS if op in data]
        if len(given) != 1:
            raise ValidationError(f"give exactly one of {', '.join(OPERATORS)} (got {len(given)})", "_schema")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Condition:
        op = next(op for op in OPERATORS if op in data)
        return Condition(data["feature"], op, float(data[op]), data["min_orders"], tuple(data["also"]))


class _LabelRuleSchema(Schema):
    match = fields.String(load_default="all", validate=validate.OneOf(("all", "any")))
    when = fields.List(fields.Nested(_ConditionSchema), required=True, validate=validate.Length(1))
    min_orders = fields.Integer(load_default=1, validate=validate.Range(min=0))
    min_tenure_days = fields.Float(load_default=0.0, validate=validate.Range(min=0))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> LabelRule:
        return LabelRule(data["match"], tuple(data["when"]), data["min_orders"], data["min_tenure_days"])


class _ProfileSchema(Schema):
    description = fields.String(load_default="")
    icp = fields.Nested(_LabelRuleSchema, required=True)
    negative_icp = fields.Nested(_LabelRuleSchema, required=True)


class _ModelSchema(Schema):
    horizon_days = fields.Float(load_default=365.0, validate=validate.Range(min=1))
    fit_sample = fields.Integer(load_default=200_000, validate=validate.Range(min=100))
    min_repeat_buyers = fields.Integer(load_default=30, validate=validate.Range(min=1))
    return_shrinkage_orders = fields.Float(load_default=2.0, validate=validate.Range(min=0))
    frequency_floor_days = fields.Float(load_default=365.0, validate=validate.Range(min=1))
    seed = fields.Integer(load_default=20050101)
    learned = fields.Boolean(load_default=True)
    learned_min_buyers = fields.Integer(load_default=1000, validate=validate.Range(min=50))
    learned_trees = fields.Integer(load_default=150, validate=validate.Range(min=1, max=5000))
    learned_sample = fields.Integer(load_default=100_000, validate=validate.Range(min=1000))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ModelConfig:
        return ModelConfig(**data)


class _StageSchema(Schema):
    abandoned_within_days = fields.Float(load_default=30.0, allow_none=True, validate=validate.Range(min=0))
    abandoned_include_buyers = fields.Boolean(load_default=False)
    lapsed_p_alive_below = fields.Float(load_default=0.2, validate=validate.Range(0, 1))
    lapsed_missed_intervals = fields.Float(load_default=3.0, validate=validate.Range(min=1))
    lapsed_min_days = fields.Float(load_default=90.0, validate=validate.Range(min=0))
    one_time_lapsed_days = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=1))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> StageConfig:
        return StageConfig(**data)


class _MaterialChangeSchema(Schema):
    value_relative = fields.Float(load_default=0.10, validate=validate.Range(min=0))
    value_absolute = fields.Float(load_default=1.0, validate=validate.Range(min=0))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> MaterialChange:
        return MaterialChange(**data)


class _ScoringSchema(Schema):
    profile = fields.String(load_default="default")
    profiles = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)
    model = fields.Nested(_ModelSchema, load_default=ModelConfig)
    stages = fields.Nested(_StageSchema, load_default=StageConfig)
    material_change = fields.Nested(_MaterialChangeSchema, load_default=MaterialChange)


def _paths(messages: Any, prefix: str) -> list[str]:
    """Flatten marshmallow's nested error dict into ``a.b.0.c: message`` lines."""
    if isinstance(messages, Mapping):
        out: list[str] = []
        for key, sub in messages.items():
            out += _paths(sub, prefix if key == "_schema" else f"{prefix}.{key}")
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix}: {m}" for m in messages]
    if isinstance(messages, list):
        return [line for m in messages for line in _paths(m, prefix)]
    return [f"{prefix}: {messages}"]


def _profile(name: str, raw: Any) -> Profile:
    data = _ProfileSchema().load(raw)
    return Profile(name, data["icp"], data["negative_icp"], data["description"])


def load_scoring(mapping: Mapping[str, Any] | None, *, path: str = "scoring") -> ScoringConfig:
    """Validate the ``scoring:`` mapping (None or empty: all defaults) into a ``ScoringConfig``."""
    errors: list[str] = []
    if mapping is not None and not isinstance(mapping, Mapping):
        raise ScoringConfigError(f"{path}: expected a mapping, got {type(mapping).__name__}")
    try:
        data = _ScoringSchema().load(dict(mapping or {}))
    except ValidationError as exc:
        errors += _paths(exc.messages, path)
        data = exc.valid_data if isinstance(exc.valid_data, dict) else {}
    profiles = dict(BUILTIN_PROFILE_OBJECTS)
    for name, raw in data.get("profiles", {}).items():
        try:
            profiles[name] = _profile(name, raw)
        except ValidationError as exc:
            errors += _paths(exc.messages, f"{path}.profiles.{name}")
    if "profile" in data and data["profile"] not in profiles:
        known = ", ".join(sorted(profiles))
        errors.append(f"{path}.profile: unknown profile {data['profile']!r} (known: {known})")
    if errors:
        raise ScoringConfigError("\n".join(errors))
    return ScoringConfig(
        profile=data["profile"],
        profiles=MappingProxyType(profiles),
        model=data["model"],
        stages=data["stages"],
        material_change=data["material_change"],
    )


# Built-in profiles, in the same shape as the YAML (docs/scoring.md explains each choice).
# "default" works on any shop: ICP is the top of the shop's own predicted value, negative ICP the
# bottom of its own AOV, plus currency-free rates. "seed" is the seed brief's absolute rules.
BUILTIN_PROFILES: Mapping[str, Mapping[str, Any]] = {
    "default": {
        "description": "relative to the shop: top 15% predicted value with guards",
        "icp": {
            "match": "all",
            "min_orders": 2,
            "when": [
                # Of buyers, one-time and new ones included: they cannot be ICP (2 orders) but
                # take some of the top slots, so 15% of buyers leaves about 10% as ICP.
                {"feature": "value", "top_percent": 15},
                {"feature": "return_rate", "at_most": 0.25},
                {"feature": "min_discount_depth", "below": 0.40},
                {"feature": "tickets_per_order", "at_most": 1.0},
            ],
        },
        "negative_icp": {
            "match": "any",
            "min_orders": 1,
            "when": [
                # One cheap order says little (a first try, a gift); a habit of them does.
                {"feature": "aov", "below_percentile": 10, "min_orders": 2},
                {"feature": "return_rate", "above": 0.30},
                # Discount hunters: a code on at least half the orders, 15%+ off on average,
                # and deeper than three in four of the shop's buyers (an always-on-sale shop
                # has none).
                {
                    "feature": "discount_share",
                    "at_least": 0.5,
                    "min_orders": 2,
                    "and": [
                        {"feature": "mean_discount_depth", "at_least": 0.15},
                        {"feature": "mean_discount_depth", "above_percentile": 75},
                    ],
                },
                {"feature": "tickets_per_order", "above": 1.0},
            ],
        },
    },
    "seed": {
        "description": "the seed brief's absolute rules, in the base currency",
        "icp": {
            "match": "all",
            "min_orders": 1,
            "when": [
                {"feature": "aov", "above": 150},
                {"feature": "ltv", "above": 500},
                {"feature": "orders_per_year", "at_least": 3},
            ],
        },
        "negative_icp": {
            "match": "any",
            "min_orders": 1,
            "when": [
                {"feature": "aov", "below": 50},
                {"feature": "return_rate", "above": 0.20},
                {"feature": "min_discount_depth", "at_least": 0.40},
                {"feature": "tickets_per_order", "above": 1.0},
            ],
        },
    },
}
BUILTIN_PROFILE_OBJECTS: Mapping[str, Profile] = MappingProxyType(
    {name: _profile(name, raw) for name, raw in BUILTIN_PROFILES.items()}
)
DEFAULT_SCORING: ScoringConfig = load_scoring(None)
