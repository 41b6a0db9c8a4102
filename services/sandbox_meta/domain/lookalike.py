"""Lookalike creation rules: the strictly typed ``lookalike_spec`` (v24+) and the seed checks."""

from __future__ import annotations

import json
import re
from typing import Any

from services.sandbox_meta.domain import errors
from services.sandbox_meta.domain.audience import MIN_SEED_MATCHED, Audience

TYPES = {"similarity": 0.01, "reach": 0.05, "custom_ratio": None}  # type -> implied ratio
SPEC_KEYS = frozenset(
    {"type", "ratio", "starting_ratio", "country", "location_spec", "allow_international_seeds"}
)
# Seeds other than a custom audience (pixels, pages, campaigns) are outside the sandbox.
UNSUPPORTED_SEED_KEYS = frozenset({"conversion_type", "origin_ids", "page_id", "origin"})
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def parse_spec(raw: str | None) -> dict[str, Any]:
    """Decode and validate ``lookalike_spec``; returns the normalised spec with its ratio."""
    if not raw:
        raise errors.invalid_parameter("lookalike_spec is required for subtype LOOKALIKE")
    try:
        spec = json.loads(raw)
    except ValueError:
        raise errors.invalid_json("lookalike_spec") from None
    if not isinstance(spec, dict):
        raise _bad("lookalike_spec must be a JSON object")
    for key in spec:
        if key in UNSUPPORTED_SEED_KEYS:
            raise _bad(
                f"lookalike_spec.{key}: only custom audience seeds (origin_audience_id) "
                "are supported by this sandbox"
            )
        if key not in SPEC_KEYS:
            raise _bad(f"lookalike_spec has an unknown field {key!r}")
    kind = spec.get("type")
    if kind is not None and (not isinstance(kind, str) or kind not in TYPES):
        raise _bad("lookalike_spec.type must be one of similarity, reach, custom_ratio")
    ratio = spec.get("ratio")
    if ratio is None:
        if kind is None:
            raise _bad("Set either lookalike_spec.type or lookalike_spec.ratio")
        implied = TYPES[kind]
        if implied is None:
            raise _bad("lookalike_spec.ratio is required with type custom_ratio")
        ratio = implied
    ratio = _ratio(ratio, "ratio", low=0.01)
    starting = spec.get("starting_ratio")
    if starting is not None:
        starting = _ratio(starting, "starting_ratio", low=0.0)
        if starting >= ratio:
            raise _bad("lookalike_spec.starting_ratio must be less than ratio")
    _check_location(spec)
    if "allow_international_seeds" in spec and not isinstance(spec["allow_international_seeds"], bool):
        raise _bad("lookalike_spec.allow_international_seeds must be a boolean")
    normalised = dict(spec)
    normalised["ratio"] = ratio
    if starting is not None:
        normalised["starting_ratio"] = starting
    return normalised


def check_seed(seed: Audience, spec: dict[str, Any], matched: int) -> None:
    """A seed must be a usable customer-file audience with at least 100 matched people."""
    if seed.subtype != "CUSTOM":
        raise _bad("origin_audience_id must be a customer file custom audience")
    if seed.flagged:
        raise errors.create_failed(
            "Source Audience Restricted",
            "The source audience has integrity restrictions (operation_status 471), so a "
            "lookalike cannot be created or updated from it.",
        )
    if seed.is_value_based and spec.get("type") != "custom_ratio":
        raise _bad("A lookalike from a value-based source audience must use lookalike_spec.type custom_ratio")
    if matched < MIN_SEED_MATCHED:
        raise errors.create_failed(
            "Source Audience Is Too Small",
            f"The source audience has {matched} matched people; a lookalike needs at least "
            f"{MIN_SEED_MATCHED} people from one country.",
        )


def same_lookalike(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Meta refuses a second lookalike with the same source, location and size (2654)."""
    keys = ("ratio", "starting_ratio", "country", "location_spec")
    return all(a.get(k) == b.get(k) for k in keys)


def duplicate() -> errors.GraphError:
    """The duplicate-lookalike error Meta returns."""
    return errors.create_failed(
        "Can't Create a Duplicate Lookalike",
        "You've already created a lookalike audience with the same source, country and size. "
        "Please try using a different source or different specifications.",
    )


def _ratio(value: object, name: str, *, low: float) -> float:
    # Since v24 lookalike_spec types are validated strictly: a ratio must be a JSON number.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(f"lookalike_spec.{name} must be a number, not {type(value).__name__}")
    number = float(value)
    steps = round(number * 100)
    if not (low <= number <= 0.20) or abs(number * 100 - steps) > 1e-6:
        raise _bad(f"lookalike_spec.{name} must be between {low:.2f} and 0.20 in steps of 0.01")
    return steps / 100


def _check_location(spec: dict[str, Any]) -> None:
    has_country, has_location = "country" in spec, "location_spec" in spec
    if has_country == has_location:
        raise _bad("Set exactly one of lookalike_spec.country or lookalike_spec.location_spec")
    if has_country:
        if not isinstance(spec["country"], str) or not _COUNTRY.match(spec["country"]):
            raise _bad("lookalike_spec.country must be an ISO 3166-1 alpha-2 code")
        return
    location = spec["location_spec"]
    geo = location.get("geo_locations") if isinstance(location, dict) else None
    if not isinstance(geo, dict):
        raise _bad("lookalike_spec.location_spec.geo_locations is required")
    countries, groups = geo.get("countries", []), geo.get("country_groups", [])
    if not isinstance(countries, list) or not isinstance(groups, list) or not (countries or groups):
        raise _bad("location_spec.geo_locations needs countries or country_groups")
    if any(not isinstance(c, str) or not _COUNTRY.match(c) for c in countries):
        raise _bad("location_spec.geo_locations.countries must be ISO 3166-1 alpha-2 codes")
    if any(not isinstance(g, str) or not g for g in groups):
        raise _bad("location_spec.geo_locations.country_groups must be strings")


def _bad(detail: str) -> errors.GraphError:
    return errors.invalid_parameter(detail, title="Invalid Lookalike Spec")
