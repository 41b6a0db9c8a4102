"""The platforms' own documented examples, end to end: raw value in, documented form and hash out.

Expected hashes are either printed in the platform's documentation or computed here with hashlib
from the normalized string the documentation shows, never with the code under test.
"""

from __future__ import annotations

import hashlib

import pytest

from shared.identity import Normalized, Platform, normalize


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Hashes printed in Meta's Conversions API customer-information-parameters reference, which
# uses the same normalization as customer files for these keys.
META_DOCUMENTED_HASHES = {
    "us": "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
    "f": "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111",
    "m": "62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a",
}


@pytest.mark.parametrize(
    ("field", "raw", "documented"),
    [
        ("COUNTRY", "US", "us"),
        ("COUNTRY", "United States", "us"),
        ("GEN", "F", "f"),
        ("GEN", "female", "f"),
        ("GEN", "M", "m"),
    ],
)
def test_meta_values_hash_to_the_documented_digests(field: str, raw: str, documented: str) -> None:
    assert normalize(Platform.META, field, raw) == Normalized(
        field, documented, META_DOCUMENTED_HASHES[documented]
    )


@pytest.mark.parametrize(
    ("field", "raw", "country", "expected"),
    [
        # Meta Business Help "How to format a customer list" examples.
        ("EMAIL", "username@hotmail.co.uk", None, "username@hotmail.co.uk"),
        ("EMAIL", "your.name@gmail.com", None, "your.name@gmail.com"),  # Meta: no Gmail folding
        ("EMAIL", "myname@yahoo.com", None, "myname@yahoo.com"),
        ("PHONE", "1-234-567-8910", "US", "12345678910"),
        ("PHONE", "12345678910", "US", "12345678910"),
        ("PHONE", "+44 844 412 4653", None, "448444124653"),
        ("FN", "John", None, "john"),
        ("FN", "Émilie", None, "émilie"),
        ("FI", "F.", None, "f"),
        ("LN", "Smith", None, "smith"),
        # Meta developer docs / Conversions API examples.
        ("CT", "Menlo Park", None, "menlopark"),
        ("ST", "CA", "US", "ca"),
        ("ZIP", "94035", "US", "94035"),
        ("ZIP", "1987", "AU", "1987"),  # Conversions API zp examples
        ("ZIP", "75018", "FR", "75018"),
        ("PHONE", "+1 (650) 555-1212", None, "16505551212"),
    ],
)
def test_meta_documented_examples(field: str, raw: str, country: str | None, expected: str) -> None:
    assert normalize(Platform.META, field, raw, country=country) == Normalized(field, expected, sha(expected))


def test_meta_madid_example_is_lowercased_and_not_hashed() -> None:
    result = normalize(Platform.META, "MADID", "AECE52E7-03EE-455A-B3C4-E57283966239")
    assert result == Normalized("MADID", "aece52e7-03ee-455a-b3c4-e57283966239", None)


@pytest.mark.parametrize(("raw", "expected"), [(44.5, "44.5"), (140, "140"), (0, "0"), (0.9, "0.9")])
def test_meta_value_based_lookalike_example_values(raw: object, expected: str) -> None:
    assert normalize(Platform.META, "LOOKALIKE_VALUE", raw) == Normalized("LOOKALIKE_VALUE", expected, None)


GOOGLE = [Platform.GOOGLE_ADS, Platform.GOOGLE_DM]


def test_data_manager_gmail_example_drops_dots_and_plus_tag() -> None:
    result = normalize(Platform.GOOGLE_DM, "email", "cloudy.sanfrancisco+shopping@gmail.com")
    expected = "cloudysanfrancisco@gmail.com"
    assert result == Normalized("email", expected, sha(expected))


def test_data_manager_other_domains_keep_dots_and_plus_tag() -> None:
    result = normalize(Platform.GOOGLE_DM, "email", "user.name+NYC@Example.com")
    expected = "user.name+nyc@example.com"
    assert result == Normalized("email", expected, sha(expected))


def test_google_ads_keeps_gmail_dots_which_its_docs_say_are_accepted() -> None:
    result = normalize(Platform.GOOGLE_ADS, "email", "cloudy.sanfrancisco+shopping@gmail.com")
    expected = "cloudy.sanfrancisco+shopping@gmail.com"
    assert result == Normalized("email", expected, sha(expected))


@pytest.mark.parametrize("platform", GOOGLE)
@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("(800)555-0100", "US", "+18005550100"),  # Data Manager formatting guide
        ("+12125650000", None, "+12125650000"),  # Google Ads API team, E.164 examples
        ("+442070313000", None, "+442070313000"),
        ("1-800-888-8888", "US", "+18008888888"),  # Customer Match CSV template
        ("1(800)888-8888", "US", "+18008888888"),
        ("18008888899", "US", "+18008888899"),
    ],
)
def test_google_documented_phone_examples(
    platform: Platform, raw: str, country: str | None, expected: str
) -> None:
    assert normalize(platform, "phone", raw, country=country) == Normalized("phone", expected, sha(expected))


@pytest.mark.parametrize("platform", GOOGLE)
@pytest.mark.parametrize(
    ("field", "raw", "country", "expected", "hashed"),
    [
        # Google Ads API Customer Match code example.
        ("email", "customer@example.com", None, "customer@example.com", True),
        ("first_name", "John", None, "john", True),
        ("last_name", "Doe", None, "doe", True),
        ("country_code", "US", None, "US", False),
        ("postal_code", "10011", "US", "10011", False),
        # Customer Match CSV template rows.
        ("first_name", "zoë", None, "zoë", True),
        ("last_name", "pérez", None, "pérez", True),
        ("country_code", "sg", None, "SG", False),
        ("postal_code", "WC2H 8LG", "GB", "WC2H 8LG", False),
        # Data Manager guide: US ZIP+4 may improve the match rate, so it is kept.
        ("postal_code", "94303-5300", "US", "94303-5300", False),
        # Data Manager formatter tests: a non-US code is kept as written, hyphen included.
        ("postal_code", " 1229-076  ", "PT", "1229-076", False),
        ("postal_code", "1229-076", None, "1229-076", False),
        ("first_name", "Mrs. Jane", None, "jane", True),  # "Don't include prefixes such as Mrs."
        ("last_name", "Smith Jr.", None, "smith", True),  # "Don't include suffixes such as Jr."
    ],
)
def test_google_documented_examples(
    platform: Platform, field: str, raw: str, country: str | None, expected: str, hashed: bool
) -> None:
    assert normalize(platform, field, raw, country=country) == Normalized(
        field, expected, sha(expected) if hashed else None
    )
