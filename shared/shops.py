"""A shop's one name: its domain, spelled the way every edge (webhook header, import) stores it.

Facts are scoped by shop, so an import stored under ``Demo.myshopify.com `` and webhooks under
``demo.myshopify.com`` would be two shops with every returning customer twice. The rule is the
webhook edge's (``services/api/webhooks.py shop_domain``): strip, lower-case, and a value that is
not a host name is refused.
"""

from __future__ import annotations

import re

# Labels of letters, digits and inner hyphens, at least two of them, 3-235 characters in all:
# DNS allows 253, but the domain scopes Kafka keys ("<shop>/<20-digit id>", at most 256 characters).
SHOP_DOMAIN = re.compile(
    r"(?=.{3,235}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
)
# The ``SHOP`` setting's value when it is not set: a single-shop placeholder, not a domain.
UNSET_SHOP = "default"


class InvalidShopDomain(ValueError):  # noqa: N818 - a fact about a value, like InvalidPayload
    """A shop name that is not a host name; the message says so in one line."""


def normalize_shop_domain(value: str) -> str:
    """``value`` stripped and lower-cased; raises ``InvalidShopDomain`` when it is not a host name."""
    domain = value.strip().lower()
    if not SHOP_DOMAIN.fullmatch(domain):
        raise InvalidShopDomain(f"{value.strip()[:80]!r} is not a shop domain (e.g. your-shop.myshopify.com)")
    return domain
