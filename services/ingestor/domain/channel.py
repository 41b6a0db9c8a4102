"""Where an order was sold (channel) and what brought the buyer (referral), from a few URLs.

Channel comes from Shopify's ``source_name``; referral from the landing page's ``utm_source``
(or ad click ids), then the referring site's host, else ``direct``. Referral only applies to
channels a browser reaches (web, marketplace, social, unknown); a till or a draft has none.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

# Shopify's Online Store sales-channel app id: real web-order payloads carry it as ``app_id``
# when ``source_name`` is trimmed away (as in the recorded real-store samples).
ONLINE_STORE_APP_ID = "580111"

_CHANNELS = {
    "web": "web",
    "checkout_next": "web",
    "buy_button": "web",
    "shopify_draft_order": "draft",
    "draft_order": "draft",
    "pos": "pos",
    "shopify_pos": "pos",
    "iphone": "draft",  # orders the merchant keyed in on Shopify's mobile admin app
    "android": "draft",
}
_MARKETPLACES = (
    "amazon",
    "ebay",
    "etsy",
    "walmart",
    "zalando",
    "mercadolibre",
    "rakuten",
    "bol.com",
    "allegro",
    "marketplace",
)
_SOCIAL = ("facebook", "instagram", "tiktok", "pinterest", "snapchat", "youtube")
REFERRALS = (
    "google",
    "facebook",
    "instagram",
    "tiktok",
    "pinterest",
    "youtube",
    "bing",
    "twitter",
    "snapchat",
    "reddit",
    "email",
    "sms",
    "affiliate",
    "direct",
    "referral",
)
_SOURCE_ALIASES = {
    "fb": "facebook",
    "meta": "facebook",
    "ig": "instagram",
    "adwords": "google",
    "gads": "google",
    "googleads": "google",
    "google_ads": "google",
    "yt": "youtube",
    "x": "twitter",
    "t.co": "twitter",
    "newsletter": "email",
    "klaviyo": "email",
    "mailchimp": "email",
    "omnisend": "email",
    "e-mail": "email",
    "attentive": "sms",
    "postscript": "sms",
    "text": "sms",
    "microsoft": "bing",
    "msn": "bing",
}
_CLICK_IDS = (
    ("gclid", "google"),
    ("gbraid", "google"),
    ("wbraid", "google"),
    ("fbclid", "facebook"),
    ("ttclid", "tiktok"),
    ("msclkid", "bing"),
    ("epik", "pinterest"),
    ("sccid", "snapchat"),
)
# Host fragments (the registrable name, any TLD) to referral; webmail hosts are "email".
_HOSTS = (
    ("mail.google.", "email"),
    ("outlook.", "email"),
    ("mail.yahoo.", "email"),
    ("mail.", "email"),
    ("instagram.", "instagram"),
    ("facebook.", "facebook"),
    ("fb.", "facebook"),
    ("google.", "google"),
    ("youtube.", "youtube"),
    ("bing.", "bing"),
    ("tiktok.", "tiktok"),
    ("pinterest.", "pinterest"),
    ("t.co", "twitter"),
    ("twitter.", "twitter"),
    ("x.com", "twitter"),
    ("reddit.", "reddit"),
    ("snapchat.", "snapchat"),
    ("duckduckgo.", "referral"),
)
_ANDROID_APPS = {
    "com.google.android.gm": "email", "com.google.android.googlequicksearchbox": "google",
    "com.facebook.katana": "facebook", "com.instagram.android": "instagram",
    "com.zhiliaoapp.musically": "tiktok", "com.pinterest": "pinterest", "com.twitter.android": "twitter",
}  # fmt: skip
_TOKEN = re.compile(r"[^a-z0-9]+")
_BROWSER_CHANNELS = frozenset({"web", "marketplace", "social", "unknown"})


def derive_channel(source_name: str | None, app_id: str | None = None) -> str:
    """The sales channel: web, pos, draft, marketplace, social, subscription, app, other, unknown."""
    if not source_name:
        return "web" if app_id == ONLINE_STORE_APP_ID else "unknown"
    name = source_name.strip().lower()
    if name == ONLINE_STORE_APP_ID:
        return "web"
    known = _CHANNELS.get(name)
    if known:
        return known
    if name.startswith("subscription"):
        return "subscription"
    if any(m in name for m in _MARKETPLACES):
        return "marketplace"
    if any(s in name for s in _SOCIAL):
        return "social"
    if name.isdigit():  # a sales-channel app we cannot name from its id alone
        return "app"
    return "other"


def _alias(source: str) -> str:
    """A utm_source-ish label to a referral name: ``fb``, ``Facebook Ads``, ``l.facebook.com``."""
    text = source.strip().lower()
    whole = _SOURCE_ALIASES.get(text, text)
    if whole in REFERRALS:
        return whole
    for token in _TOKEN.split(text):
        name = _SOURCE_ALIASES.get(token, token)
        if name in REFERRALS and name != "referral":
            return name
    return "referral"


@lru_cache(maxsize=4096)
def _from_landing(landing_site: str) -> str | None:
    query = urlsplit(landing_site.strip()).query if "?" in landing_site else ""
    if not query:
        return None
    params = {k.lower(): v for k, v in parse_qsl(query)}
    source = params.get("utm_source", "").strip()
    if source:
        return _alias(source)
    if params.get("utm_medium", "").strip().lower() in {"email", "e-mail", "newsletter"}:
        return "email"
    for key, name in _CLICK_IDS:
        if key in params:
            return name
    return None


@lru_cache(maxsize=4096)
def _from_referrer(referring_site: str) -> str | None:
    text = referring_site.strip()
    host = (urlsplit(text if "//" in text else "//" + text).hostname or "").lower()
    if not host:
        return None
    if text.lower().startswith("android-app://"):  # Android sends the referring app's package
        return _ANDROID_APPS.get(host, "referral")
    host = host.removeprefix("www.").removeprefix("m.").removeprefix("l.").removeprefix("lm.")
    for fragment, name in _HOSTS:
        if host.startswith(fragment) or f".{fragment}" in f".{host}":
            return name
    return "referral"


def derive_referral(channel: str, landing_site: str | None, referring_site: str | None) -> str | None:
    """What brought the buyer: utm_source/click id, else referring host, else direct."""
    if channel not in _BROWSER_CHANNELS:
        return None
    found = _from_landing(landing_site[:2048]) if landing_site else None
    if found is None and referring_site:
        found = _from_referrer(referring_site[:2048])
    return found or "direct"


def channel_from_label(label: str | None) -> tuple[str, str | None]:
    """Channel and referral from one free-text ``channel`` cell of the generic layout."""
    if not label:
        return "unknown", None
    text = label.strip().lower()
    if text in {"online", "online_store", "online store", "website", "webshop", "ecommerce"}:
        return "web", None
    channel = derive_channel(text)
    if channel in {"other", "social"}:  # "google", "Facebook Ads", "newsletter": a referral
        referral = _alias(text)
        if referral != "referral":
            return "web", referral
    return channel, None
