"""Names, initials, cities, states, postal codes and countries: the per-platform rules."""

from __future__ import annotations

import pytest

from shared.identity import Normalized, Platform, Reason, Rejected, normalize


def value_of(platform: Platform, field: str, raw: object, country: str | None = None) -> str | Reason:
    result = normalize(platform, field, raw, country=country)
    return result.normalized if isinstance(result, Normalized) else Reason(result.reason)


@pytest.mark.parametrize(
    ("field", "raw", "meta", "google"),
    [
        ("first", "  JOHN ", "john", "john"),
        ("first", "Mary Ann", "maryann", "mary ann"),
        ("first", "Mary-Jane", "maryjane", "maryjane"),
        ("first", "Jean - Luc", "jeanluc", "jean luc"),
        ("first", "Dr. John", "john", "john"),
        ("first", "Mrs Mary Ann", "maryann", "mary ann"),
        ("first", "Dr", "dr", "dr"),  # nothing else left: the word is the name
        ("first", "Émilie", "émilie", "émilie"),
        ("first", "E\u0301milie", "émilie", "émilie"),  # decomposed accent composed (NFKC)
        ("first", "Zoë", "zoë", "zoë"),
        ("first", "ÇAĞLA", "çağla", "çağla"),
        ("first", "Søren", "søren", "søren"),
        ("first", "Ørjan", "ørjan", "ørjan"),
        ("first", "Straße", "straße", "straße"),
        ("first", "Ιωάννης", "ιωάννης", "ιωάννης"),  # Greek
        ("first", "Владимир", "владимир", "владимир"),  # Cyrillic
        ("first", "太郎", "太郎", "太郎"),  # CJK: no case
        ("first", "प्रिया", "प्रिया", "प्रिया"),  # Devanagari: vowel signs are marks, kept
        ("first", "محمد", "محمد", "محمد"),  # Arabic
        ("first", "John3", "john", "john"),
        ("last", "O'Brien", "obrien", "obrien"),
        ("last", "Smith, Jr.", "smith", "smith"),
        ("last", "King III", "king", "king"),
        ("last", "de la Cruz", "delacruz", "de la cruz"),
        ("last", "Nguyễn", "nguyễn", "nguyễn"),
        ("last", "Jr", "jr", "jr"),
        ("last", "Na", "na", "na"),  # a real surname, not "n/a"
    ],
)
def test_names_per_platform(field: str, raw: str, meta: str, google: str) -> None:
    meta_field, google_field = ("FN", "first_name") if field == "first" else ("LN", "last_name")
    assert value_of(Platform.META, meta_field, raw) == meta
    assert value_of(Platform.GOOGLE_ADS, google_field, raw) == google
    assert value_of(Platform.GOOGLE_DM, google_field, raw) == google


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", Reason.EMPTY),
        ("-", Reason.PLACEHOLDER),
        ("N/A", Reason.PLACEHOLDER),
        ("Unknown", Reason.PLACEHOLDER),
        ("xxx", Reason.PLACEHOLDER),
        ("Mr. None", Reason.PLACEHOLDER),
        ("12345", Reason.NAME_INVALID),
        ("M?ller", Reason.MANGLED_UNICODE),
        ("Müller\ufffd", Reason.MANGLED_UNICODE),
        ("MÃ¼ller", Reason.MANGLED_UNICODE),
        ("Jos\x1be", Reason.MANGLED_UNICODE),
        (42, Reason.INVALID_TYPE),
    ],
)
def test_unusable_names_are_rejected(raw: object, reason: Reason) -> None:
    for platform, field in ((Platform.META, "FN"), (Platform.GOOGLE_DM, "first_name")):
        assert normalize(platform, field, raw) == Rejected(field, reason)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("John", "j"), ("F.", "f"), ("dr. émilie", "é"), ("Øyvind", "ø"), ("प्रिया", "प्")],
)
def test_meta_first_initial(raw: str, expected: str) -> None:
    assert value_of(Platform.META, "FI", raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Menlo Park", "menlopark"),
        ("St. Louis", "stlouis"),
        ("WINSTON-SALEM", "winstonsalem"),
        ("São Paulo", "sãopaulo"),
        ("Zürich", "zürich"),
        ("東京", "東京"),
        ("New York 10001", "newyork"),
    ],
)
def test_meta_city(raw: str, expected: str) -> None:
    assert value_of(Platform.META, "CT", raw) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("CA", "US", "ca"),
        ("California", "US", "ca"),
        ("  new york ", "US", "ny"),
        ("US-TX", "US", "tx"),
        ("District of Columbia", "US", "dc"),
        ("Washington, D.C.", "US", "dc"),
        ("Puerto Rico", "US", "pr"),
        ("AE", "US", "ae"),  # armed forces Europe
        ("Atlantis", "US", Reason.REGION_INVALID),
        ("Ontario", "CA", "ontario"),
        ("ON", "CA", "on"),
        ("Île-de-France", "FR", "îledefrance"),
        ("Bayern", "DE", "bayern"),
        ("California", None, "california"),  # without the country, no US code mapping
    ],
)
def test_meta_state(raw: str, country: str | None, expected: str | Reason) -> None:
    assert value_of(Platform.META, "ST", raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "meta", "google"),
    [
        ("94035", "US", "94035", "94035"),
        ("94035-1234", "US", "94035", "94035-1234"),
        ("940351234", "US", "94035", "94035-1234"),
        (" 94035 1234 ", "US", "94035", "94035-1234"),
        ("2134", "US", "02134", "02134"),  # leading zero lost in a spreadsheet
        (2134, "US", "02134", "02134"),
        ("9403", "US", "09403", "09403"),
        ("940", "US", Reason.POSTAL_INVALID_FOR_COUNTRY, Reason.POSTAL_INVALID_FOR_COUNTRY),
        ("9403512", "US", Reason.POSTAL_INVALID_FOR_COUNTRY, Reason.POSTAL_INVALID_FOR_COUNTRY),
        ("SW1A 1AA", "US", Reason.POSTAL_INVALID_FOR_COUNTRY, Reason.POSTAL_INVALID_FOR_COUNTRY),
        ("00000", "US", Reason.PLACEHOLDER, Reason.PLACEHOLDER),
        ("SW1A 1AA", "GB", "sw1a1", "SW1A 1AA"),
        ("sw1a1aa", "GB", "sw1a1", "SW1A 1AA"),
        ("M1 1AE", "GB", "m11", "M1 1AE"),
        ("EC1A 1BB", "GB", "ec1a1", "EC1A 1BB"),
        ("GIR 0AA", "GB", "gir0", "GIR 0AA"),
        ("SW1A 1", "GB", "sw1a1", Reason.POSTAL_INVALID_FOR_COUNTRY),  # sector only
        ("JE2 3AB", "JE", "je23", "JE2 3AB"),
        ("12345", "GB", Reason.POSTAL_INVALID_FOR_COUNTRY, Reason.POSTAL_INVALID_FOR_COUNTRY),
        ("K1A 0B1", "CA", "k1a0b1", "K1A 0B1"),
        ("10115", "DE", "10115", "10115"),
        ("75008", "FR", "75008", "75008"),
        ("100-0001", "JP", "1000001", "100-0001"),  # Meta: no dash; Google: as written
        ("01310-100", "BR", "01310100", "01310-100"),
        ("D02 X285", "IE", "d02x285", "D02 X285"),
        ("94035", None, "94035", "94035"),
        ("!!", None, Reason.PLACEHOLDER, Reason.PLACEHOLDER),
        ("ABCDE", "NL", Reason.POSTAL_INVALID, Reason.POSTAL_INVALID),
        ("12345678901", "DE", Reason.POSTAL_INVALID, Reason.POSTAL_INVALID),
    ],
)
def test_postal_codes(raw: object, country: str | None, meta: object, google: object) -> None:
    assert value_of(Platform.META, "ZIP", raw, country) == meta
    assert value_of(Platform.GOOGLE_ADS, "postal_code", raw, country) == google


