"""Where a customer lives: country, state or province, city and postal code, per platform.

Meta hashes all of them (country as lowercase ISO alpha-2, US states as 2-letter codes, US ZIP
codes as 5 digits, UK postcodes as area/district/sector, other postal codes lowercase with no
spaces and no dash). Google takes the country code and postal code unhashed (ISO alpha-2, US
ZIP or ZIP+4, UK "SW1A 1AA", other postal codes as written). docs/identifiers.md cites each rule.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pycountry

from shared.identity.names import letters
from shared.identity.result import Reason
from shared.identity.screening import is_placeholder, screen

# Spellings pycountry does not know (it holds ISO names, codes and common names only).
_COUNTRY_ALIASES = {
    "uk": "GB",
    "greatbritain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northernireland": "GB",
    "unitedstates": "US",
    "unitedstatesofamerica": "US",
    "russia": "RU",
    "turkey": "TR",
    "holland": "NL",
    "thenetherlands": "NL",
    "kosovo": "XK",
    "xk": "XK",
}
# Countries whose postcodes follow the UK format (Royal Mail serves the Crown Dependencies).
_UK_POSTCODE_COUNTRIES = frozenset({"GB", "GG", "JE", "IM"})
_US_ZIP = re.compile(
    r"(?P<zip>[0-9]{5})(?:-?(?P<plus4>[0-9]{4}))?|(?P<short>[0-9]{4})(?:-(?P<short4>[0-9]{4}))?"
)
_UK_POSTCODE = re.compile(r"(?P<outward>[A-Z]{1,2}[0-9][A-Z0-9]?)(?P<inward>[0-9][A-Z]{2})|GIR0AA")
_UK_SECTOR = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9]|GIR0")
_POSTAL = re.compile(r"[A-Z0-9][A-Z0-9 -]{0,8}[A-Z0-9]")
_SPACES = re.compile(r"\s+")
# Whitespace and hyphens: what Meta's "no spaces and no dash" removes from a postal code.
_SPACES_AND_DASHES = re.compile(r"[\s-]+")
# USPS codes for the armed forces, absent from ISO 3166-2:US but valid US "states" on orders.
_US_MILITARY = {"aa": "aa", "ae": "ae", "ap": "ap", "armedforcesamericas": "aa"}


@functools.lru_cache(maxsize=4096)
def country_code(text: str) -> str | None:
    """ISO 3166-1 alpha-2 (upper case) for a code, ISO name or common alias; None if unknown."""
    squashed = letters(text.lower()) or text.strip()
    for candidate in (text.strip(), squashed):
        try:
            return str(pycountry.countries.lookup(candidate).alpha_2)
        except LookupError:
            continue
    return _COUNTRY_ALIASES.get(squashed)


def region_of(country: object) -> str | None:
    """The default region for phones and postcodes from a raw country value, or None."""
    text = screen(country, numbers=True)
    return None if isinstance(text, Reason) else country_code(text)


def country(value: object, *, upper: bool) -> str | Reason:
    """The country as ISO 3166-1 alpha-2: lowercase for Meta, uppercase for Google."""
    text = screen(value, numbers=True)
    if isinstance(text, Reason):
        return text
    code = country_code(text)
    if code is None:
        return Reason.COUNTRY_INVALID
    return code if upper else code.lower()


def meta_city(value: object) -> str | Reason:
    """Meta CT: lowercase letters only, no spaces, punctuation or digits ("menlopark")."""
    return _letters_only(value, Reason.CITY_INVALID)


def meta_state(value: object, region: str | None) -> str | Reason:
    """Meta ST: 2-letter code for US states; elsewhere lowercase letters only ("ontario")."""
    if region is not None and region.upper() == "US":
        text = screen(value)
        if isinstance(text, Reason):
            return text
        key = letters(text.lower().removeprefix("us-"))
        code = _us_states().get(key)
        return Reason.REGION_INVALID if code is None else code
    return _letters_only(value, Reason.REGION_INVALID)


def meta_zip(value: object, region: str | None) -> str | Reason:
    """Meta ZIP: US first 5 digits; UK area+district+sector ("sw1a1"); else lowercase, no spaces or dashes.

    "1234-567" (Portugal) is "1234567", "H3Z 2Y7" (Canada) "h3z2y7": Meta's Conversions API
    reference, which documents the same hashed keys, says "lowercase with no spaces and no dash".
    """
    text = screen(value, numbers=True)
    if isinstance(text, Reason):
        return text
    country_upper = None if region is None else region.upper()
    if country_upper == "US":
        zip_code = us_zip(text)
        return zip_code if isinstance(zip_code, Reason) else zip_code[:5]
    if country_upper in _UK_POSTCODE_COUNTRIES:
        compact = _SPACES_AND_DASHES.sub("", text).upper()
        full = _UK_POSTCODE.fullmatch(compact)
        if full is not None:
            sector = compact[:-2]  # drop the unit (last two letters): area, district, sector
        elif (partial := _UK_SECTOR.fullmatch(compact)) is not None:
            sector = partial[0]
        else:
            return Reason.POSTAL_INVALID_FOR_COUNTRY
        return sector.lower()
    postal = _generic_postal(text, keep_spaces=False)
    return postal if isinstance(postal, Reason) else postal.replace("-", "")


def google_postal(value: object, region: str | None) -> str | Reason:
    """Google postal_code: US "94043" or "94043-1351"; UK "SW1A 1AA"; else as written, upper case."""
    text = screen(value, numbers=True)
    if isinstance(text, Reason):
        return text
    country_upper = None if region is None else region.upper()
    if country_upper == "US":
        return us_zip(text)
    if country_upper in _UK_POSTCODE_COUNTRIES:
        compact = _SPACES_AND_DASHES.sub("", text).upper()
        if _UK_POSTCODE.fullmatch(compact) is None:
            return Reason.POSTAL_INVALID_FOR_COUNTRY
        return f"{compact[:-3]} {compact[-3:]}"
    return _generic_postal(text, keep_spaces=True)


def us_zip(text: str) -> str | Reason:
    """A US ZIP as "NNNNN" or "NNNNN-NNNN".

    A 4-digit ZIP is a 5-digit one whose leading zero a spreadsheet dropped (New England,
    New Jersey, Puerto Rico: 0xxxx); nothing else is repaired.
    """
    match = _US_ZIP.fullmatch(_SPACES.sub("", text))
    if match is None:
        return Reason.POSTAL_INVALID_FOR_COUNTRY
    five = match["zip"] or f"0{match['short']}"
    plus4 = match["plus4"] or match["short4"]
    if five == "00000":
        return Reason.PLACEHOLDER
    return five if plus4 is None else f"{five}-{plus4}"


def _generic_postal(text: str, *, keep_spaces: bool) -> str | Reason:
    compact = _SPACES.sub(" " if keep_spaces else "", text).upper()
    if _POSTAL.fullmatch(compact) is None or not any(char.isdigit() for char in compact):
        return Reason.POSTAL_INVALID
    return compact if keep_spaces else compact.lower()


def _letters_only(value: object, invalid: Reason) -> str | Reason:
    text = screen(value)
    if isinstance(text, Reason):
        return text
    if re.search(r"\w\?|\?\w", text):
        return Reason.MANGLED_UNICODE
    normalized = letters(text.lower())
    if not normalized:
        return invalid
    return Reason.PLACEHOLDER if is_placeholder(normalized) else normalized


@functools.cache
def _us_states() -> dict[str, str]:
    """Lowercase code and squashed name of every ISO 3166-2:US subdivision -> lowercase code."""
    states = dict(_US_MILITARY)
    subdivisions: list[Any] = pycountry.subdivisions.get(country_code="US")  # type: ignore[no-untyped-call]
    for subdivision in subdivisions:
        code = str(subdivision.code).removeprefix("US-").lower()
        states[code] = code
        states[letters(str(subdivision.name).lower())] = code
    states["washingtondc"] = "dc"
    return states
