"""Phone numbers: parsed and validated by ``phonenumbers``, never guessed into E.164.

A number written with "+" names its own country. Otherwise the customer's country (shipping,
then billing; the caller picks) is the default region, and a number valid there is read there:
a known country always wins. A number that is not valid there, or that comes with no country,
is read as international (a country code written without "+", or an exit code such as 00 or
011 and then the country code) only when exactly one such reading is a valid number and the
digits are not also a valid North American number written nationally. Anything else is rejected
with the reason it had before. Correctness comes from Google's metadata in ``phonenumbers``;
this module adds screening, the international readings, a cache and a fast path for input that
is already E.164. docs/identifiers.md gives the measured false-positive rates.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata

from shared.identity.result import Reason
from shared.identity.screening import is_placeholder, screen

# Already E.164: "+", a country code that cannot start with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_CACHE_LIMIT = 100_000
# (raw text, region or None) -> E.164 or the rejection. Raw text that starts with "+" is keyed
# without a region: it names its own country, so one entry serves customers of every country.
_cache: dict[tuple[str, str | None], str | Reason] = {}
# The exit codes tried first: 00 (ITU-T's recommended international prefix, used by 185 of the
# 245 regions phonenumbers knows) and 011 (North America). Neither can be confused with the
# other or with a country code, which never starts with 0.
_COMMON_EXIT_CODES = (re.compile("00"), re.compile("011"))
# Characters that may sit between the digits of an exit code and what follows ("(0044) 20 ...").
_SEPARATORS = frozenset(" \t\u00a0-\u2010\u2011\u2012\u2013\u2014./()[]")


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
    if text.startswith("+"):
        return _parse_international(text)
    national = _parse_national(text, None if region is None else region.upper())
    if not isinstance(national, Reason):
        return national  # a known country wins over any international reading
    international = _international_without_plus(text)
    if international is not None:
        return international
    if national is Reason.PHONE_INVALID_FOR_REGION:
        return national
    return Reason.PLACEHOLDER if is_placeholder(text) else national


def _parse_international(text: str) -> str | Reason:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            return Reason.PHONE_INVALID  # "+" followed by an unassigned country code
        return Reason.PLACEHOLDER if is_placeholder(text) else Reason.PHONE_UNPARSEABLE
    if not phonenumbers.is_valid_number(number):
        return Reason.PHONE_INVALID
    if _E164.fullmatch(text):
        return text  # already E.164: nothing to reformat
    formatted: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def _parse_national(text: str, region: str | None) -> str | Reason:
    """The number read in ``region`` (which also strips that region's own exit code)."""
    if region is None:
        return Reason.PHONE_MISSING_REGION
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            return Reason.PHONE_MISSING_REGION  # a region phonenumbers does not know
        return Reason.PHONE_UNPARSEABLE
    if not phonenumbers.is_valid_number(number):
        return Reason.PHONE_INVALID_FOR_REGION
    formatted: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def _international_without_plus(text: str) -> str | None:
    """The one valid international reading of a number written without "+", or None.

    Readings: the digits as a country code and number ("1 800 555 0100", as Google's Data
    Manager formatter reads it), or what follows 00 or 011; only when neither gives a valid
    number, what follows any other exit code phonenumbers knows. Two different valid readings,
    or a valid reading that differs from a national one in a country whose trunk prefix is
    not 0 ("479 555 0123" is Arkansas and +47 95550123 Norway; "8 495 123 45 67" is Moscow
    and +84 951234567 Vietnam), make the number ambiguous: None.
    """
    start, digits, ends = _leading_digits(text)
    if start is None:
        return None
    readings = {_valid(text[start:])}
    for pattern in _COMMON_EXIT_CODES:
        readings.add(_after_exit_code(text, digits, ends, pattern))
    readings.discard(None)
    if not readings:
        for pattern in _other_exit_codes():
            readings.add(_after_exit_code(text, digits, ends, pattern))
        readings.discard(None)
    if len(readings) != 1:
        return None
    reading = readings.pop()
    typed = "".join(str(unicodedata.decimal(char)) for char in text if char.isdecimal())
    for region, trunk, significant in _trunk_regions():
        # Cheap test first: the leading digits, trunk prefix stripped, must look like a number
        # of that country before it is worth a parse (most readings stop here).
        stripped = trunk.match(digits)
        if significant.fullmatch(digits) is None and (
            stripped is None or significant.fullmatch(digits[stripped.end() :]) is None
        ):
            continue
        national = _home_reading(text, typed, region)
        if national is not None and national != reading:
            return None
    return reading


def _after_exit_code(text: str, digits: str, ends: list[int], pattern: re.Pattern[str]) -> str | None:
    match = pattern.match(digits)
    if match is None or match.end() == len(digits):
        return None
    code = match.group()
    if code.startswith("0") and not code.startswith("00") and code != "011":
        # "0", "010", "020", "09": also how a national number with trunk prefix 0 starts
        # ("020 7946 0958" is London), so they are never read as exit codes.
        return None
    return _valid(text[ends[match.end() - 1] :])


def _leading_digits(text: str) -> tuple[int | None, str, list[int]]:
    """Where the digits start, the leading digits (ASCII), and the text index after each one.

    Leading digits run from the first digit through separators ("(0044) 20") to the first
    other character; only exit codes are matched against them.
    """
    start = next((index for index, char in enumerate(text) if char.isdecimal()), None)
    digits: list[str] = []
    ends: list[int] = []
    if start is not None:
        for index in range(start, len(text)):
            char = text[index]
            if char.isdecimal():
                digits.append(str(unicodedata.decimal(char)))
                ends.append(index + 1)
            elif char not in _SEPARATORS:
                break
    return start, "".join(digits), ends


def _valid(text: str, region: str | None = None) -> str | None:
    """E.164 of ``text`` read in ``region`` ("+" prefixed when None) if valid, else None."""
    try:
        number = phonenumbers.parse(text if region else f"+{text}", region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    formatted: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def _home_reading(text: str, typed: str, region: str) -> str | None:
    """E.164 of ``text`` if it is a valid number written as it is at home in ``region``.

    "At home" means the digits typed are the national format's, trunk prefix included:
    phonenumbers also accepts a national number without its trunk prefix, which nobody in
    Turkmenistan writes ("24722173" is Ascension Island there only by that leniency).
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    if "".join(char for char in national if char.isdigit()) != typed:  # extension included
        return None
    formatted: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted


@functools.cache
def _other_exit_codes() -> tuple[re.Pattern[str], ...]:
    """Every other exit code pattern in phonenumbers' metadata (0011 Australia, 810 Russia ...)."""
    regions = map(PhoneMetadata.metadata_for_region, phonenumbers.SUPPORTED_REGIONS)
    patterns = {metadata.international_prefix for metadata in regions if metadata is not None}
    common = {pattern.pattern for pattern in _COMMON_EXIT_CODES}
    return tuple(re.compile(p) for p in sorted(p for p in patterns if p and p not in common))


@functools.cache
def _trunk_regions() -> tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...]:
    """Countries whose trunk prefix is not 0 (US, MH: 1; RU, BY, TM: 8), with how to test them.

    Their national numbers start like a country code: 10 bare digits or "1 ..." in North
    America, "8 ..." in Russia and its neighbours (81 is Japan, 84 Vietnam, 86 China). A number
    read as international must mean the same there. Trunk prefixes that start with 0 cannot
    collide: no country code and no exit code we read starts with a single 0. Each entry is
    (one region of the country, its trunk prefix as phonenumbers parses it, its pattern of
    national significant numbers).
    """
    regions = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None or metadata.country_code is None or metadata.general_desc is None:
            continue
        if phonenumbers.region_code_for_country_code(metadata.country_code) != region:
            continue  # one region per country code: the main one holds the whole plan
        prefix = metadata.national_prefix
        pattern = metadata.general_desc.national_number_pattern
        if prefix and not prefix.startswith("0") and pattern:
            trunk = metadata.national_prefix_for_parsing or prefix
            regions.append((region, re.compile(trunk), re.compile(pattern)))
    return tuple(regions)
