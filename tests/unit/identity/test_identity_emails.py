"""Emails: trimmed, lowercased, syntax-checked; Gmail folded only where a platform says so."""

from __future__ import annotations

import hashlib

import pytest

from shared.identity import Normalized, Platform, Reason, Rejected, normalize

ALL = list(Platform)
FIELD = {Platform.META: "EMAIL", Platform.GOOGLE_ADS: "email", Platform.GOOGLE_DM: "email"}


def email_of(platform: Platform, raw: object) -> str | Reason:
    result = normalize(platform, FIELD[platform], raw)
    return result.normalized if isinstance(result, Normalized) else Reason(result.reason)


@pytest.mark.parametrize("platform", ALL)
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jane.Doe@Example.COM\t", "jane.doe@example.com"),
        ("JANE@EXAMPLE.CO.UK", "jane@example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("first-last_1@sub.example-mail.com", "first-last_1@sub.example-mail.com"),
        ("a+tag@example.com", "a+tag@example.com"),
        ("x@xn--bcher-kva.example", "x@xn--bcher-kva.example"),
        ("ｊａｎｅ@example.com", "jane@example.com"),  # full-width letters (NFKC)
        ("jane\u200b@example.com", "jane@example.com"),  # zero-width space from a web form
        ("josé@correo.es", "josé@correo.es"),  # internationalized local part
        ("user@bücher.de", "user@bücher.de"),
    ],
)
def test_valid_addresses_are_trimmed_and_lowercased(platform: Platform, raw: str, expected: str) -> None:
    assert email_of(platform, raw) == expected


@pytest.mark.parametrize("platform", ALL)
@pytest.mark.parametrize(
    "raw",
    [
        "plainaddress",
        "@example.com",
        "jane@",
        "jane@@example.com",
        "jane@example",
        "jane@example.c",
        "jane@example.123",
        ".jane@example.com",
        "jane.@example.com",
        "ja..ne@example.com",
        "jane@.example.com",
        "jane@example..com",
        "jane@-example.com",
        "jane@example-.com",
        "jane@[127.0.0.1]",
        '"jane doe"@example.com',
        "jane,doe@example.com",
        "jane@exa mple.com;",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_malformed_addresses_are_rejected(platform: Platform, raw: str) -> None:
    assert email_of(platform, raw) == Reason.EMAIL_INVALID_SYNTAX


def test_meta_rejects_inner_whitespace_google_squeezes_it() -> None:
    raw = "jane doe@example.com"
    assert email_of(Platform.META, raw) == Reason.EMAIL_INVALID_SYNTAX
    assert email_of(Platform.GOOGLE_ADS, raw) == "janedoe@example.com"
    assert email_of(Platform.GOOGLE_DM, raw) == "janedoe@example.com"


@pytest.mark.parametrize(
    ("raw", "meta", "google_ads", "google_dm"),
    [
        ("J.Doe+news@Gmail.com", "j.doe+news@gmail.com", "j.doe+news@gmail.com", "jdoe@gmail.com"),
        ("j.doe@googlemail.com", "j.doe@googlemail.com", "j.doe@googlemail.com", "jdoe@googlemail.com"),
        ("j.doe+x@gmail.co.uk", "j.doe+x@gmail.co.uk", "j.doe+x@gmail.co.uk", "j.doe+x@gmail.co.uk"),
        ("j.doe+x@outlook.com", "j.doe+x@outlook.com", "j.doe+x@outlook.com", "j.doe+x@outlook.com"),
    ],
)
def test_gmail_dots_and_plus_tags_differ_per_platform(
    raw: str, meta: str, google_ads: str, google_dm: str
) -> None:
    assert email_of(Platform.META, raw) == meta
    assert email_of(Platform.GOOGLE_ADS, raw) == google_ads
    assert email_of(Platform.GOOGLE_DM, raw) == google_dm


def test_gmail_address_that_is_only_a_plus_tag_is_rejected_for_data_manager() -> None:
    assert email_of(Platform.GOOGLE_DM, "+promo@gmail.com") == Reason.EMAIL_INVALID_SYNTAX
    assert email_of(Platform.META, "+promo@gmail.com") == "+promo@gmail.com"


@pytest.mark.parametrize("platform", ALL)
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, Reason.EMPTY),
        ("", Reason.EMPTY),
        ("   ", Reason.EMPTY),
        ("N/A", Reason.PLACEHOLDER),
        ("null", Reason.PLACEHOLDER),
        ("None", Reason.PLACEHOLDER),
        ("noemail@example.com", Reason.PLACEHOLDER),
        ("NoReply@shop.com", Reason.PLACEHOLDER),
        ("jan\ufffd@example.com", Reason.MANGLED_UNICODE),
        ("josÃ©@example.com", Reason.MANGLED_UNICODE),
        ("jane\x00@example.com", Reason.MANGLED_UNICODE),
        (12345, Reason.INVALID_TYPE),
        (["a@b.com"], Reason.INVALID_TYPE),
    ],
)
def test_unusable_values_produce_no_identifier(platform: Platform, raw: object, reason: Reason) -> None:
    assert normalize(platform, FIELD[platform], raw) == Rejected(FIELD[platform], reason)


@pytest.mark.parametrize("platform", ALL)
def test_an_already_hashed_email_passes_through_lowercased_and_is_not_hashed_again(
    platform: Platform,
) -> None:
    digest = hashlib.sha256(b"jane@example.com").hexdigest()
    result = normalize(platform, FIELD[platform], f"  {digest.upper()} ")
    assert result == Normalized(FIELD[platform], digest, digest)
