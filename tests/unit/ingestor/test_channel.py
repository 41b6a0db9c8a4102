"""Sales channel and acquisition referral derived from source_name, landing and referring sites."""

from __future__ import annotations

import pytest

from services.ingestor.domain import Rates, channel_from_label, derive_channel, derive_referral, ingest_order

from .payloads import minimal_order


@pytest.mark.parametrize(
    ("source_name", "app_id", "channel"),
    [
        ("web", None, "web"),
        ("checkout_next", None, "web"),
        ("pos", None, "pos"),
        ("shopify_draft_order", None, "draft"),
        ("iphone", None, "draft"),  # keyed in on the merchant's mobile admin app
        ("amazon_marketplace", None, "marketplace"),
        ("ebay", None, "marketplace"),
        ("facebook_shop", None, "social"),
        ("TikTok", None, "social"),
        ("subscription_contract", None, "subscription"),
        ("1354745", None, "app"),  # a sales-channel app we cannot name from its id
        ("580111", None, "web"),  # ...except the Online Store's own id
        ("wholesale_portal", None, "other"),
        (None, "580111", "web"),  # trimmed payloads: the Online Store app id
        (None, None, "unknown"),
    ],
)
def test_channel(source_name: str | None, app_id: str | None, channel: str) -> None:
    assert derive_channel(source_name, app_id) == channel


@pytest.mark.parametrize(
    ("landing", "referrer", "referral"),
    [
        ("/?utm_source=google&utm_medium=cpc", None, "google"),
        ("/products/x?utm_source=fb&utm_medium=paid", "https://www.google.com/", "facebook"),  # utm wins
        ("/?UTM_SOURCE=Instagram", None, "instagram"),
        ("/?utm_source=Facebook%20Ads", None, "facebook"),
        ("/?utm_source=klaviyo&utm_medium=email", None, "email"),
        ("/?utm_medium=newsletter", None, "email"),
        ("/?utm_source=couponfollow&utm_medium=affiliate", None, "referral"),
        ("/collections/all?gclid=abc123", None, "google"),
        ("/?fbclid=IwAR0", None, "facebook"),
        ("/?ttclid=x", None, "tiktok"),
        ("/", "https://www.google.co.uk/search?q=shoes", "google"),
        ("/", "https://l.facebook.com/l.php?u=x", "facebook"),
        ("/", "https://l.instagram.com/", "instagram"),
        ("/", "https://mail.google.com/mail/u/0/", "email"),
        ("/", "https://outlook.live.com/", "email"),
        ("/", "https://t.co/abc", "twitter"),
        ("/", "android-app://com.google.android.gm/", "email"),  # the Gmail app
        ("/", "android-app://com.example.reader/", "referral"),
        ("/", "https://someblog.example.org/review", "referral"),
        ("/", "", "direct"),
        (None, None, "direct"),
        ("not a url at all ?? ::", "::::", "direct"),
    ],
)
def test_web_referral(landing: str | None, referrer: str | None, referral: str) -> None:
    assert derive_referral("web", landing, referrer) == referral


@pytest.mark.parametrize("channel", ["pos", "draft", "subscription", "app", "other"])
def test_no_referral_for_channels_a_browser_does_not_reach(channel: str) -> None:
    assert derive_referral(channel, "/?utm_source=google", "https://google.com") is None


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("web", ("web", None)),
        ("Online Store", ("web", None)),
        ("pos", ("pos", None)),
        ("Amazon", ("marketplace", None)),
        ("google", ("web", "google")),
        ("Facebook Ads", ("web", "facebook")),
        ("instagram", ("web", "instagram")),
        ("newsletter", ("web", "email")),
        ("wholesale", ("other", None)),
        (None, ("unknown", None)),
    ],
)
def test_generic_channel_cell(label: str | None, expected: tuple[str, str | None]) -> None:
    assert channel_from_label(label) == expected


def test_an_order_carries_both(rates: Rates) -> None:
    order = minimal_order(
        source_name="web", landing_site="/?utm_source=ig", referring_site="https://l.instagram.com"
    )
    facts = ingest_order(order, shop="s", rates=rates).facts
    assert (facts.channel, facts.referral) == ("web", "instagram")
