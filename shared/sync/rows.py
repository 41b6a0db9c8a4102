"""Members and the row format each platform adapter declares for them.

A row is a tuple of identifier cells in the adapter's column order ("" where unknown), built
from the hashed identifiers the ingestor stored for that platform. The ledger keeps the exact
row sent, so a removal sends back what was added. Value-based destinations (Meta's value-based
lookalike seeds) carry the scorer's predicted value beside the row, never hashed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from shared.sync.membership import CustomerView

CENT = Decimal("0.01")


@dataclass(frozen=True)
class RowFormat:
    """What one platform's rows look like; declared by its adapter.

    ``identifiers`` names the ``customer_identifiers.platform`` the rows are read from (``meta``,
    ``google-dm``, ``google-ads``); ``columns`` the identifier fields in row order; ``strong``
    the fields of which a row needs at least one to name one person (email, phone);
    ``value_column`` the extra column a value-based destination sends (None: the platform has
    none); ``max_identifiers`` the platform's cap on identifiers per row (Meta 15 keys, Data
    Manager 10 identifiers per member, Google Ads API 20 per user).
    """

    identifiers: str
    columns: tuple[str, ...]
    strong: frozenset[str]
    value_column: str | None = None
    max_identifiers: int = 15

    def __post_init__(self) -> None:
        if len(self.columns) + (1 if self.value_column else 0) > self.max_identifiers:
            raise ValueError(f"{self.identifiers}: more columns than the platform's {self.max_identifiers}")
        if not self.strong <= set(self.columns):
            raise ValueError(f"{self.identifiers}: strong identifiers must be columns")

    def schema(self, value_based: bool) -> tuple[str, ...]:
        """The column names of a destination's rows (with the value column for value-based ones)."""
        if value_based and self.value_column:
            return (*self.columns, self.value_column)
        return self.columns

    def member_row(self, customer: CustomerView) -> tuple[str, ...] | None:
        """The row of one customer; a platform whose rows carry more than identifiers (Google's
        consent signals) overrides this."""
        return self.row(customer.identifiers)

    def row(self, identifiers: Mapping[str, str]) -> tuple[str, ...] | None:
        """The identifier cells, or None when no strong identifier names the person."""
        get = identifiers.get
        if not any(get(key) for key in self.strong):
            return None
        return tuple([get(key, "") for key in self.columns])


@dataclass(frozen=True, slots=True)
class Member:
    """One customer as a destination wants them: the identifier row and, for value-based ones, the value."""

    key: str
    row: tuple[str, ...]  # RowFormat.columns order, "" where unknown
    value: Decimal | None = None

    def wire(self) -> list[str | float]:
        """The row as sent: identifiers, then the value as a JSON number when present."""
        cells: list[str | float] = list(self.row)
        if self.value is not None:
            cells.append(float(self.value))
        return cells


def upload_value(value: Decimal | None) -> Decimal:
    """The value sent for a predicted value: cents, never negative (Meta rejects negatives)."""
    if value is None or value < 0:
        return Decimal("0.00")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_member(customer: CustomerView, rows: RowFormat, *, value_based: bool) -> Member | None:
    """The member a destination uploads for ``customer`` (None: nothing to match on)."""
    row = rows.member_row(customer)
    if row is None:
        return None
    return Member(customer.key, row, upload_value(customer.value) if value_based else None)
