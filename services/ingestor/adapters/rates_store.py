"""Exchange rates in the database (``fx_rates``), written by ``rates load`` and read by the ingestor."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import delete, insert, select

from services.ingestor.domain import Rates
from shared.store.db import Store
from shared.store.models import FxRate

UNDATED = date(1970, 1, 1)  # the undated rate of a currency is stored as valid from the epoch


def save_rates(store: Store, rates: Rates) -> int:
    """Replace the stored table with ``rates``; returns the number of rows written."""
    rows: list[dict[str, object]] = [
        {"currency": cur, "valid_from": UNDATED, "rate": rate} for cur, rate in rates.rates.items()
    ]
    rows += [
        {"currency": cur, "valid_from": day, "rate": rate}
        for cur, history in rates.history.items()
        for day, rate in history
    ]
    with store.transaction() as session:
        session.execute(delete(FxRate))
        if rows:
            session.execute(insert(FxRate), rows)
    return len(rows)


def load_stored_rates(store: Store, base: str) -> Rates:
    """The stored table as ``Rates`` for ``base`` (only the base is known when it is empty)."""
    undated: dict[str, Decimal] = {}
    history: dict[str, list[tuple[date, Decimal]]] = {}
    with store.session() as session:
        for currency, valid_from, rate in session.execute(
            select(FxRate.currency, FxRate.valid_from, FxRate.rate).order_by(
                FxRate.currency, FxRate.valid_from
            )
        ):
            if valid_from == UNDATED:
                undated[currency] = Decimal(rate)
            else:
                history.setdefault(currency, []).append((valid_from, Decimal(rate)))
    return Rates(base=base, rates=undated, history={c: tuple(h) for c, h in history.items()})
