"""Identifiers that are not contact details: gender, birth date parts, device ids, own ids, value.

Meta takes GEN as "m"/"f" and DOBY/DOBM/DOBD as YYYY/MM/DD, all hashed; MADID and EXTERN_ID
unhashed; LOOKALIKE_VALUE as a plain non-negative number. Google takes mobile ids and the
advertiser's user ids unhashed.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation

from shared.identity.result import Reason
from shared.identity.screening import screen

_GENDERS = {"m": "m", "male": "m", "f": "f", "female": "f"}
_MONTHS = {
    name: index
    for index, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_OLDEST_BIRTH_YEAR = 1900  # Meta: "YYYY format from 1900 to current year"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_UUID_COMPACT = re.compile(r"[0-9a-f]{32}", re.IGNORECASE)
_NIL_UUID = "00000000-0000-0000-0000-000000000000"  # what a device reports when ads tracking is off
_MAX_ID_LENGTH = 512
_MAX_VALUE = Decimal(10) ** 15


def gender(value: object) -> str | Reason:
    """Meta GEN: "m" or "f" (the only values Meta documents); anything else is not sent."""
    text = screen(value)
    if isinstance(text, Reason):
        return text
    code = _GENDERS.get(text.lower().rstrip("."))
    return Reason.GENDER_UNSUPPORTED if code is None else code


def birth_year(value: object, *, today: datetime.date | None = None) -> str | Reason:
    """Meta DOBY: four digits from 1900 to the current year."""
    text = screen(value, numbers=True)
    if isinstance(text, Reason):
        return text
    year = int(text) if text.isascii() and text.isdigit() and len(text) == 4 else 0
    current = (today or datetime.date.today()).year
    return text if _OLDEST_BIRTH_YEAR <= year <= current else Reason.BIRTH_YEAR_INVALID


def birth_month(value: object) -> str | Reason:
    """Meta DOBM: "01" to "12"; English month names and abbreviations are understood."""
    text = screen(value, numbers=True)
    if isinstance(text, Reason):
        return text
    month = _MONTHS.get(text.lower().rstrip(".")) or _small_number(text)
    return f"{month:02d}" if 1 <= month <= 12 else Reason.BIRTH_MONTH_INVALID


def birth_day(value: object) -> str | Reason:
    """Meta DOBD: "01" to "31"."""
    text = screen(value, numbers=True)
    if isinstance(text, Reason):
        return text
    day = _small_number(text)
    return f"{day:02d}" if 1 <= day <= 31 else Reason.BIRTH_DAY_INVALID


def mobile_id(value: object, *, lowercase: bool) -> str | Reason:
    """An IDFA / Android advertising id as a hyphenated UUID (Meta: lowercase, kept unhashed)."""
    text = screen(value, fold=False)
    if isinstance(text, Reason):
        return text
    if _UUID_COMPACT.fullmatch(text):
        text = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    elif not _UUID.fullmatch(text):
        return Reason.MOBILE_ID_INVALID
    if text == _NIL_UUID:
        return Reason.PLACEHOLDER
    return text.lower() if lowercase else text


def external_id(value: object) -> str | Reason:
    """The advertiser's own customer id (Meta EXTERN_ID, Google user_id), kept verbatim."""
    text = screen(value, numbers=True, fold=False)
    if isinstance(text, Reason):
        return text
    return text if len(text) <= _MAX_ID_LENGTH else Reason.ID_INVALID


def lookalike_value(value: object) -> str | Reason:
    """Meta LOOKALIKE_VALUE: a non-negative number as plain decimal text ("44.5", "140", "0")."""
    if isinstance(value, bool):
        return Reason.INVALID_TYPE
    if isinstance(value, float | Decimal):
        text = repr(value) if isinstance(value, float) else str(value)
    else:
        screened = screen(value, numbers=True)
        if isinstance(screened, Reason):
            return screened
        text = screened
    try:
        number = Decimal(text)
    except InvalidOperation:
        return Reason.VALUE_INVALID
    if not number.is_finite() or number < 0 or number > _MAX_VALUE:
        return Reason.VALUE_INVALID
    return "0" if number == 0 else format(number.normalize(), "f")


def _small_number(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 2 else 0
