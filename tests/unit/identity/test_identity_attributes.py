"""Meta's demographic and opaque keys, Google's ids, and the screening every field shares."""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal

import pytest

from shared.identity import (
    Normalized,
    Platform,
    Reason,
    Rejected,
    UnknownFieldError,
    fields,
    is_hashed,
    is_sha256_hex,
    normalize,
)
from shared.identity.attributes import birth_year


def value_of(platform: Platform, field: str, raw: object) -> str | Reason:
    result = normalize(platform, field, raw)
    return result.normalized if isinstance(result, Normalized) else Reason(result.reason)


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("GEN", "m", "m"),
        ("GEN", " Male ", "m"),
        ("GEN", "F.", "f"),
        ("GEN", "non-binary", Reason.GENDER_UNSUPPORTED),
        ("GEN", "x", Reason.GENDER_UNSUPPORTED),
        ("DOBY", "1985", "1985"),
        ("DOBY", 1985, "1985"),
        ("DOBY", "1900", "1900"),
        ("DOBY", "1899", Reason.BIRTH_YEAR_INVALID),
        ("DOBY", "85", Reason.BIRTH_YEAR_INVALID),
        ("DOBY", "1985-07-14", Reason.BIRTH_YEAR_INVALID),
        ("DOBM", "7", "07"),
        ("DOBM", "07", "07"),
        ("DOBM", 12, "12"),
        ("DOBM", "July", "07"),
        ("DOBM", "sept.", "09"),
        ("DOBM", "13", Reason.BIRTH_MONTH_INVALID),
        ("DOBM", "0", Reason.BIRTH_MONTH_INVALID),
        ("DOBD", "3", "03"),
        ("DOBD", "31", "31"),
        ("DOBD", "32", Reason.BIRTH_DAY_INVALID),
        ("DOBD", "1st", Reason.BIRTH_DAY_INVALID),
    ],
)
def test_meta_gender_and_birth_date_parts(field: str, raw: object, expected: object) -> None:
    assert value_of(Platform.META, field, raw) == expected


def test_birth_year_may_not_be_in_the_future() -> None:
    assert birth_year("2031", today=datetime.date(2030, 6, 1)) == Reason.BIRTH_YEAR_INVALID
    assert birth_year("2030", today=datetime.date(2030, 6, 1)) == "2030"


@pytest.mark.parametrize(
    ("platform", "field", "raw", "expected"),
    [
        (
            Platform.META,
            "MADID",
            "BEBE52E7-03EE-455A-B3C4-E57283966239",
            "bebe52e7-03ee-455a-b3c4-e57283966239",
        ),
        (Platform.META, "MADID", "bebe52e703ee455ab3c4e57283966239", "bebe52e7-03ee-455a-b3c4-e57283966239"),
        (
            Platform.GOOGLE_ADS,
            "mobile_id",
            "BEBE52E7-03EE-455A-B3C4-E57283966239",
            "BEBE52E7-03EE-455A-B3C4-E57283966239",
        ),
        (Platform.META, "MADID", "00000000-0000-0000-0000-000000000000", Reason.PLACEHOLDER),
        (Platform.META, "MADID", "not-a-device-id", Reason.MOBILE_ID_INVALID),
        (Platform.META, "EXTERN_ID", "  cust-0042 ", "cust-0042"),
        (Platform.META, "EXTERN_ID", 42, "42"),
        (Platform.META, "EXTERN_ID", "A" * 64, "A" * 64),  # an id may look like a hash
        (Platform.META, "EXTERN_ID", "x" * 513, Reason.ID_INVALID),
        (Platform.GOOGLE_DM, "user_id", "ＩＤ-1", "ＩＤ-1"),  # ids are kept verbatim, no NFKC
        (Platform.GOOGLE_DM, "user_id", "null", Reason.PLACEHOLDER),
    ],
)
def test_device_and_own_ids_are_sent_unhashed(
    platform: Platform, field: str, raw: object, expected: object
) -> None:
    result = normalize(platform, field, raw)
    if isinstance(expected, Reason):
        assert result == Rejected(field, expected)
    else:
        assert result == Normalized(field, expected, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.50", "12.5"),
        (Decimal("100.00"), "100"),
        ("1e2", "100"),
        (0.1, "0.1"),
        ("-0", "0"),
        (-1, Reason.VALUE_INVALID),
        ("nan", Reason.PLACEHOLDER),  # "NaN" is how pandas writes "no value"
        (float("inf"), Reason.VALUE_INVALID),
        ("1,234.50", Reason.VALUE_INVALID),
        ("$12", Reason.VALUE_INVALID),
        ("1e16", Reason.VALUE_INVALID),
        (True, Reason.INVALID_TYPE),
        (None, Reason.EMPTY),
    ],
)
def test_lookalike_value_is_a_plain_non_negative_number(raw: object, expected: object) -> None:
    assert value_of(Platform.META, "LOOKALIKE_VALUE", raw) == expected


def test_which_fields_travel_hashed() -> None:
    unhashed = {"MADID", "EXTERN_ID", "LOOKALIKE_VALUE"}
    assert {f for f in fields(Platform.META) if not is_hashed(Platform.META, f)} == unhashed
    for platform in (Platform.GOOGLE_ADS, Platform.GOOGLE_DM):
        assert {f for f in fields(platform) if not is_hashed(platform, f)} == {
            "country_code",
            "postal_code",
            "mobile_id",
            "user_id",
        }


def test_meta_accepts_every_documented_customer_file_key() -> None:
    documented = "EMAIL PHONE FN LN FI CT ST ZIP COUNTRY GEN DOBY DOBM DOBD MADID EXTERN_ID"
    assert set(fields(Platform.META)) == {*documented.split(), "LOOKALIKE_VALUE"}


def test_platform_values_are_usable_as_plain_strings() -> None:
    assert normalize("google-dm", "country_code", "us") == Normalized("country_code", "US", None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("platform", "field"), [(Platform.META, "email"), (Platform.GOOGLE_ADS, "EMAIL")])
def test_unknown_fields_are_a_programming_error(platform: Platform, field: str) -> None:
    with pytest.raises(UnknownFieldError):
        normalize(platform, field, "x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (hashlib.sha256(b"x").hexdigest(), True),
        (hashlib.sha256(b"x").hexdigest().upper(), True),
        ("g" * 64, False),
        ("a" * 63, False),
        ("a" * 65, False),
        (" " + "a" * 64, False),
        (None, False),
    ],
)
def test_is_sha256_hex(value: str, expected: bool) -> None:
    assert is_sha256_hex(value) is expected


def test_rejections_and_reprs_never_show_a_hashed_fields_value() -> None:
    raw = "Jane.Secret@example.com"
    normalized = normalize(Platform.META, "EMAIL", raw)
    rejected = normalize(Platform.META, "PHONE", "Jane.Secret phone")
    assert "secret" not in repr(normalized).lower()
    assert "secret" not in repr(rejected).lower()
    assert "secret" not in str(rejected).lower()
