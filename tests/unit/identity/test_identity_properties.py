"""Invariants over arbitrary input: idempotence, hash shape, no leaks, batch == one by one."""

from __future__ import annotations

import hashlib
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.identity import Normalized, Platform, Reason, Rejected, fields, normalize, normalize_column
from shared.identity.result import sha256_hex

FIELDS = [(platform, field) for platform in Platform for field in fields(platform)]
COUNTRIES = st.sampled_from([None, "US", "GB", "DE", "FR", "IN", "BR", "JP", "AU", "CA", "MX", "JE"])
HEX64 = re.compile(r"[0-9a-f]{64}")

# Shapes real exports contain, so properties are exercised on values that normalize, not only
# on random text that is mostly rejected.
name_like = st.text(
    st.characters(categories=["Lu", "Ll", "Lt", "Lo", "Mn", "Mc", "Nd", "Zs", "Pd", "Po"]),
    min_size=1,
    max_size=20,
)
email_like = st.builds(
    lambda before, local, domain, case, after: (
        before + (f"{local}@{domain}".upper() if case else f"{local}@{domain}") + after
    ),
    st.sampled_from(["", " ", "\t", "  ", "\u00a0", "\x0b"]),
    st.from_regex(r"[a-z0-9][a-z0-9._+'-]{0,20}", fullmatch=True),
    st.from_regex(r"(gmail\.com|googlemail\.com|[a-z0-9-]{1,10}\.[a-z]{2,4})", fullmatch=True),
    st.booleans(),
    st.sampled_from(["", " ", "\t", " \t ", "\r", "\u2003"]),
)
phone_like = st.from_regex(r"\+?[0-9 ()./-]{6,20}", fullmatch=True)
postal_like = st.from_regex(r"[A-Za-z0-9 -]{2,10}", fullmatch=True)
number_like = st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=True), st.decimals(allow_nan=False))
anything = st.one_of(
    st.text(max_size=40),
    name_like,
    email_like,
    phone_like,
    postal_like,
    number_like,
    st.none(),
    st.booleans(),
    st.binary(max_size=10),
)


def renormalize(platform: Platform, field: str, result: Normalized, country: str | None) -> object:
    if platform is Platform.META and field == "PHONE" and result.sha256 != result.normalized:
        # Meta's PHONE is E.164 without the "+": putting it back gives the same number.
        return normalize(platform, field, "+" + result.normalized, country=country)
    return normalize(platform, field, result.normalized, country=country)


@settings(max_examples=300)
@given(target=st.sampled_from(FIELDS), value=anything, country=COUNTRIES)
def test_normalization_is_idempotent(
    target: tuple[Platform, str], value: object, country: str | None
) -> None:
    platform, field = target
    result = normalize(platform, field, value, country=country)
    if isinstance(result, Normalized):
        assert renormalize(platform, field, result, country) == result


@settings(max_examples=300)
@given(target=st.sampled_from(FIELDS), value=anything, country=COUNTRIES)
def test_hashes_are_64_lowercase_hex_of_the_normalized_value(
    target: tuple[Platform, str], value: object, country: str | None
) -> None:
    platform, field = target
    result = normalize(platform, field, value, country=country)
    if isinstance(result, Normalized):
        assert result.normalized.strip() == result.normalized != ""
        if result.sha256 is not None:
            assert HEX64.fullmatch(result.sha256)
            passthrough = result.sha256 == result.normalized
            assert passthrough or result.sha256 == hashlib.sha256(result.normalized.encode()).hexdigest()


@settings(max_examples=300)
@given(
    target=st.sampled_from(FIELDS), value=st.one_of(st.text(min_size=6, max_size=40), name_like, email_like)
)
def test_no_raw_value_leaks_into_a_rejection(target: tuple[Platform, str], value: str) -> None:
    platform, field = target
    result = normalize(platform, field, value, country="US")
    if isinstance(result, Rejected):
        assert result.reason in set(Reason)
        assert result.field == field
        shown = repr(result) + str(result) + result.reason
        vocabulary = repr(Rejected(field, Reason(result.reason)))
        assert value.strip() not in shown or value.strip() in vocabulary


@settings(max_examples=100)
@given(
    column=st.lists(st.one_of(email_like, st.text(max_size=15)), max_size=30),
    platform=st.sampled_from(list(Platform)),
)
def test_email_column_equals_one_by_one(column: list[str], platform: Platform) -> None:
    field = "EMAIL" if platform is Platform.META else "email"
    assert normalize_column(platform, field, column) == [normalize(platform, field, v) for v in column]


@settings(max_examples=50)
@given(
    rows=st.lists(st.tuples(st.one_of(phone_like, postal_like, name_like), COUNTRIES), max_size=20),
    target=st.sampled_from(FIELDS),
)
def test_any_column_equals_one_by_one(
    rows: list[tuple[str, str | None]], target: tuple[Platform, str]
) -> None:
    platform, field = target
    values = [value for value, _ in rows]
    countries = [country for _, country in rows]
    expected = [normalize(platform, field, v, country=c) for v, c in rows]
    assert normalize_column(platform, field, values, countries) == expected


@given(st.text())
def test_builtin_sha256_matches_hashlib(text: str) -> None:
    assert sha256_hex(text) == hashlib.sha256(text.encode()).hexdigest()
