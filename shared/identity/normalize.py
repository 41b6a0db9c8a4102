"""Normalize and hash one value or a whole column for a platform field.

``normalize`` is the reference path. ``normalize_column`` is the batch path used on every order
and nightly refresh: it normalizes each distinct (value, country) once, takes the email fast path
when it can, and reuses parsed phones across calls. Both return the same results.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from shared.identity.email_column import email_column
from shared.identity.places import region_of
from shared.identity.result import (
    Normalized,
    Platform,
    Reason,
    Rejected,
    UnknownFieldError,
    is_sha256_hex,
    sha256_hex,
)
from shared.identity.rules import RULES, FieldRule, HashedInput

# Looked up once: Enum attribute access is slow before Python 3.12, and this is the hot path.
_OPAQUE, _REJECT = HashedInput.OPAQUE, HashedInput.REJECT
_new = tuple.__new__


def fields(platform: Platform) -> tuple[str, ...]:
    """The field names ``platform`` accepts, as the platform spells them."""
    return tuple(RULES[platform])


def is_hashed(platform: Platform, field: str) -> bool:
    """Whether ``field`` travels as SHA-256 hex on ``platform`` (False: sent as normalized)."""
    return _rule(platform, field).hashed


def normalize(
    platform: Platform, field: str, value: object, *, country: str | None = None
) -> Normalized | Rejected:
    """One value in the form ``platform`` expects for ``field``, hashed when it must be.

    ``country`` is the customer's country (a code or a name; shipping, then billing) and is
    the default region for phones and the rule set for states and postal codes.
    """
    rule = _rule(platform, field)
    return _normalize(rule, field, value, _region(country) if rule.uses_country else None)


def normalize_column(
    platform: Platform,
    field: str,
    values: Sequence[object],
    countries: Sequence[str | None] | None = None,
) -> list[Normalized | Rejected]:
    """``normalize`` over a column, in order; ``countries`` (same length) gives each row's country."""
    rule = _rule(platform, field)
    if countries is not None and len(countries) != len(values):
        raise ValueError(f"countries has {len(countries)} entries for {len(values)} values")
    if not values:
        return []
    if rule.email_style is not None:
        fast = email_column(
            field, values, rule.email_style, lambda value: _normalize(rule, field, value, None)
        )
        if fast is not None:
            return fast
    if rule.uses_country and countries is not None:
        regions: list[str | None] = [_region(country) for country in countries]
    else:
        regions = [None] * len(values)
    # Keyed by type too: 1, 1.0 and True are equal dictionary keys but not equal inputs.
    keys = list(zip(map(type, values), values, regions, strict=True))
    try:
        distinct = dict.fromkeys(keys)
    except TypeError:  # an unhashable value (a list, a dict): no sharing, same results
        return [_normalize(rule, field, v, r) for v, r in zip(values, regions, strict=True)]
    by_key = {key: _normalize(rule, field, key[1], key[2]) for key in distinct}
    if len(by_key) == len(keys):
        return list(by_key.values())
    return list(map(by_key.__getitem__, keys))


def _normalize(rule: FieldRule, field: str, value: object, region: str | None) -> Normalized | Rejected:
    if isinstance(value, str) and rule.hashed_input is not _OPAQUE:
        stripped = value.strip()
        if is_sha256_hex(stripped):
            if rule.hashed_input is _REJECT:
                return Rejected(field, Reason.HASHED_NOT_ALLOWED)
            digest = stripped.lower()  # already hashed upstream: pass through, never re-hash
            return Normalized(field, digest, digest)
    result = rule.normalize(value, region)
    if isinstance(result, Reason):
        return Rejected(field, result)
    # tuple.__new__ skips the named tuple's Python-level __new__: same object, made faster.
    return _new(Normalized, (field, result, sha256_hex(result) if rule.hashed else None))


def _rule(platform: Platform, field: str) -> FieldRule:
    try:
        return RULES[platform][field]  # Platform is a StrEnum: "meta" finds Platform.META too
    except KeyError:
        raise UnknownFieldError(f"{platform} has no field {field!r}") from None


@functools.lru_cache(maxsize=1024)
def _region(country: str | None) -> str | None:
    return region_of(country)
