"""A customer as a Google Customer Match member: the identifiers it is matched on.

The stored identifiers (``customer_identifiers`` rows of platform ``google-dm`` or ``google-ads``)
become one member with every email and phone the customer has, and one address when its four
parts (hashed given and family name, region code, postal code) are all known: Google matches an
address only as a whole (AD_APIS.md 2.3, 2.8). The identifiers are written as short tagged
strings so the ledger keeps the exact member sent and a removal sends the same one back:

- ``e:<sha256>`` email, ``p:<sha256>`` phone,
- ``a:<given sha256>:<family sha256>:<region>:<postal code>`` address.

Each API caps identifiers per member (Data Manager 10, Google Ads API 20); emails come first,
then phones, then the address, each in sorted order, so the same customer always gives the same
member and a cap drops the same identifiers every time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EMAIL = "e"
PHONE = "p"
ADDRESS = "a"
ADDRESS_PARTS = ("first_name", "last_name", "country_code", "postal_code")


@dataclass(frozen=True, slots=True)
class Identifier:
    """One decoded identifier of a member."""

    kind: str  # EMAIL | PHONE | ADDRESS
    value: str = ""  # sha256 hex for EMAIL / PHONE
    given: str = ""
    family: str = ""
    region: str = ""
    postal: str = ""


def member_row(fields: Iterable[tuple[str, str]], *, cap: int) -> tuple[str, ...] | None:
    """The tagged identifiers of one customer from ``(field, value)`` pairs, or None if none.

    ``fields`` are stored Google identifiers (``email``, ``phone``, ``first_name``, ...); several
    values of one field are all kept (several emails), except address parts, of which the
    smallest is used so the address is stable.
    """
    emails: set[str] = set()
    phones: set[str] = set()
    parts: dict[str, str] = {}
    for field, value in fields:
        if not value:
            continue
        if field == "email":
            emails.add(value)
        elif field == "phone":
            phones.add(value)
        elif field in ADDRESS_PARTS and (field not in parts or value < parts[field]):
            parts[field] = value
    row = [f"{EMAIL}:{v}" for v in sorted(emails)] + [f"{PHONE}:{v}" for v in sorted(phones)]
    if all(parts.get(name) for name in ADDRESS_PARTS):
        row.append(":".join([ADDRESS, *(parts[name] for name in ADDRESS_PARTS)]))
    return tuple(row[:cap]) if row else None


def decode(row: Sequence[str]) -> list[Identifier]:
    """The identifiers of a stored row (a row from an older format yields what it can)."""
    out: list[Identifier] = []
    for cell in row:
        kind, _, rest = cell.partition(":")
        if kind in (EMAIL, PHONE) and rest:
            out.append(Identifier(kind, rest))
        elif kind == ADDRESS:
            given, family, region, postal = ([*rest.split(":", 3), "", "", ""])[:4]
            out.append(Identifier(ADDRESS, given=given, family=family, region=region, postal=postal))
    return out
