"""Custom audiences: creation rules, statuses and the size range Meta reports for them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from services.sandbox_meta.domain import errors

MAX_CUSTOM_PER_ACCOUNT = 500  # "500 standard data file custom audiences" (custom audience FAQ)
MAX_LOOKALIKES_PER_ACCOUNT = 500  # "500 lookalike audiences" (same FAQ)
MIN_SEED_MATCHED = 100  # "Origin audiences must have at least 100 members" (lookalike guide)
MIN_DELIVERABLE = 100  # below this delivery_status is 300 "too small"
SIZE_FLOOR = 1_000  # Meta does not reveal sizes under 1,000; small audiences report the floor
REPLACE_MAX_MEMBERS = 100_000_000  # usersreplace refuses audiences of 100M+ (2650/1870144)

FILE_SOURCES = frozenset({"USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"})
AUDIENCE_LABELS = frozenset(
    {
        "APP_USERS",
        "AT_RISK",
        "CART_ABANDONERS",
        "DISENGAGED",
        "DISQUALIFIED_LEADS",
        "ENGAGED_USERS",
        "GENERAL_CUSTOMERS",
        "HIGH_VALUE_CUSTOMERS",
        "LOW_VALUE_CUSTOMERS",
        "OTHER_1",
        "OTHER_2",
        "OTHER_3",
        "QUALIFIED_LEADS",
        "RECENT_PURCHASERS",
        "TRIAL_USERS",
    }
)

NORMAL = (200, "Normal")
REPLACE_IN_PROGRESS = (414, "Replace in progress: the audience is being replaced with a new set of users.")
REPLACE_ERROR = (
    415,
    "Replace error: the last replace did not finish; the audience holds the "
    "users received before the session ended.",
)
BUILDING = (441, "We're finding people who are similar to your source audience. This may take up to 6 hours.")
FLAGGED = (
    471,
    "The custom audience or lookalike is blocked because it suggests the use of "
    "information (e.g., health, financial) not allowed under Meta's terms, and is "
    "restricted from running ads. Review the audience and remove prohibited "
    "information, or choose a different one.",
)
DELIVERY_READY = (200, "This audience is ready for use.")
DELIVERY_TOO_SMALL = (300, "This audience is too small to use. It needs to have at least 100 people.")
DELIVERY_RESTRICTED = (400, "This audience can't be used because it has integrity restrictions.")


@dataclass
class Audience:
    """The stored state of one custom or lookalike audience."""

    id: str
    account_id: str
    name: str
    subtype: str
    time_created: int
    description: str | None = None
    customer_file_source: str | None = None
    is_value_based: bool = False
    audience_labels: list[str] = field(default_factory=list)
    data_shape: str | None = None  # recorded on first upload: HASHES_OR_USER_IDS | MULTI_HASHES
    origin_audience_id: str | None = None
    lookalike_spec: dict[str, Any] | None = None
    flagged: bool = False
    replace_error: bool = False
    time_updated: int = 0
    time_content_updated: int = 0
    live_gen: int = 0
    ready_at: int = 0  # lookalikes populate after a delay; -1 counts until then


def parse_bool(raw: str | None, name: str, default: bool = False) -> bool:
    """Graph booleans arrive as ``true``/``false`` (SDK) or ``1``/``0`` (curl examples)."""
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise errors.invalid_parameter(f"Param {name} must be a boolean")


def parse_custom(params: dict[str, str]) -> dict[str, Any]:
    """Validate a customer-file custom audience create; return the fields to store."""
    name = _name(params)
    source = params.get("customer_file_source")
    if source not in FILE_SOURCES:
        raise errors.invalid_parameter(
            "customer_file_source is required for customer file custom audiences and must be "
            "one of " + ", ".join(sorted(FILE_SOURCES)),
            title="Missing Customer File Source",
        )
    labels: list[str] = []
    if params.get("audience_labels"):
        try:
            decoded = json.loads(params["audience_labels"])
        except ValueError:
            raise errors.invalid_json("audience_labels") from None
        if not isinstance(decoded, list) or any(v not in AUDIENCE_LABELS for v in decoded):
            raise errors.invalid_parameter("audience_labels must be a list of audience labels")
        labels = [str(v) for v in decoded]
    return {
        "name": name,
        "description": params.get("description") or None,
        "customer_file_source": source,
        "is_value_based": parse_bool(params.get("is_value_based"), "is_value_based"),
        "audience_labels": labels,
    }


def _name(params: dict[str, str]) -> str:
    name = (params.get("name") or "").strip()
    if not name:
        raise errors.invalid_parameter("The parameter name is required")
    return name


def lookalike_size(spec: dict[str, Any]) -> int:
    """People in a built lookalike: the ratio band of the targeted countries' populations."""
    band = float(spec["ratio"]) - float(spec.get("starting_ratio", 0.0))
    countries = spec_countries(spec)
    population = sum(COUNTRY_POPULATION.get(c, DEFAULT_POPULATION) for c in countries)
    return int(population * band)


