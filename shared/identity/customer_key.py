"""A stable customer key, scoped to one shop: from the canonical email, else the shop's id.

The key is SHA-256 over a namespaced, JSON-encoded tuple (version, kind, shop, value), so an
email key and an id key can never collide, nor keys of two shops. The email is canonicalized
as for Google's Data Manager API plus googlemail.com -> gmail.com: addresses that reach the
same Gmail mailbox are one customer (docs/identifiers.md explains the choice).
"""

from __future__ import annotations

import json
import re

from shared.identity import emails
from shared.identity.result import Reason, sha256_hex
from shared.identity.screening import screen

_NAMESPACE = "audiencesync/customer-key/v1"
# Shopify sends a customer both as 207119551 and as gid://shopify/Customer/207119551.
_SHOPIFY_GID = re.compile(r"gid://shopify/Customer/([0-9]+)")


def customer_key(*, shop: str, email: str | None, shop_customer_id: str | None) -> str | None:
    """64-hex key for the customer, or None when there is neither a valid email nor an id."""
    shop_name = shop.strip() if isinstance(shop, str) else ""
    if not shop_name:
        raise ValueError("customer_key needs the shop it is scoped to")
    canonical = _canonical_email(email)
    if canonical is not None:
        return _key("email", shop_name, canonical)
    customer_id = _canonical_id(shop_customer_id)
    if customer_id is not None:
        return _key("shop_customer_id", shop_name, customer_id)
    return None


def _canonical_email(value: object) -> str | None:
    canonical = emails.email(value, emails.EmailStyle.CUSTOMER_KEY)
    return None if isinstance(canonical, Reason) else canonical


def _canonical_id(value: object) -> str | None:
    text = screen(value, numbers=True, fold=False)
    if isinstance(text, Reason):
        return None
    gid = _SHOPIFY_GID.fullmatch(text)
    return gid[1] if gid else text


def _key(kind: str, shop: str, value: str) -> str:
    return sha256_hex(json.dumps([_NAMESPACE, kind, shop, value], ensure_ascii=False, separators=(",", ":")))
