"""The row format Google adapters declare to the engine (``shared.sync.rows.RowFormat``).

Rows are read from the identifiers the ingestor stored for each Google API (``google-dm`` folds
Gmail dots and +tags as the Data Manager API asks; ``google-ads`` does not), and end with the
customer's two ad consent signals (``members.COLUMNS``), which are not identifiers: they come
from the customer record, so ``member_row`` fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.syncer_google.domain.members import COLUMNS, IDENTIFIER_COLUMNS, STRONG, consent_cell
from shared.sync.membership import CustomerView
from shared.sync.rows import RowFormat


@dataclass(frozen=True)
class GoogleRows(RowFormat):
    """Identifier cells from the stored identifiers, consent cells from the customer."""

    def member_row(self, customer: CustomerView) -> tuple[str, ...] | None:
        """The row, or None when neither an email nor a phone names the person."""
        cells = self.row(customer.identifiers)
        if cells is None:
            return None
        identifiers = cells[: len(IDENTIFIER_COLUMNS)]
        return (*identifiers, consent_cell(customer.ad_user_data), consent_cell(customer.ad_personalization))


DATA_MANAGER_ROWS = GoogleRows(identifiers="google-dm", columns=COLUMNS, strong=STRONG, max_identifiers=10)
GOOGLE_ADS_ROWS = GoogleRows(identifiers="google-ads", columns=COLUMNS, strong=STRONG, max_identifiers=20)