def spec_countries(spec: dict[str, Any]) -> list[str]:
    """The countries a lookalike spec targets (country groups count as the default size)."""
    if "country" in spec:
        return [str(spec["country"])]
    geo = spec.get("location_spec", {}).get("geo_locations", {})
    return [str(c) for c in geo.get("countries", [])] + [str(g) for g in geo.get("country_groups", [])]


# Rough monthly audiences per country for lookalike sizes; unknown countries use the default.
COUNTRY_POPULATION: dict[str, int] = {
    "US": 240_000_000,
    "IN": 370_000_000,
    "BR": 130_000_000,
    "ID": 120_000_000,
    "MX": 90_000_000,
    "GB": 50_000_000,
    "DE": 45_000_000,
    "FR": 45_000_000,
    "IT": 35_000_000,
    "ES": 30_000_000,
    "CA": 30_000_000,
    "AU": 20_000_000,
    "NL": 12_000_000,
    "SE": 7_000_000,
}
DEFAULT_POPULATION = 10_000_000


def size_bounds(people: int) -> tuple[int, int]:
    """The ``approximate_count_lower/upper_bound`` Meta reports for ``people`` matched users.

    Meta reports a range (its reference example: 5,000 -> 4,900..5,100), never exact counts,
    and hides sizes below 1,000 behind the floor.
    """
    if people < SIZE_FLOOR:
        return SIZE_FLOOR, SIZE_FLOOR
    lower = max(SIZE_FLOOR, _round_sig(people * 0.98, math.floor))
    upper = _round_sig(people * 1.02, math.ceil)
    return lower, upper


def _round_sig(value: float, rounding: Any) -> int:
    """Round to two significant digits in the given direction."""
    digits = int(math.log10(value)) + 1
    scale = 10 ** max(digits - 2, 0)
    return int(rounding(value / scale) * scale)


def operation_status(audience: Audience, *, replacing: bool, now: int) -> tuple[int, str]:
    """``operation_status`` code and description; flagged wins over everything."""
    if audience.flagged:
        return FLAGGED
    if replacing:
        return REPLACE_IN_PROGRESS
    if audience.replace_error:
        return REPLACE_ERROR
    if audience.subtype == "LOOKALIKE" and now < audience.ready_at:
        return BUILDING
    return NORMAL


def delivery_status(audience: Audience, people: int) -> tuple[int, str]:
    """``delivery_status``: restricted when flagged, too small under 100 people."""
    if audience.flagged:
        return DELIVERY_RESTRICTED
    if people < MIN_DELIVERABLE:
        return DELIVERY_TOO_SMALL
    return DELIVERY_READY


def approximate_people(audience: Audience, matched: int, now: int) -> int | None:
    """The people count behind the size range; ``None`` for a lookalike still building."""
    if audience.subtype != "LOOKALIKE":
        return matched
    if now < audience.ready_at or audience.lookalike_spec is None:
        return None
    return lookalike_size(audience.lookalike_spec)
