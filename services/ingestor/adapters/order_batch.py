"""Bulk write of a batch of orders: a handful of set-based statements instead of ~15 per order.

Customers go through the one upsert (``customer_store``, the rule in ``domain.resolution``) that
single events use too; tombstoned customers dropped; an order stored only when its
``updated_at`` is newer than what is stored (within the batch, the newest version of each order
wins); lines replaced with their order; refunds inserted once. Returns what changed so the
caller can announce it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from services.ingestor.adapters.contact_hashes import HashedContact
from services.ingestor.adapters.customer_store import (
    ERASED,
    Identified,
    chunks,
    shop_chunks,
    upsert_customers,
)
from services.ingestor.domain import Contact, OrderFacts
from services.ingestor.domain.resolution import Sighting
from shared.store.dialect import among, insert_ignoring_conflicts, insert_rows
from shared.store.models import Order, OrderLine, Refund


class OrderItem(NamedTuple):
    """One order ready to write, as plain rows (``order_item``): who it names, its contact
    hashed, its row less what the store decides, and its lines' and refunds' rows. Built where
    the order is parsed (the parse worker), so the writer spends nothing on the facts."""

    sighting: Sighting
    contact: HashedContact
    # The orders row but customer_key, net_base and ingested_at; refunded_base: the order's own.
    order: dict[str, Any]
    lines: tuple[dict[str, Any], ...]  # order_lines rows but order_pk and line_no
    refunds: tuple[dict[str, Any], ...]  # refunds rows but customer_key


def order_item(facts: OrderFacts, contact: Contact, hashed: HashedContact, source: str) -> OrderItem:
    """An order's rows from its facts (``source``: webhook | import)."""
    f = facts
    order = {
        "shop": f.shop,
        "order_id": f.order_id,
        "created_at": f.created_at,
        "updated_at": f.updated_at,
        "currency": f.currency,
        "gross": f.gross,
        "gross_base": f.gross_base,
        "discount_base": f.discount_base,
        "refunded_base": f.refunded_base,
        "discount_codes": f.discount_code_count,
        "status": f.status,
        "financial_status": f.financial_status,
        "cancelled": f.cancelled,
        "is_test": f.test,
        "channel": f.channel,
        "referral": f.referral,
        "categories": list(f.categories),
        "country": f.country,
        "accepts_marketing": f.email_consent,
        "line_count": len(f.lines),
        "source": source,
    }
    lines = tuple(
        {
            "product_type": line.product_type,
            "vendor": line.vendor,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount": line.discount,
        }
        for line in f.lines
    )
    refunds = tuple(
        {
            "shop": r.shop,
            "refund_id": r.refund_id,
            "order_id": r.order_id,
            "created_at": r.created_at,
            "amount_base": r.amount_base,
            "items": r.items,
        }
        for r in f.refunds
        if r.amount_base is not None
    )
    return OrderItem(_sighting(facts, contact), hashed, order, lines, refunds)


@dataclass
class BatchResult:
    """Per item: the customer key (None: no identity; "" : erased); and the changed keys."""

    keys: list[str | None] = field(default_factory=list)
    changed: dict[str, str] = field(default_factory=dict)
    erased_items: int = 0


def _sighting(facts: OrderFacts, contact: Contact) -> Sighting:
    return Sighting(
        shop=facts.shop,
        email=contact.email,
        shop_customer_id=facts.customer_id,
        country=facts.country,
        accepts_email_marketing=facts.email_consent,
        accepts_sms_marketing=facts.sms_consent,
        seen_at=facts.updated_at,
        first_seen=facts.created_at,
    )


def _order_values(item: OrderItem, key: str, refunds_sum: Decimal, now: datetime) -> dict[str, Any]:
    values = dict(item.order)
    refunded = max(values["refunded_base"], refunds_sum)
    net = max(values["gross_base"] - values["discount_base"] - refunded, Decimal(0))
    values.update(customer_key=key, refunded_base=refunded, net_base=net, ingested_at=now)
    return values


def write_orders(
    session: Session, items: Sequence[OrderItem], now: datetime, identified: Identified | None = None
) -> BatchResult:
    """Write a batch of orders inside the caller's transaction."""
    sightings = [i.sighting for i in items]
    customers = upsert_customers(session, sightings, [i.contact for i in items], now, identified)
    result = BatchResult(keys=customers.keys, changed=customers.changed)
    result.erased_items = sum(1 for k in customers.keys if k == ERASED)
    live = [(key, item) for key, item in zip(result.keys, items, strict=True) if key]
    if not live:
        return result
    newest: dict[tuple[str, str], tuple[str, OrderItem]] = {}
    for key, item in live:
        ident = (item.order["shop"], item.order["order_id"])
        if ident not in newest or item.order["updated_at"] > newest[ident][1].order["updated_at"]:
            newest[ident] = (key, item)
    stored: dict[tuple[str, str], tuple[int, datetime]] = {}
    refunds: dict[tuple[str, str], Decimal] = {}
    # A refund is stored only with its order (a refund naming none is refused, a redacted
    # order's go with it), so one read of the stored orders brings their refund totals too.
    refunded = (
        select(func.sum(Refund.amount_base))
        .where(Refund.shop == Order.shop, Refund.order_id == Order.order_id)
        .scalar_subquery()
    )
    for shop, chunk in shop_chunks(newest):
        found = session.execute(
            select(Order.id, Order.shop, Order.order_id, Order.updated_at, refunded).where(
                Order.shop == shop, among(session, Order.order_id, chunk)
            )
        )
        for pk, s, o, at, total in found:
            stored[(s, o)] = (pk, at)
            if total is not None:
                refunds[(s, o)] = Decimal(str(total))
    inserts, updates = [], []
    for ident, (key, item) in newest.items():
        values = _order_values(item, key, refunds.get(ident, Decimal(0)), now)
        if ident not in stored:
            inserts.append((ident, values))
        elif item.order["updated_at"] > stored[ident][1]:
            updates.append((ident, {"id": stored[ident][0], **values}))
    ids: dict[tuple[str, str], int] = {}
    if inserts:
        rows = insert_rows(
            session,
            Order.__table__,  # type: ignore[arg-type]
            [v for _, v in inserts],
            returning=(Order.id, Order.shop, Order.order_id),
        )
        ids.update({(s, o): pk for pk, s, o in rows})
    if updates:
        session.execute(update(Order), [v for _, v in updates])
        ids.update({ident: v["id"] for ident, v in updates})
        for chunk in chunks([v["id"] for _, v in updates]):
            session.execute(delete(OrderLine).where(among(session, OrderLine.order_pk, chunk)))
    lines = [
        {"order_pk": ids[ident], "line_no": n, **line}
        for ident, (_, item) in newest.items()
        if ident in ids
        for n, line in enumerate(item.lines)
    ]
    insert_rows(session, OrderLine.__table__, lines)  # type: ignore[arg-type]
    refund_rows = [
        {**refund, "customer_key": key}
        for ident, (key, item) in newest.items()
        if ident in ids
        for refund in item.refunds
    ]
    insert_ignoring_conflicts(session, Refund.__table__, refund_rows)  # type: ignore[arg-type]
    for ident in ids:
        result.changed[newest[ident][0]] = "order"
    return result
