"""The ``audiences:`` YAML section: who is in each audience and where it is sent.

An audience selects customers by label and lifecycle stage; ``role: exclusion`` marks a
suppression list. Destinations say how each platform receives it (value-based seed, lookalike
spec, membership duration). Exclusion wins: a customer selected by an exclusion audience is
never in an include audience of the same destination.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from shared.definitions.scoring import LABELS, STAGES

GOOGLE_APIS = ("datamanager", "google_ads")  # the two ways to Customer Match (AD_APIS.md 2.8)
KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="must be lowercase letters, digits and _ (max 64)")


class AudienceConfigError(ValueError):
    """The ``audiences:`` section is invalid; the message names the bad key path."""


@dataclass(frozen=True)
class Selection:
    """Which customers: every non-empty set must contain the customer's value."""

    labels: frozenset[str] = frozenset()
    labels_not: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    stages_not: frozenset[str] = frozenset()
    min_value: float | None = None

    def matches(self, label: str, stage: str | None, value: float | None = None) -> bool:
        """Whether one customer's label/stage/value is selected."""
        if self.labels and label not in self.labels:
            return False
        if label in self.labels_not:
            return False
        if self.stages and stage not in self.stages:
            return False
        if stage in self.stages_not:
            return False
        return self.min_value is None or (value is not None and value >= self.min_value)


@dataclass(frozen=True)
class Lookalike:
    """A Meta lookalike built from the audience (one per country)."""

    countries: tuple[str, ...]
    ratio: float = 0.01
    starting_ratio: float | None = None


@dataclass(frozen=True)
class MetaDestination:
    """How the audience goes to Meta."""

    accounts: tuple[str, ...] = ()  # empty: every configured Meta ad account
    value_based: bool = False
    lookalike: Lookalike | None = None


@dataclass(frozen=True)
class GoogleDestination:
    """How the audience goes to Google Customer Match."""

    accounts: tuple[str, ...] = ()
    membership_days: int = 540
    # Which Google API uploads it: the Data Manager API (default; open to every advertiser) or the
    # Google Ads API (only developer tokens Google allowlisted for Customer Match before 2026-04-01).
    api: str = "datamanager"


@dataclass(frozen=True)
class AudienceDefinition:
    """One declarative audience."""

    key: str
    select: Selection
    role: str = "include"
    description: str = ""
    meta: MetaDestination | None = None
    google: GoogleDestination | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)


class _SelectSchema(Schema):
    class Meta:
        unknown = RAISE

    label = fields.Raw(load_default=None)
    label_not = fields.Raw(load_default=None)
    stage = fields.Raw(load_default=None)
    stage_not = fields.Raw(load_default=None)
    min_value = fields.Float(load_default=None, validate=validate.Range(min=0))

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        for name, allowed in (
            ("label", LABELS),
            ("label_not", LABELS),
            ("stage", STAGES),
            ("stage_not", STAGES),
        ):
            for item in _as_set(data.get(name)):
                if item not in allowed:
                    raise ValidationError(f"unknown value {item!r}; one of {', '.join(allowed)}", name)


