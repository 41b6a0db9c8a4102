"""Phones: the customer's country is the default region; invalid numbers are rejected, not guessed."""

from __future__ import annotations

import hashlib

import pytest

from shared.identity import Normalized, Platform, Reason, Rejected, normalize
from shared.identity.phones import clear_cache

# (country of the customer, number as typed, E.164). Formats as customers write them at home,
# with the traps: trunk prefixes that E.164 drops, Italy's leading zero that it keeps,
# Argentina's mobile "15" that becomes "9", international dialling prefixes.
NATIONAL_FORMATS = [
    ("US", "(201) 555-0123", "+12015550123"),
    ("US", "201.555.0123", "+12015550123"),
    ("US", "1-201-555-0123", "+12015550123"),
    ("US", "+1 201 555 0123 ext. 42", "+12015550123"),
    ("CA", "(506) 234-5678", "+15062345678"),
    ("GB", "07400 123456", "+447400123456"),
    ("GB", "0121 234 5678", "+441212345678"),
    ("GB", "0044 121 234 5678", "+441212345678"),
    ("DE", "01512 3456789", "+4915123456789"),
    ("DE", "030 123456", "+4930123456"),
    ("FR", "06 12 34 56 78", "+33612345678"),
    ("FR", "+33 (0)6 12 34 56 78", "+33612345678"),
    ("IT", "02 1234 5678", "+390212345678"),
    ("IT", "312 345 6789", "+393123456789"),
    ("ES", "612 34 56 78", "+34612345678"),
    ("NL", "06-12345678", "+31612345678"),
    ("IN", "081234 56789", "+918123456789"),
    ("IN", "8123456789", "+918123456789"),
    ("BR", "(11) 96123-4567", "+5511961234567"),
    ("MX", "222 123 4567", "+522221234567"),
    ("AR", "011 15-2345-6789", "+5491123456789"),
    ("JP", "090-1234-5678", "+819012345678"),
    ("AU", "0412 345 678", "+61412345678"),
    ("ZA", "071 123 4567", "+27711234567"),
    ("SG", "8123 4567", "+6581234567"),
    ("CN", "131 2345 6789", "+8613123456789"),
    ("KR", "010-2000-0000", "+821020000000"),
]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(("country", "raw", "expected"), NATIONAL_FORMATS)
@pytest.mark.parametrize("platform", [Platform.GOOGLE_ADS, Platform.GOOGLE_DM])
def test_google_gets_e164_with_plus(platform: Platform, country: str, raw: str, expected: str) -> None:
    assert normalize(platform, "phone", raw, country=country) == Normalized("phone", expected, sha(expected))


@pytest.mark.parametrize(("country", "raw", "expected"), NATIONAL_FORMATS)
def test_meta_gets_country_code_and_digits_only(country: str, raw: str, expected: str) -> None:
    digits = expected.removeprefix("+")
    assert normalize(Platform.META, "PHONE", raw, country=country) == Normalized("PHONE", digits, sha(digits))


@pytest.mark.parametrize(
    ("country", "raw"),
    [("United Kingdom", "07400 123456"), ("gbr", "07400 123456"), ("gb", "07400 123456")],
)
def test_country_names_and_codes_work_as_the_default_region(country: str, raw: str) -> None:
    assert normalize(Platform.GOOGLE_DM, "phone", raw, country=country).normalized == "+447400123456"


def test_a_number_is_read_in_the_customers_country_even_if_it_looks_foreign() -> None:
    # (201) is Jersey City in the US and Essen in Germany: the country decides, not a guess.
    result = normalize(Platform.GOOGLE_ADS, "phone", "(201) 555-0123", country="DE")
    assert result.normalized == "+492015550123"


def test_a_number_with_its_own_country_code_ignores_the_customers_country() -> None:
    result = normalize(Platform.GOOGLE_ADS, "phone", "+44 7400 123456", country="US")
    assert result.normalized == "+447400123456"


@pytest.mark.parametrize(
    ("country", "raw", "reason"),
    [
        (None, "0412 345 678", Reason.PHONE_MISSING_REGION),  # no + and no country: no guess
        (None, "4155552671", Reason.PHONE_MISSING_REGION),
        ("ZZ", "0412 345 678", Reason.PHONE_MISSING_REGION),  # not a country
        ("FR", "(201) 555-0123", Reason.PHONE_INVALID_FOR_REGION),  # a US number, French customer
        ("US", "555-0123", Reason.PHONE_INVALID_FOR_REGION),  # too short for the US
        ("GB", "01234", Reason.PHONE_INVALID_FOR_REGION),
        (None, "+1 201 555 012", Reason.PHONE_INVALID),
        (None, "+999 1234 5678", Reason.PHONE_INVALID),  # unassigned country code
        (None, "+12015550123456789", Reason.PHONE_INVALID),  # too long for the US plan
        (None, "+1", Reason.PHONE_UNPARSEABLE),
        ("US", "call me", Reason.PHONE_UNPARSEABLE),
        ("US", "0000000000", Reason.PHONE_INVALID_FOR_REGION),
        ("US", "N/A", Reason.PLACEHOLDER),
        ("US", "", Reason.EMPTY),
        ("US", 2015550123.0, Reason.INVALID_TYPE),  # a float from a spreadsheet: digits unknown
    ],
)
def test_unusable_numbers_are_rejected_with_a_reason(
    country: str | None, raw: object, reason: Reason
) -> None:
    for platform, field in ((Platform.META, "PHONE"), (Platform.GOOGLE_DM, "phone")):
        assert normalize(platform, field, raw, country=country) == Rejected(field, reason)


def test_integer_phone_numbers_are_accepted() -> None:
    assert normalize(Platform.GOOGLE_ADS, "phone", 12015550123, country="US").normalized == ("+12015550123")


def test_cached_results_do_not_leak_between_regions() -> None:
    clear_cache()
    assert normalize(Platform.GOOGLE_ADS, "phone", "030 123456", country="DE").normalized == ("+4930123456")
    assert normalize(Platform.GOOGLE_ADS, "phone", "030 123456", country="US") == Rejected(
        "phone", Reason.PHONE_INVALID_FOR_REGION
    )
    assert normalize(Platform.GOOGLE_ADS, "phone", "030 123456", country="DE").normalized == ("+4930123456")


def test_already_hashed_phone_passes_through() -> None:
    digest = sha("+12015550123")
    assert normalize(Platform.GOOGLE_DM, "phone", digest.upper()) == Normalized("phone", digest, digest)
