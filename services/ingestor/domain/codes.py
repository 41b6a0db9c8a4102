"""ISO 4217 currencies and ISO 3166 countries: lookups (loaded on first use) and their fields."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import pycountry

from services.ingestor.domain.errors import Reason
from services.ingestor.domain.fields import ShopField, fail


@cache
def iso_currencies() -> frozenset[str]:
    """ISO 4217 alphabetic codes (loaded on first use, never at import)."""
    return frozenset(c.alpha_3 for c in pycountry.currencies)


@cache
def iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes."""
    return frozenset(c.alpha_2 for c in pycountry.countries)


@lru_cache(maxsize=1024)  # bounded: the argument comes from payloads
def country_code(value: str) -> str | None:
    """ISO alpha-2 for an alpha-2/alpha-3 code or an English country name; None if unknown."""
    text = value.strip()
    if len(text) == 2 and text.upper() in iso_countries():
        return text.upper()
    try:
        found = pycountry.countries.lookup(text)
    except LookupError:
        return None
    return str(found.alpha_2)


class Currency(ShopField):
    """An ISO 4217 code, upper-cased; ``XXX`` ("no currency") reads as absent."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if not isinstance(value, str):
            raise fail(Reason.NOT_A_STRING)
        code = value.strip().upper()
        if not code and self.required:
            raise fail(Reason.MISSING)
        if code in ("", "XXX") and not self.required:
            return None
        if code not in iso_currencies() or code == "XXX":
            raise fail(Reason.UNKNOWN_CURRENCY)
        return code


class Country(ShopField):
    """An ISO 3166 country given as alpha-2, alpha-3 or English name; as alpha-2."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if not isinstance(value, str):
            raise fail(Reason.NOT_A_STRING)
        if not value.strip():
            return None
        code = country_code(value[:100])
        if code is None:
            raise fail(Reason.UNKNOWN_COUNTRY)
        return code
