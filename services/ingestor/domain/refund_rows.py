"""The generic refunds layout (one refund per CSV row or JSONL object) to refund facts.

Required: ``refund_id`` and ``order_id`` (the shop's own references, as in the generic orders
layout), ``created_at`` (ISO 8601; naive means UTC), ``amount`` (money returned). Optional:
``currency`` (ISO 4217; empty means the order's), ``items`` (units returned). Other columns are
ignored. A refund is applied to its stored order (the order's refunded and net amounts change);
one whose order is not stored is refused as ``refund_without_order``. Details in docs/import.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.ingestor.domain.codes import Currency
from services.ingestor.domain.decoding import parse
from services.ingestor.domain.facts import Contact, Ingested, RefundFacts
from services.ingestor.domain.fields import Base, Money, Quantity, Ref, ShopField, Timestamp
from services.ingestor.domain.money import ZERO, Rates, round_money
from services.ingestor.domain.orders import Payload

REQUIRED = ("refund_id", "order_id", "created_at", "amount")


class Units(ShopField):
    """A count of units; an empty CSV cell is not given (``Quantity`` itself refuses it)."""

    _count = Quantity()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | None:
        if isinstance(value, str) and not value.strip():
            return None
        return self._count._deserialize(value, attr, data, **kwargs)


class RefundRow(Base):
    """One row of the generic refunds layout."""

    refund_id = Ref(required=True)
    order_id = Ref(required=True)
    created_at = Timestamp(required=True)
    amount = Money(required=True)
    currency = Currency()
    items = Units()


REFUND_ROW = RefundRow()


def refund_row_facts(row: Mapping[str, Any], *, shop: str, rates: Rates) -> RefundFacts:
    """Facts of one validated refunds row; with no currency the store converts at the order's rate."""
    currency = row.get("currency")
    amount = row["amount"]
    created = row["created_at"]
    return RefundFacts(
        shop=shop,
        refund_id=row["refund_id"],
        order_id=row["order_id"],
        created_at=created,
        currency=currency,
        amount=round_money(amount),
        amount_base=rates.to_base(amount, currency, created, path="currency") if currency else None,
        items_value=ZERO,  # the layout does not say which lines came back
        items=row.get("items") or 0,
    )


def ingest_refund_row(body: Payload, *, shop: str, rates: Rates) -> Ingested[RefundFacts]:
    """Validate and normalize one refunds row (it names no customer: the order does)."""
    return Ingested(refund_row_facts(parse(REFUND_ROW, body), shop=shop, rates=rates), Contact())
