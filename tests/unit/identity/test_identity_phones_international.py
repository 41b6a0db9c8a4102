"""Phones written without "+": international readings, used only when valid and unambiguous.

Sources: [DM] Google's Data Manager formatter tests (googleads/data-manager-python,
tests/formatter_test.py: "1 800 555 0100" and "441134960987" carry their country code);
[M2] Meta Business Help, How to format a customer list ("1-234-567-8910", "12345678910");
[PN] the exit codes in phonenumbers' metadata (00 ITU-T, 011 North America, 0011 Australia,
8~10 Russia); [TR] how numbers are written at home in countries whose trunk prefix is not 0.
"""

from __future__ import annotations

import hashlib

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.identity import Normalized, Platform, Reason, Rejected, normalize, normalize_column
from shared.identity.phones import clear_cache


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# (customer's country, number as typed, E.164, source)
ACCEPTED = [
    (None, "1 800 555 0100", "+18005550100", "DM"),
    (None, "18005550100", "+18005550100", "DM"),
    (None, "1-800-555-0100   ", "+18005550100", "DM"),
    (None, "441134960987", "+441134960987", "DM"),
    (None, "1-234-567-8910", "+12345678910", "M2"),
    (None, "12345678910", "+12345678910", "M2"),
    (None, "0044 20 7946 0958", "+442079460958", "PN: 00"),
    (None, "(0044) 20 7946 0958", "+442079460958", "PN: 00"),
    (None, "00 33 6 12 34 56 78", "+33612345678", "PN: 00"),
    (None, "011 44 20 7946 0958", "+442079460958", "PN: 011"),
    (None, "0011 61 2 9374 4000", "+61293744000", "PN: 0011"),
    (None, "8 10 49 30 123456", "+4930123456", "PN: 8~10"),
    (None, "33 (0)6 12 34 56 78", "+33612345678", "DM, national (0) dropped"),
    (None, "0044 20 7946 0958 x12", "+442079460958", "PN: extension dropped"),
    (None, "1-800-FLOWERS", "+18003569377", "PN: vanity letters"),
    (None, 18005550100, "+18005550100", "DM, an integer cell"),
    ("ZZ", "441134960987", "+441134960987", "DM, not a country"),
    # A known country whose reading is invalid: the international reading is used.
    ("US", "44 7400 123456", "+447400123456", "DM"),
    ("US", "0044 7400 123456", "+447400123456", "PN: 00 from a US customer"),
    ("DE", "011 44 20 7946 0958", "+442079460958", "PN: 011 from a German customer"),
]

# A known country wins whenever the number is valid there, even if it also reads as
# international: the customer's country decides, not a guess.
KNOWN_COUNTRY_WINS = [
    ("DE", "44 7400 123456", "+49447400123456"),  # valid in Germany's open numbering plan
    ("GB", "44 7400 123456", "+447400123456"),  # Britain's own country code
    ("CN", "18005550100", "+8618005550100"),  # a Chinese mobile, not 1-800
    ("RU", "8 495 123 45 67", "+74951234567"),
    ("US", "479 555 0123", "+14795550123"),
    ("AR", "011 15-2345-6789", "+5491123456789"),  # 011 is Buenos Aires there
]

REFUSED = [
    # (country, typed, reason, why)
    (None, "479 555 0123", Reason.PHONE_MISSING_REGION, "Arkansas, or +47 95550123 in Norway"),
    (None, "323 555 0123", Reason.PHONE_MISSING_REGION, "Los Angeles, or +32 3 555 01 23 Antwerp"),
    (None, "(201) 555-0123", Reason.PHONE_MISSING_REGION, "Jersey City, or +20 15550123 Egypt"),
    (None, "(431) 551-9693 ext. 42", Reason.PHONE_MISSING_REGION, "Manitoba, or Vienna"),
    (None, "8 495 123 45 67", Reason.PHONE_MISSING_REGION, "Moscow, or +84 951234567 Vietnam"),
    (None, "07400 123456", Reason.PHONE_MISSING_REGION, "national: trunk prefix 0"),
    (None, "03 52 42 71 34", Reason.PHONE_MISSING_REGION, "French; Cape Verde's exit code 0 unused"),
    (None, "0431 250 006", Reason.PHONE_MISSING_REGION, "Australian; exit code 0 is a trunk prefix"),
    (None, "0044 1234", Reason.PHONE_MISSING_REGION, "too short after 00"),
    (None, "+47 95550123 0", Reason.PHONE_INVALID, "written with +: no other reading"),
    ("US", "0044 1234", Reason.PHONE_INVALID_FOR_REGION, "too short after 00"),
    ("FR", "(201) 555-0123", Reason.PHONE_INVALID_FOR_REGION, "not French; +20 or +1: ambiguous"),
    (None, "N/A", Reason.PLACEHOLDER, "no digits"),
]


