"""The identity layer's vocabulary: platforms, the one result type, rejection reasons, hashing.

``Normalized`` and ``Rejected`` are named tuples rather than frozen dataclasses on purpose: one is
built for every identifier of every order and nightly refresh, and a tuple is built about three
times faster than a frozen dataclass (measured; see ``bench/identity.py``). They are still
immutable plain data. Their ``repr`` never shows a normalized value that travels hashed, so a
careless log line cannot leak contact data.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import re
from collections.abc import Callable
from typing import NamedTuple, Protocol, cast


class Platform(enum.StrEnum):
    """An audience destination; the value is how the CLI and configuration spell it."""

    META = "meta"
    GOOGLE_ADS = "google-ads"
    GOOGLE_DM = "google-dm"


class Reason(enum.StrEnum):
    """Why a value produced no identifier: a closed vocabulary that never carries raw data."""

    EMPTY = "empty"
    PLACEHOLDER = "placeholder"
    MANGLED_UNICODE = "mangled_unicode"
    INVALID_TYPE = "invalid_type"
    HASHED_NOT_ALLOWED = "hashed_not_allowed"
    EMAIL_INVALID_SYNTAX = "email_invalid_syntax"
    PHONE_MISSING_REGION = "phone_missing_region"
    PHONE_UNPARSEABLE = "phone_unparseable"
    PHONE_INVALID = "phone_invalid"
    PHONE_INVALID_FOR_REGION = "phone_invalid_for_region"
    NAME_INVALID = "name_invalid"
    CITY_INVALID = "city_invalid"
    REGION_INVALID = "region_invalid"
    POSTAL_INVALID = "postal_invalid"
    POSTAL_INVALID_FOR_COUNTRY = "postal_invalid_for_country"
    COUNTRY_INVALID = "country_invalid"
    GENDER_UNSUPPORTED = "gender_unsupported"
    BIRTH_YEAR_INVALID = "birth_year_invalid"
    BIRTH_MONTH_INVALID = "birth_month_invalid"
    BIRTH_DAY_INVALID = "birth_day_invalid"
    MOBILE_ID_INVALID = "mobile_id_invalid"
    ID_INVALID = "id_invalid"
    VALUE_INVALID = "value_invalid"


class Normalized(NamedTuple):
    """A value in the exact form a platform expects, and its SHA-256 hex (None: sent unhashed)."""

    field: str
    normalized: str
    sha256: str | None

    @property
    def wire_value(self) -> str:
        """What goes on the wire: the hash for hashed fields, the normalized value otherwise."""
        return self.normalized if self.sha256 is None else self.sha256

    def __repr__(self) -> str:
        shown = "<redacted>" if self.sha256 is not None else repr(self.normalized)
        return f"Normalized(field={self.field!r}, normalized={shown}, sha256={self.sha256!r})"


class Rejected(NamedTuple):
    """A value that produced no identifier; ``reason`` is a ``Reason`` code, never raw data."""

    field: str
    reason: str


class UnknownFieldError(ValueError):
    """The field name is not one the platform accepts (a programming error, not bad data)."""


class _Hash(Protocol):
    def hexdigest(self) -> str: ...


def _builtin_sha256() -> Callable[[bytes], _Hash]:
    # CPython's own SHA-256 (``_sha256`` up to 3.11, ``_sha2`` from 3.12) hashes short inputs
    # about 10% faster than OpenSSL's, whose per-call EVP setup dominates at email length.
    # The digests are identical (tests compare them with hashlib); hashlib is the fallback.
    for name in ("_sha256", "_sha2"):
        try:
            return cast(Callable[[bytes], _Hash], importlib.import_module(name).sha256)
        except (ImportError, AttributeError):
            continue
    return hashlib.sha256


# The raw constructor, for batch loops where a function call per value is measurable.
new_sha256 = _builtin_sha256()
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes of ``text`` (what every platform expects)."""
    return new_sha256(text.encode()).hexdigest()


def is_sha256_hex(value: str) -> bool:
    """True if ``value`` is exactly 64 hex digits: an already-hashed identifier, never re-hashed."""
    return isinstance(value, str) and len(value) == 64 and _SHA256_HEX.fullmatch(value) is not None
