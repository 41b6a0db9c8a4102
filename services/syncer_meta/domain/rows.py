"""Rows in Meta's multi-key schema, built from the stored hashed identifiers.

Every destination uses the same identifier columns in the same order, so the ledger's rows can
be sent back unchanged for removals. Value-based seeds add ``LOOKALIKE_VALUE``: the scorer's
predicted value, a non-negative JSON number, never hashed (value-based lookalike guide).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from services.syncer_meta.domain.membership import CustomerView

# Meta multi-key columns audiencesync stores (shared/identity CONTACT_FIELDS for Meta).
IDENTIFIER_KEYS: tuple[str, ...] = ("EMAIL", "PHONE", "FN", "LN", "FI", "CT", "ST", "ZIP", "COUNTRY")
STRONG_KEYS = frozenset({"EMAIL", "PHONE"})  # a row needs one of these to name one person
VALUE_KEY = "LOOKALIKE_VALUE"
CENT = Decimal("0.01")


def schema(value_based: bool) -> tuple[str, ...]:
    """The ``payload.schema`` of a destination."""
    return (*IDENTIFIER_KEYS, VALUE_KEY) if value_based else IDENTIFIER_KEYS


@dataclass(frozen=True, slots=True)
class Member:
    """One customer as a destination wants them: the identifier row and, for seeds, the value."""

    key: str
    row: tuple[str, ...]  # IDENTIFIER_KEYS order, "" where unknown
    value: Decimal | None = None

    def wire(self) -> list[str | float]:
        """The row as sent: identifiers, then LOOKALIKE_VALUE as a JSON number when present."""
        cells: list[str | float] = list(self.row)
        if self.value is not None:
            cells.append(float(self.value))
        return cells


def upload_value(value: Decimal | None) -> Decimal:
    """LOOKALIKE_VALUE for a predicted value: cents, never negative (Meta rejects negatives)."""
    if value is None or value < 0:
        return Decimal("0.00")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def identifier_row(identifiers: Mapping[str, str]) -> tuple[str, ...] | None:
    """The identifier cells, or None when no email or phone names the person."""
    if not (identifiers.get("EMAIL") or identifiers.get("PHONE")):  # STRONG_KEYS, unrolled: hot path
        return None
    get = identifiers.get
    return tuple([get(key, "") for key in IDENTIFIER_KEYS])


def to_member(customer: CustomerView, *, value_based: bool) -> Member | None:
    """The member a destination uploads for ``customer`` (None: nothing to match on)."""
    row = identifier_row(customer.identifiers)
    if row is None:
        return None
    return Member(customer.key, row, upload_value(customer.value) if value_based else None)