@pytest.mark.parametrize(("country", "raw", "expected", "source"), ACCEPTED)
def test_international_numbers_without_plus_are_read_when_valid(
    country: str | None, raw: object, expected: str, source: str
) -> None:
    clear_cache()
    assert normalize(Platform.GOOGLE_DM, "phone", raw, country=country) == Normalized(
        "phone", expected, sha(expected)
    ), source
    digits = expected.removeprefix("+")
    assert normalize(Platform.META, "PHONE", raw, country=country) == Normalized("PHONE", digits, sha(digits))


@pytest.mark.parametrize(("country", "raw", "expected"), KNOWN_COUNTRY_WINS)
def test_a_known_country_wins_over_an_international_reading(country: str, raw: str, expected: str) -> None:
    assert normalize(Platform.GOOGLE_ADS, "phone", raw, country=country) == Normalized(
        "phone", expected, sha(expected)
    )


@pytest.mark.parametrize(("country", "raw", "reason", "why"), REFUSED)
def test_ambiguous_or_invalid_numbers_keep_their_reason(
    country: str | None, raw: str, reason: Reason, why: str
) -> None:
    for platform, field in ((Platform.META, "PHONE"), (Platform.GOOGLE_DM, "phone")):
        assert normalize(platform, field, raw, country=country) == Rejected(field, reason), why


def test_the_batch_path_reads_international_numbers_as_the_single_path_does() -> None:
    rows = [*((raw, country) for country, raw, _, _ in ACCEPTED)]
    rows += [(raw, country) for country, raw, _, _ in REFUSED]
    rows += [(raw, country) for country, raw, _ in KNOWN_COUNTRY_WINS]
    values = [raw for raw, _ in rows] * 2  # repeats go through the shared-key path too
    countries = [country for _, country in rows] * 2
    for platform, field in ((Platform.META, "PHONE"), (Platform.GOOGLE_ADS, "phone")):
        clear_cache()
        batch = normalize_column(platform, field, values, countries)
        clear_cache()
        single = [normalize(platform, field, v, country=c) for v, c in zip(values, countries, strict=True)]
        assert batch == single


# Valid numbers from phonenumbers' own examples, in the ways customers write them.
REGIONS = ("US", "CA", "GB", "DE", "FR", "IT", "ES", "NL", "AU", "JP", "BR", "MX", "IN", "CN", "RU", "ZA")
KINDS = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
STYLES = ("e164", "international", "national", "country code, no +", "00", "011")


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(E.164, the number as a customer typed it, the number's own region, the style typed)."""
    region = draw(st.sampled_from(REGIONS))
    kind = draw(
        st.sampled_from([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    significant = phonenumbers.national_significant_number(example)
    tail = draw(st.text("0123456789", min_size=3, max_size=3))
    number = phonenumbers.parse(f"+{example.country_code}{significant[:-3]}{tail}", None)
    if not phonenumbers.is_valid_number(number):
        number = example
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    style = draw(st.sampled_from(STYLES))
    typed = {
        "e164": e164,
        "international": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        "national": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        "country code, no +": e164[1:],
        "00": f"00 {e164[1:]}",
        "011": f"011 {e164[1:]}",
    }[style]
    return e164, typed, region, style


@settings(max_examples=300, deadline=None)
@given(written=written_numbers(), country=st.sampled_from([None, *REGIONS]))
def test_normalizing_a_normalized_phone_changes_nothing(
    written: tuple[str, str, str, str], country: str | None
) -> None:
    _, typed, _, _ = written
    google = normalize(Platform.GOOGLE_DM, "phone", typed, country=country)
    if isinstance(google, Normalized):
        assert normalize(Platform.GOOGLE_DM, "phone", google.normalized, country=country) == google
    meta = normalize(Platform.META, "PHONE", typed, country=country)
    if isinstance(meta, Normalized):
        # Meta's PHONE is E.164 without the "+": putting it back gives the same number.
        assert normalize(Platform.META, "PHONE", "+" + meta.normalized, country=country) == meta
    assert isinstance(google, Normalized) == isinstance(meta, Normalized)


@settings(max_examples=300, deadline=None)
@given(written=written_numbers())
def test_without_a_country_an_international_number_is_itself_or_refused(
    written: tuple[str, str, str, str],
) -> None:
    e164, typed, _, style = written
    result = normalize(Platform.GOOGLE_ADS, "phone", typed)
    if style in ("e164", "international", "00", "011"):
        assert result == Normalized("phone", e164, sha(e164))
    elif style == "country code, no +":  # never another number; refused when ambiguous
        assert result in (
            Normalized("phone", e164, sha(e164)),
            Rejected("phone", Reason.PHONE_MISSING_REGION),
        )


@settings(max_examples=300, deadline=None)
@given(written=written_numbers())
def test_in_its_own_country_a_number_is_read_as_written(written: tuple[str, str, str, str]) -> None:
    e164, typed, region, style = written
    if style in ("e164", "international", "national"):
        result = normalize(Platform.GOOGLE_ADS, "phone", typed, country=region)
        assert result == Normalized("phone", e164, sha(e164))
