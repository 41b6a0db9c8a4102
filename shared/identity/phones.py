"""Phone numbers: parsed and validated by ``phonenumbers``, never guessed into E.164.

The customer's country (shipping, then billing; the caller picks) is the default region for
numbers written without a ``+``; a number that is not valid there is rejected. Correctness comes
from Google's metadata in ``phonenumbers``; this module only adds screening, a cache and a fast
path for input that is already E.164.
"""

from __future__ import annotations

import re

import phonenumbers

from shared.identity.result import Reason
from shared.identity.screening import is_placeholder, screen

# Already E.164: "+", a country code that cannot start with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_CACHE_LIMIT = 100_000
# (raw text, region or None) -> E.164 or the rejection. Raw text that starts with "+" is keyed
# without a region: it names its own country, so one entry serves customers of every country.
_cache: dict[tuple[str, str | None], str | Reason] = {}


def e164(value: object, region: str | None) -> str | Reason:
    """The number in E.164 ("+14155552671"), or why it is not a valid number.

    ``region`` is an ISO 3166-1 alpha-2 code (any case) or None; it is only used for numbers
    written without an international prefix.
    """
    if type(value) is str:
        key = (value, None if value.lstrip().startswith("+") else region)
        cached = _cache.get(key)
        if cached is None:
            cached = _parse(value, region)
            if len(_cache) >= _CACHE_LIMIT:
                _cache.clear()
            _cache[key] = cached
        return cached
    return _parse(value, region)


def e164_digits(value: object, region: str | None) -> str | Reason:
    """E.164 without the "+": country code and number, digits only (Meta's PHONE key)."""
    number = e164(value, region)
    return number if isinstance(number, Reason) else number[1:]


def clear_cache() -> None:
    """Forget cached parses (for benchmarks that measure the cold path)."""
    _cache.clear()


def _parse(value: object, region: str | None) -> str | Reason:
    # Placeholders ("N/A", "none") are looked for only when parsing fails: a valid number is
    # never one, and the check would otherwise cost every number a regex pass.
    text = screen(value, numbers=True, placeholders=False)
    if isinstance(text, Reason):
        return text
    international = text.startswith("+")
    if not international and region is None:
        return Reason.PLACEHOLDER if is_placeholder(text) else Reason.PHONE_MISSING_REGION
    number = _parse_number(text, None if region is None else region.upper())
    if isinstance(number, Reason):
        return Reason.PLACEHOLDER if is_placeholder(text) else number
    if not phonenumbers.is_valid_number(number):
        return Reason.PHONE_INVALID if international else Reason.PHONE_INVALID_FOR_REGION
    if _E164.fullmatch(text):
        return text  # already E.164: nothing to reformat
    formatted: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def _parse_number(text: str, region: str | None) -> phonenumbers.PhoneNumber | Reason:
    try:
        # For "+" numbers phonenumbers ignores the region; passing it anyway costs nothing.
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            # No usable country: "+" followed by an unassigned code, or a default region
            # that phonenumbers does not know (for example a mistyped country).
            return Reason.PHONE_INVALID if text.startswith("+") else Reason.PHONE_MISSING_REGION
        return Reason.PHONE_UNPARSEABLE
