"""Where facebook_business's own hashing disagrees with Meta's documentation, we follow the docs.

Each case pins the SDK's behaviour (CustomAudience.format_params, facebook-business 26.0.3) next
to ours, so an SDK change that fixes or moves a difference shows up here. docs/identifiers.md
lists the same differences with the documentation they contradict.
"""

from __future__ import annotations

import hashlib

import pytest
from facebook_business.adobjects.customaudience import CustomAudience

from shared.identity import Normalized, Platform, Reason, Rejected, normalize


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sdk_multi_key(key: str, raw: str) -> str:
    params = CustomAudience.format_params(schema=[key], users=[[raw]], is_raw=True)
    value: str = params["payload"]["data"][0][0]
    return value


@pytest.mark.parametrize(
    ("key", "raw", "country", "sdk_sends", "documented"),
    [
        # Names: the SDK keeps a-z only, so accents vanish; the docs keep UTF-8 special characters.
        ("FN", "Émilie", None, sha("milie"), sha("émilie")),
        ("LN", "Nguyễn", None, sha("nguyn"), sha("nguyễn")),
        # Country: the SDK keeps the first two letters of whatever it gets.
        ("COUNTRY", "United States", None, sha("un"), sha("us")),
        # State: the docs want the 2-letter code for US states.
        ("ST", "California", "US", sha("california"), sha("ca")),
        # ZIP: the SDK keeps inner spaces and the UK unit; the docs want no spaces, UK sectors.
        ("ZIP", "SW1A 1AA", "GB", sha("sw1a 1aa"), sha("sw1a1")),
        ("ZIP", "940351234", "US", sha("940351234"), sha("94035")),
        # ZIP elsewhere: the SDK keeps what precedes the first "-" and inner spaces; the docs
        # say lowercase with no spaces and no dash.
        ("ZIP", "1234-567", "PT", sha("1234"), sha("1234567")),
        ("ZIP", "H3Z 2Y7", "CA", sha("h3z 2y7"), sha("h3z2y7")),
        # Phone: the SDK keeps digits only, so a national number has no country code.
        ("PHONE", "07400 123456", "GB", sha("07400123456"), sha("447400123456")),
        # MADID: the docs say "do not hash"; the SDK hashes every multi-key value but EXTERN_ID.
        (
            "MADID",
            "AECE52E7-03EE-455A-B3C4-E57283966239",
            None,
            sha("aece52e7-03ee-455a-b3c4-e57283966239"),
            "aece52e7-03ee-455a-b3c4-e57283966239",
        ),
    ],
)
def test_we_follow_the_documentation_where_the_sdk_differs(
    key: str, raw: str, country: str | None, sdk_sends: str, documented: str
) -> None:
    assert sdk_multi_key(key, raw) == sdk_sends
    assert normalize(Platform.META, key, raw, country=country).wire_value == documented
    assert sdk_sends != documented


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("", Reason.EMPTY), ("N/A", Reason.PLACEHOLDER), ("not-an-email", Reason.EMAIL_INVALID_SYNTAX)],
)
def test_the_sdk_hashes_unusable_emails_we_send_nothing(raw: str, reason: Reason) -> None:
    params = CustomAudience.format_params(schema=CustomAudience.Schema.email_hash, users=[raw])
    assert params["payload"]["data"] == [sha(raw.strip().lower())]
    assert normalize(Platform.META, "EMAIL", raw) == Rejected("EMAIL", reason)


def test_single_key_email_agrees_with_the_sdk_for_a_valid_address() -> None:
    params = CustomAudience.format_params(
        schema=CustomAudience.Schema.email_hash, users=["  Jane.Doe@Example.com "]
    )
    assert normalize(Platform.META, "EMAIL", "  Jane.Doe@Example.com ") == Normalized(
        "EMAIL", "jane.doe@example.com", params["payload"]["data"][0]
    )
