"""A customer as a Google Customer Match member: the identifiers it is matched on, and consent.

Rows follow ``COLUMNS``: the stored Google identifiers (``customer_identifiers`` of platform
``google-dm`` or ``google-ads``: hashed email, phone, given and family name; country code and
postal code as written), then the member's two ad consent signals. Google matches an address
only as a whole (AD_APIS.md 2.3, 2.8), so the address is sent only when all four parts are
known. Consent sits in the row so the ledger keeps what was sent with each member: a change of
consent changes the row, and the next sync sends the member again with its new signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.sync.google_consent import AdConsent, Signal

IDENTIFIER_COLUMNS = ("email", "phone", "first_name", "last_name", "country_code", "postal_code")
CONSENT_COLUMNS = ("ad_user_data", "ad_personalization")
COLUMNS = (*IDENTIFIER_COLUMNS, *CONSENT_COLUMNS)
STRONG = frozenset({"email", "phone"})
EMAIL, PHONE, ADDRESS = "email", "phone", "address"
IDENTIFIERS_PER_MEMBER = 3  # the most a row here can carry: an email, a phone, the whole address
ADS_IDENTIFIERS_PER_REQUEST = 100_000  # Google Ads API: identifiers per AddOfflineUserDataJobOperations
ADS_MEMBERS_PER_REQUEST = ADS_IDENTIFIERS_PER_REQUEST // IDENTIFIERS_PER_MEMBER  # the Ads path's batch cap
_CELL = {True: "granted", False: "denied", None: ""}
_SIGNAL = {"granted": Signal.GRANTED, "denied": Signal.DENIED}


@dataclass(frozen=True, slots=True)
class Identifier:
    """One identifier of a member as the APIs take it."""

    kind: str  # EMAIL | PHONE | ADDRESS
    value: str = ""  # sha256 hex for EMAIL / PHONE
    given: str = ""
    family: str = ""
    region: str = ""
    postal: str = ""


def consent_cell(stored: bool | None) -> str:
    """How a stored consent flag is written in a row."""
    return _CELL[stored]


def identifiers(row: Sequence[str]) -> list[Identifier]:
    """The identifiers of a row in ``COLUMNS`` order (email, phone, then the whole address)."""
    email, phone, given, family, region, postal = [*row[:6], "", "", "", "", "", ""][:6]
    out: list[Identifier] = []
    if email:
        out.append(Identifier(EMAIL, email))
    if phone:
        out.append(Identifier(PHONE, phone))
    if given and family and region and postal:
        out.append(Identifier(ADDRESS, given=given, family=family, region=region, postal=postal))
    return out


def consent_of(row: Sequence[str]) -> AdConsent:
    """The consent signals written in a row (unknown when the row has none)."""
    cells = [*row[6:8], "", ""]
    return AdConsent(_SIGNAL.get(cells[0], Signal.UNSPECIFIED), _SIGNAL.get(cells[1], Signal.UNSPECIFIED))


def _hex64(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def screened(row: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """The row without identifiers Google would refuse, and what was dropped (``<reason> at <field>``).

    Google counts a malformed hashed identifier as an error of the request, by reason only; found
    here first, it is reported against its customer instead, and the member's good identifiers
    still go. An address with any malformed part is dropped whole (it matches only as a whole).
    """
    cells = [*row[: len(COLUMNS)], *([""] * (len(COLUMNS) - len(row)))]
    problems: list[str] = []
    for index in (0, 1):  # email, phone: SHA-256 hex
        if cells[index] and not _hex64(cells[index]):
            problems.append(f"INVALID_SHA256_FORMAT at {COLUMNS[index]}")
            cells[index] = ""
    given, family, region, postal = cells[2:6]
    if any((given, family, region, postal)):
        bad = [COLUMNS[2 + i] for i, v in enumerate((given, family)) if v and not _hex64(v)]
        if region and not (len(region) == 2 and region.isascii() and region.isupper()):
            bad.append("country_code")
        if bad:
            problems.extend(f"INVALID_FORMAT at {field}" for field in bad)
            cells[2:6] = ["", "", "", ""]
    return tuple(cells), problems
