"""One customer's contact details turned into every platform's identifiers (for the ingestor).

Phones use the contact's country as the default region: the caller passes the best country it
has (shipping address, then billing). Fields that are None are skipped; fields that fail are
returned as ``Rejected`` by ``normalize_contact`` and left out by ``hash_contact``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shared.identity.normalize import normalize
from shared.identity.result import Normalized, Platform, Rejected


@dataclass(frozen=True, slots=True)
class Contact:
    """Raw contact fields from an order; ``repr`` shows none of them."""

    email: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    first_name: str | None = field(default=None, repr=False)
    last_name: str | None = field(default=None, repr=False)
    city: str | None = field(default=None, repr=False)
    region: str | None = field(default=None, repr=False)
    postal_code: str | None = field(default=None, repr=False)
    country: str | None = field(default=None, repr=False)


_GOOGLE_FIELDS = (
    ("email", "email"),
    ("phone", "phone"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("country_code", "country"),
    ("postal_code", "postal_code"),
)
# (platform field, Contact attribute) in the order identifiers are produced.
CONTACT_FIELDS: Mapping[Platform, tuple[tuple[str, str], ...]] = MappingProxyType(
    {
        Platform.META: (
            ("EMAIL", "email"),
            ("PHONE", "phone"),
            ("FN", "first_name"),
            ("LN", "last_name"),
            ("FI", "first_name"),
            ("CT", "city"),
            ("ST", "region"),
            ("ZIP", "postal_code"),
            ("COUNTRY", "country"),
        ),
        Platform.GOOGLE_ADS: _GOOGLE_FIELDS,
        Platform.GOOGLE_DM: _GOOGLE_FIELDS,
    }
)
# Google matches an address only as a whole (AddressInfo requires all four parts).
GOOGLE_ADDRESS = frozenset({"first_name", "last_name", "country_code", "postal_code"})


def normalize_contact(
    contact: Contact, platforms: Iterable[Platform] = tuple(Platform)
) -> dict[Platform, list[Normalized | Rejected]]:
    """Every identifier each platform can take from ``contact``, rejections included."""
    return {
        platform: [
            normalize(platform, name, getattr(contact, attribute), country=contact.country)
            for name, attribute in CONTACT_FIELDS[platform]
            if getattr(contact, attribute) is not None
        ]
        for platform in platforms
    }


def hash_contact(
    contact: Contact, platforms: Iterable[Platform] = tuple(Platform)
) -> dict[Platform, dict[str, str]]:
    """Per platform, field -> value to send (SHA-256 hex, or the normalized unhashed value).

    For Google, the address parts are dropped unless all four are valid: a partial address
    cannot be uploaded.
    """
    hashed: dict[Platform, dict[str, str]] = {}
    for platform, results in normalize_contact(contact, platforms).items():
        values = {r.field: r.wire_value for r in results if isinstance(r, Normalized)}
        if platform is not Platform.META and not values.keys() >= GOOGLE_ADDRESS:
            values = {name: value for name, value in values.items() if name not in GOOGLE_ADDRESS}
        hashed[platform] = values
    return hashed
