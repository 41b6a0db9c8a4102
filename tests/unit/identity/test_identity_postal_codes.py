"""Postal codes per country: Meta's documented rules, Google's, and what we chose where both are silent.

Sources: [M1] Meta customer-file ZIP ("lowercase, no white space; US first 5 digits; UK
Area/District/Sector"); [M3] Meta Conversions API `zp` ("lowercase with no spaces and no dash",
examples 94035, 1987, 75018); [D1] Data Manager formatting ("US: 5 digits or ZIP+4; other
countries: no postal code extensions; trim leading and trailing whitespace; don't hash");
[D3] Google's Data Manager formatter (keeps "1229-076" as written). Neither platform states a
rule for any other single country, so every other country gets the same rule.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.identity import Normalized, Platform, Reason, Rejected, normalize


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# (country, as written, Meta ZIP, Google postal_code, source)
POSTAL_CODES = [
    ("US", "94035-1234", "94035", "94035-1234", "M1, M3 first 5 digits; D1 ZIP+4 kept"),
    ("GB", "SW1A 1AA", "sw1a1", "SW1A 1AA", "M1 area/district/sector; D1"),
    ("GB", "SW1A-1AA", "sw1a1", "SW1A 1AA", "M3 no dash"),
    ("PT", "1234-567", "1234567", "1234-567", "M3 no dash; D3 as written"),
    ("CA", "H3Z 2Y7", "h3z2y7", "H3Z 2Y7", "M1 no white space"),
    ("FR", "75008", "75008", "75008", "M3 example 75018"),
    ("DE", "10115", "10115", "10115", "M3"),
    ("JP", "100-0001", "1000001", "100-0001", "M3 no dash; D3"),
    ("BR", "01310-100", "01310100", "01310-100", "M3 no dash; D3"),
    ("PL", "00-950", "00950", "00-950", "M3 no dash; D3"),
    ("NL", "1012 AB", "1012ab", "1012 AB", "M1 lowercase, no white space"),
    ("AU", "2000", "2000", "2000", "M3 example 1987"),
    ("IE", "D02 X285", "d02x285", "D02 X285", "M1"),
    ("LV", "LV-1010", "lv1010", "LV-1010", "M3 no dash (the LV- is part of the code)"),
    (None, "1234-567", "1234567", "1234-567", "no country: the rule for every country"),
]


@pytest.mark.parametrize(("country", "raw", "meta", "google", "source"), POSTAL_CODES)
def test_postal_codes_per_country(country: str | None, raw: str, meta: str, google: str, source: str) -> None:
    assert normalize(Platform.META, "ZIP", raw, country=country) == Normalized("ZIP", meta, sha(meta)), source
    for platform in (Platform.GOOGLE_ADS, Platform.GOOGLE_DM):
        assert normalize(platform, "postal_code", raw, country=country) == Normalized(
            "postal_code", google, None
        ), source


@pytest.mark.parametrize(
    ("country", "raw", "reason"),
    [
        ("PT", "1234.567", Reason.POSTAL_INVALID),  # only spaces and hyphens separate a code
        ("PT", "--", Reason.PLACEHOLDER),
        ("DE", "1234567890-12", Reason.POSTAL_INVALID),
        ("GB", "SW1A-1A", Reason.POSTAL_INVALID_FOR_COUNTRY),
    ],
)
def test_postal_codes_that_are_not_codes_are_rejected(country: str, raw: str, reason: Reason) -> None:
    assert normalize(Platform.META, "ZIP", raw, country=country) == Rejected("ZIP", reason)


POSTAL_LIKE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 -]{0,8}[A-Za-z0-9]", fullmatch=True)
COUNTRIES = st.sampled_from([None, "US", "GB", "JE", "PT", "JP", "BR", "CA", "NL", "DE", "LV"])


@settings(max_examples=300)
@given(raw=POSTAL_LIKE, country=COUNTRIES)
def test_a_meta_zip_has_no_spaces_dashes_or_capitals_and_is_stable(raw: str, country: str | None) -> None:
    result = normalize(Platform.META, "ZIP", raw, country=country)
    if isinstance(result, Normalized):
        assert result.normalized == result.normalized.lower()
        assert " " not in result.normalized and "-" not in result.normalized
        assert normalize(Platform.META, "ZIP", result.normalized, country=country) == result