@pytest.mark.parametrize(
    ("raw", "meta", "google"),
    [
        ("US", "us", "US"),
        ("usa", "us", "US"),
        ("U.S.A.", "us", "US"),
        ("United States of America", "us", "US"),
        ("United Kingdom", "gb", "GB"),
        ("UK", "gb", "GB"),
        ("England", "gb", "GB"),
        ("Deutschland", Reason.COUNTRY_INVALID, Reason.COUNTRY_INVALID),
        ("Germany", "de", "DE"),
        ("DEU", "de", "DE"),
        ("Viet Nam", "vn", "VN"),
        ("Türkiye", "tr", "TR"),
        ("Turkey", "tr", "TR"),
        ("Atlantis", Reason.COUNTRY_INVALID, Reason.COUNTRY_INVALID),
        ("", Reason.EMPTY, Reason.EMPTY),
    ],
)
def test_countries(raw: str, meta: object, google: object) -> None:
    assert value_of(Platform.META, "COUNTRY", raw) == meta
    assert value_of(Platform.GOOGLE_DM, "country_code", raw) == google


def test_unhashed_google_fields_refuse_a_hash() -> None:
    digest = "ab" * 32
    for field in ("country_code", "postal_code", "mobile_id"):
        assert normalize(Platform.GOOGLE_ADS, field, digest) == Rejected(field, Reason.HASHED_NOT_ALLOWED)