def _as_set(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise ValidationError("must be a name or a list of names")


class _LookalikeSchema(Schema):
    class Meta:
        unknown = RAISE

    countries = fields.List(
        fields.Str(validate=validate.Regexp(r"^[A-Z]{2}$", error="ISO-3166 alpha-2")),
        required=True,
        validate=validate.Length(min=1),
    )
    # Meta: ratio 0.01-0.20 in 0.01 steps; starting_ratio below ratio (tiers).
    ratio = fields.Float(load_default=0.01, validate=validate.Range(min=0.01, max=0.20))
    starting_ratio = fields.Float(load_default=None, validate=validate.Range(min=0.0, max=0.19))

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if abs(round(data["ratio"] * 100) - data["ratio"] * 100) > 1e-9:
            raise ValidationError("must be a multiple of 0.01", "ratio")
        if data.get("starting_ratio") is not None and data["starting_ratio"] >= data["ratio"]:
            raise ValidationError("must be below ratio", "starting_ratio")


class _MetaSchema(Schema):
    class Meta:
        unknown = RAISE

    accounts = fields.List(
        fields.Str(validate=validate.Regexp(r"^act_\d+$", error="must look like act_123")),
        load_default=list,
    )
    value_based = fields.Bool(load_default=False)
    lookalike = fields.Nested(_LookalikeSchema, load_default=None)


class _GoogleSchema(Schema):
    class Meta:
        unknown = RAISE

    accounts = fields.List(
        fields.Str(validate=validate.Regexp(r"^\d{10}$", error="10-digit customer id")),
        load_default=list,
    )
    # Customer Match: membership_life_span 0..540 days (v26 proto; 10000 "no expiry" is out of range).
    membership_days = fields.Int(load_default=540, validate=validate.Range(min=1, max=540))
    api = fields.Str(load_default="datamanager", validate=validate.OneOf(GOOGLE_APIS))


class _DestinationsSchema(Schema):
    class Meta:
        unknown = RAISE

    meta = fields.Nested(_MetaSchema, load_default=None, allow_none=True)
    google = fields.Nested(_GoogleSchema, load_default=None, allow_none=True)


class _AudienceSchema(Schema):
    class Meta:
        unknown = RAISE

    key = fields.Str(required=True, validate=KEY)
    description = fields.Str(load_default="")
    select = fields.Nested(_SelectSchema, required=True)
    role = fields.Str(load_default="include", validate=validate.OneOf(("include", "exclusion")))
    destinations = fields.Nested(_DestinationsSchema, required=True)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        meta = (data.get("destinations") or {}).get("meta")
        if meta and data.get("role") == "exclusion" and (meta["value_based"] or meta["lookalike"]):
            raise ValidationError(
                "an exclusion audience cannot be a value-based seed or lookalike", "destinations"
            )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> AudienceDefinition:
        sel = data["select"]
        meta = data["destinations"].get("meta")
        google = data["destinations"].get("google")
        lookalike = meta.get("lookalike") if meta else None
        return AudienceDefinition(
            key=data["key"],
            description=data["description"],
            role=data["role"],
            select=Selection(
                _as_set(sel["label"]),
                _as_set(sel["label_not"]),
                _as_set(sel["stage"]),
                _as_set(sel["stage_not"]),
                sel["min_value"],
            ),
            meta=MetaDestination(
                tuple(meta["accounts"]),
                meta["value_based"],
                Lookalike(tuple(lookalike["countries"]), lookalike["ratio"], lookalike["starting_ratio"])
                if lookalike
                else None,
            )
            if meta is not None
            else None,
            google=GoogleDestination(tuple(google["accounts"]), google["membership_days"], google["api"])
            if google is not None
            else None,
        )


def _paths(messages: Any, prefix: str) -> list[str]:
    if isinstance(messages, dict):
        return [p for k, v in messages.items() for p in _paths(v, f"{prefix}.{k}")]
    if isinstance(messages, list) and messages and not all(isinstance(m, str) for m in messages):
        return [p for m in messages for p in _paths(m, prefix)]
    return [f"{prefix}: {'; '.join(map(str, messages)) if isinstance(messages, list) else messages}"]


def load_audiences(items: Any, *, path: str = "audiences") -> tuple[AudienceDefinition, ...]:
    """Validate the ``audiences:`` list; keys must be unique."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise AudienceConfigError(f"{path}: must be a list of audiences")
    out: list[AudienceDefinition] = []
    errors: list[str] = []
    for i, item in enumerate(items):
        try:
            loaded = _AudienceSchema().load(item if isinstance(item, dict) else {"_": item})
            out.append(AudienceDefinition(**{**loaded.__dict__, "raw": item}))
        except ValidationError as exc:
            errors.extend(_paths(exc.messages, f"{path}.{i}"))
    keys = [a.key for a in out]
    errors.extend(f"{path}: duplicate key {k!r}" for k in sorted({k for k in keys if keys.count(k) > 1}))
    if errors:
        raise AudienceConfigError("\n".join(errors))
    return tuple(out)
