"""The batch path: same results as one-by-one, in order, with repeats and countries per row."""

from __future__ import annotations

import hashlib

import pytest

from shared.identity import Normalized, Platform, Reason, Rejected, normalize, normalize_column
from shared.identity.phones import clear_cache

EMAIL_FIELD = {Platform.META: "EMAIL", Platform.GOOGLE_ADS: "email", Platform.GOOGLE_DM: "email"}

# A column with every kind of row the fast path must hand to the scalar path or decide itself.
MESSY_EMAILS: list[object] = [
    "jane@example.com",
    "JANE@EXAMPLE.COM",
    " jane@example.com ",
    "j.a.n.e+news@gmail.com",
    "J.Ane@GoogleMail.com",
    "+only@gmail.com",
    "ja..ne@example.com",
    ".jane@example.com",
    "jane.@example.com",
    "jane@-example.com",
    "jane@example-.com",
    "jane-.doe@example.com",  # valid, but looks suspicious to the fast path
    "jane@exa_mple.com",
    "noemail@example.com",
    "NoReply@example.com",
    "jane@example",
    "josé@example.com",
    "\u212aelvin@example.com",  # Kelvin sign lowercases to ASCII "k"
    "x" * 64 + "@example.com",
    "x" * 65 + "@example.com",
    "a@" + "b" * 250 + ".com",
    "",
    "N/A",
    hashlib.sha256(b"jane@example.com").hexdigest(),
    "jane@example.com",
]


@pytest.mark.parametrize("platform", list(Platform))
def test_email_column_matches_one_by_one(platform: Platform) -> None:
    field = EMAIL_FIELD[platform]
    expected = [normalize(platform, field, value) for value in MESSY_EMAILS]
    assert normalize_column(platform, field, MESSY_EMAILS) == expected


@pytest.mark.parametrize(
    "column",
    [
        ["a@example.com", None, "b@example.com"],
        ["a@example.com", 42, "b@example.com"],
        ["a@example.com", ["b@example.com"], "a@example.com"],
        ["a@example.com", "line\nbreak@example.com"],
        ["a@example.com", "\x00"],
        [1, True, 1.0],
    ],
)
def test_columns_the_fast_path_cannot_take_still_match_one_by_one(column: list[object]) -> None:
    expected = [normalize(Platform.META, "EMAIL", value) for value in column]
    assert normalize_column(Platform.META, "EMAIL", column) == expected


def test_equal_but_differently_typed_values_are_not_conflated() -> None:
    results = normalize_column(Platform.META, "EXTERN_ID", [1, True, "1"])
    assert results == [
        Normalized("EXTERN_ID", "1", None),
        Rejected("EXTERN_ID", Reason.INVALID_TYPE),
        Normalized("EXTERN_ID", "1", None),
    ]


def test_phone_column_uses_each_rows_country() -> None:
    clear_cache()
    values = ["030 123456", "030 123456", "+1 201 555 0123", "0412 345 678", "0412 345 678"]
    countries = ["DE", "US", None, "AU", None]
    assert normalize_column(Platform.GOOGLE_ADS, "phone", values, countries) == [
        normalize(Platform.GOOGLE_ADS, "phone", v, country=c) for v, c in zip(values, countries, strict=True)
    ]
    assert [
        r.normalized if isinstance(r, Normalized) else r.reason
        for r in normalize_column(Platform.GOOGLE_ADS, "phone", values, countries)
    ] == [
        "+4930123456",
        Reason.PHONE_INVALID_FOR_REGION,
        "+12015550123",
        "+61412345678",
        Reason.PHONE_MISSING_REGION,
    ]


def test_without_countries_every_row_has_no_default_region() -> None:
    results = normalize_column(Platform.META, "PHONE", ["+44 7400 123456", "07400 123456"])
    assert results[0] == Normalized("PHONE", "447400123456", hashlib.sha256(b"447400123456").hexdigest())
    assert results[1] == Rejected("PHONE", Reason.PHONE_MISSING_REGION)


def test_countries_must_line_up_with_values() -> None:
    with pytest.raises(ValueError, match="countries"):
        normalize_column(Platform.META, "PHONE", ["1", "2"], ["US"])


def test_empty_column() -> None:
    assert normalize_column(Platform.GOOGLE_DM, "email", []) == []


def test_repeats_share_one_result_and_keep_their_positions() -> None:
    column = ["b@example.com", "a@example.com", "b@example.com", "B@example.com"]
    results = normalize_column(Platform.META, "EMAIL", column)
    assert [r.normalized for r in results if isinstance(r, Normalized)] == [
        "b@example.com",
        "a@example.com",
        "b@example.com",
        "b@example.com",
    ]
    assert results[0] is results[2]


def test_large_column_with_a_few_suspects_matches_one_by_one() -> None:
    column = [f"user{i}@example{i % 7}.com" for i in range(3000)]
    column[17] = "user..17@example.com"
    column[2999] = "noemail@example.com"
    column[1500] = "jane-.x@example.com"
    results = normalize_column(Platform.GOOGLE_DM, "email", column)
    assert results == [normalize(Platform.GOOGLE_DM, "email", v) for v in column]
    assert results[17] == Rejected("email", Reason.EMAIL_INVALID_SYNTAX)
    assert results[2999] == Rejected("email", Reason.PLACEHOLDER)
    assert isinstance(results[1500], Normalized)
