"""Bulk write of a run of refunds: a few set-based statements instead of ~6 per refund.

The rule is ``FactsWriter.refund``'s, applied to many at once: a refund attaches to its stored
order (none: the caller dead-letters it), an erased customer's refund is dropped, an amount in
no named currency is converted at the order's own rate, a refund id is inserted once, and an
order that gained a refund gets its refunded and net amounts from the sum of its refunds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from services.ingestor.adapters.customer_store import ERASED, erased_keys, shop_chunks
from services.ingestor.domain import RefundFacts
from shared.store.dialect import among, insert_rows
from shared.store.models import Order, Refund

_CENT = Decimal("0.0001")


@dataclass
class RefundsWritten:
    """Per refund its order's customer key (None: no such order; ``ERASED``: tombstoned); changes."""

    keys: list[str | None] = field(default_factory=list)
    changed: dict[str, str] = field(default_factory=dict)  # customer key -> "refund"


def write_refunds(session: Session, refunds: Sequence[RefundFacts]) -> RefundsWritten:
    """Store a run of refunds inside the caller's transaction."""
    orders: dict[tuple[str, str], Any] = {}
    for shop, chunk in shop_chunks((r.shop, r.order_id) for r in refunds):
        for row in session.execute(
            select(
                Order.id,
                Order.shop,
                Order.order_id,
                Order.customer_key,
                Order.gross,
                Order.gross_base,
                Order.discount_base,
                Order.refunded_base,
            ).where(Order.shop == shop, among(session, Order.order_id, chunk))
        ):
            orders[(row.shop, row.order_id)] = row
    erased = erased_keys(session, {row.customer_key for row in orders.values()})
    result = RefundsWritten()
    rows: dict[tuple[str, str], dict[str, Any]] = {}  # the first of each refund id in the run
    for refund in refunds:
        order = orders.get((refund.shop, refund.order_id))
        if order is None or order.customer_key in erased:
            result.keys.append(None if order is None else ERASED)
            continue
        key = order.customer_key
        result.keys.append(key)
        amount = refund.amount_base
        if amount is None:  # the payload named no currency: it is the order's
            rate = order.gross_base / order.gross if order.gross else Decimal(1)
            amount = (refund.amount * rate).quantize(_CENT)
        rows.setdefault(
            (refund.shop, refund.refund_id),
            {
                "shop": refund.shop,
                "refund_id": refund.refund_id,
                "order_id": refund.order_id,
                "customer_key": key,
                "created_at": refund.created_at,
                "amount_base": amount,
                "items": refund.items,
            },
        )
    added = insert_rows(
        session,
        Refund.__table__,  # type: ignore[arg-type]
        list(rows.values()),
        ignore_conflicts=True,
        returning=(Refund.shop, Refund.order_id),
    )
    _settle(session, {(shop, order_id): orders[(shop, order_id)] for shop, order_id in added})
    for shop, order_id in added:
        result.changed[orders[(shop, order_id)].customer_key] = "refund"
    return result


def _settle(session: Session, gained: dict[tuple[str, str], Any]) -> None:
    """Orders that gained a refund: refunded = max(stored, sum of refunds), net recomputed."""
    if not gained:
        return
    sums: dict[tuple[str, str], Decimal] = {}
    for shop, chunk in shop_chunks(gained):
        for s, o, total in session.execute(
            select(Refund.shop, Refund.order_id, func.sum(Refund.amount_base))
            .where(Refund.shop == shop, among(session, Refund.order_id, chunk))
            .group_by(Refund.shop, Refund.order_id)
        ):
            sums[(s, o)] = Decimal(str(total))
    params = []
    for ident, order in sorted(gained.items()):
        refunded = max(order.refunded_base, sums.get(ident, Decimal(0)))
        net = max(order.gross_base - order.discount_base - refunded, Decimal(0))
        params.append({"pk": order.id, "refunded": refunded, "net": net})
    table = Order.__table__
    stmt = (
        update(table)  # type: ignore[arg-type]
        .where(table.c.id == bindparam("pk"))
        .values(refunded_base=bindparam("refunded"), net_base=bindparam("net"))
    )
    session.execute(stmt, params)
