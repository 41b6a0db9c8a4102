"""One customer's contact details turned into every platform's identifiers (for the ingestor).

Phones use the contact's country as the default region: the caller passes the best country it
has (shipping address, then billing). Fields that are None are skipped; fields that fail are
returned as ``Rejected`` by ``normalize_contact`` and left out by ``hash_contact``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from types import MappingProxyType

from shared.identity.normalize import normalize, normalize_column
from shared.identity.result import Normalized, Platform, Rejected


@dataclass(frozen=True, slots=True, repr=False)
class Contact:
    """One customer's raw contact fields, kept exactly long enough to normalize and hash.

    The ingestor builds it from a payload and drops it after hashing; ``repr`` only says which
    fields are present, so logging one by mistake leaks nothing.
    """

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    region: str | None = None  # province/state code when the payload has one, else its name
    postal_code: str | None = None
    country: str | None = None  # ISO 3166 alpha-2 (or a name) of the address the fields came from
    phone_country: str | None = None  # where to read a phone written without a +country code
    alt_email: str | None = None  # a second usable address (an extra match key, never the key)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={'set' if getattr(self, f.name) else '-'}" for f in fields(self))
        return f"Contact({shown})"

    @property
    def reachable(self) -> bool:
        """True when there is an email or a phone to match on."""
        return bool(self.email or self.phone)

    @property
    def home(self) -> str | None:
        """The country phones are read in and the COUNTRY identifier: the address's, else the phone's."""
        return self.country or self.phone_country


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
            normalize(platform, name, _value(contact, attribute), country=contact.home)
            for name, attribute in CONTACT_FIELDS[platform]
            if _value(contact, attribute) is not None
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
        hashed[platform] = _sendable(
            platform, {r.field: r.wire_value for r in results if isinstance(r, Normalized)}
        )
    return hashed


def hash_contacts(
    contacts: Sequence[Contact], platforms: Iterable[Platform] = tuple(Platform)
) -> list[dict[Platform, dict[str, str]]]:
    """``hash_contact`` for many contacts at once (the same results, in order).

    The batch path of the ingestor: each distinct contact is done once, and each field goes
    through ``normalize_column`` as one column (the email fast path, shared parsed phones).
    """
    distinct = list(dict.fromkeys(contacts))
    homes = [c.home for c in distinct]
    per_contact: list[dict[Platform, dict[str, str]]] = [{} for _ in distinct]
    for platform in platforms:
        found: list[dict[str, str]] = [{} for _ in distinct]
        for name, attribute in CONTACT_FIELDS[platform]:
            rows = [i for i, c in enumerate(distinct) if _value(c, attribute) is not None]
            if not rows:
                continue
            results = normalize_column(
                platform, name, [_value(distinct[i], attribute) for i in rows], [homes[i] for i in rows]
            )
            for i, result in zip(rows, results, strict=True):
                if isinstance(result, Normalized):
                    found[i][result.field] = result.wire_value
        for i, values in enumerate(found):
            per_contact[i][platform] = _sendable(platform, values)
    by_contact = dict(zip(distinct, per_contact, strict=True))
    return [by_contact[c] for c in contacts]


def _value(contact: Contact, attribute: str) -> str | None:
    value: str | None = contact.home if attribute == "country" else getattr(contact, attribute)
    return value


def _sendable(platform: Platform, values: dict[str, str]) -> dict[str, str]:
    """Google takes an address only whole: its parts are dropped unless all four are valid."""
    if platform is not Platform.META and not values.keys() >= GOOGLE_ADDRESS:
        return {name: value for name, value in values.items() if name not in GOOGLE_ADDRESS}
    return values
