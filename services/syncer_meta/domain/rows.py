"""Meta's row format: the multi-key schema built from the stored hashed identifiers.

Every destination uses the same identifier columns in the same order, so the ledger's rows can
be sent back unchanged for removals. Value-based seeds add ``LOOKALIKE_VALUE``: the scorer's
predicted value, a non-negative JSON number, never hashed (value-based lookalike guide).
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.sync.membership import CustomerView
from shared.sync.rows import Member, RowFormat
from shared.sync.rows import to_member as _to_member

# Meta multi-key columns audiencesync stores (shared/identity CONTACT_FIELDS for Meta).
IDENTIFIER_KEYS: tuple[str, ...] = ("EMAIL", "PHONE", "FN", "LN", "FI", "CT", "ST", "ZIP", "COUNTRY")
STRONG_KEYS = frozenset({"EMAIL", "PHONE"})  # a row needs one of these to name one person
VALUE_KEY = "LOOKALIKE_VALUE"
# "up to 15 keys" per row in the multi-key schema (custom-audiences guide); 9 + the value here.
META_ROWS = RowFormat("meta", IDENTIFIER_KEYS, STRONG_KEYS, VALUE_KEY, max_identifiers=15)


def schema(value_based: bool) -> tuple[str, ...]:
    """The ``payload.schema`` of a destination."""
    return META_ROWS.schema(value_based)


def identifier_row(identifiers: Mapping[str, str]) -> tuple[str, ...] | None:
    """The identifier cells, or None when no email or phone names the person."""
    return META_ROWS.row(identifiers)


def to_member(customer: CustomerView, *, value_based: bool) -> Member | None:
    """The member a Meta destination uploads for ``customer`` (None: nothing to match on)."""
    return _to_member(customer, META_ROWS, value_based=value_based)
