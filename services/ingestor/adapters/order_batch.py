"""Bulk write of a batch of orders: a handful of set-based statements instead of ~15 per order.

Semantics are those of single writes: customers resolved by shop id, then email, then id;
tombstoned customers dropped; an order stored only when its ``updated_at`` is newer than what
is stored (within the batch, the newest version of each order wins); lines replaced with their
order; refunds inserted once. Returns what changed so the caller can announce it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from services.ingestor.domain import Contact, OrderFacts
from shared.identity import customer_key
from shared.store.dialect import insert_ignoring_conflicts, insert_rows
from shared.store.models import Customer, CustomerIdentifier, Erasure, Order, OrderLine, Refund

_CHUNK = 900  # keeps IN lists under SQLite's default variable limit with room to spare


@dataclass(frozen=True)
class OrderItem:
    """One order to write, with its raw contact (hashed here, then dropped) and its edge."""

    facts: OrderFacts
    contact: Contact
    source: str  # webhook | import


@dataclass
class BatchResult:
    """Per item: the customer key (None: no identity; "" : erased); and the changed keys."""

    keys: list[str | None] = field(default_factory=list)
    changed: dict[str, str] = field(default_factory=dict)
    erased_items: int = 0


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _resolve_keys(session: Session, items: Sequence[OrderItem]) -> list[str | None]:
    by_shop_id: dict[tuple[str, str | None], str] = {}
    wanted = sorted({(i.facts.shop, i.facts.customer_id) for i in items if i.facts.customer_id})
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(Customer.shop, Customer.shop_customer_id, Customer.customer_key).where(
                tuple_(Customer.shop, Customer.shop_customer_id).in_(chunk)
            )
        )
        by_shop_id.update({(shop, cid): key for shop, cid, key in rows})
    keys: list[str | None] = []
    for item in items:
        f = item.facts
        known = by_shop_id.get((f.shop, f.customer_id)) if f.customer_id else None
        keys.append(
            known or customer_key(shop=f.shop, email=item.contact.email, shop_customer_id=f.customer_id)
        )
    return keys


def _erased(session: Session, keys: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(keys)):
        found.update(session.scalars(select(Erasure.customer_key).where(Erasure.customer_key.in_(chunk))))
    return found


def _write_customers(
    session: Session, items: Sequence[tuple[str, OrderItem]], now: datetime, changed: dict[str, str]
) -> None:
    from services.ingestor.adapters.facts_store import identifier_rows

    latest: dict[str, OrderItem] = {}
    for key, item in items:
        if key not in latest or item.facts.updated_at >= latest[key].facts.updated_at:
            latest[key] = item
    existing: dict[str, Customer] = {}
    for chunk in _chunks(sorted(latest)):
        existing.update(
            {
                c.customer_key: c
                for c in session.scalars(select(Customer).where(Customer.customer_key.in_(chunk)))
            }
        )
    new_rows, updates = [], []
    for key, item in latest.items():
        f = item.facts
        attrs = {
            "shop_customer_id": f.customer_id,
            "country": f.country,
            "accepts_email_marketing": f.email_consent,
            "accepts_sms_marketing": f.sms_consent,
        }
        current = existing.get(key)
        if current is None:
            first = min(i.facts.created_at for k, i in items if k == key)
            new_rows.append(
                {
                    "customer_key": key,
                    "shop": f.shop,
                    **attrs,
                    "first_seen_at": min(first, now),
                    "updated_at": f.updated_at,
                }
            )
            changed.setdefault(key, "customer")
        elif f.updated_at >= current.updated_at:
            diff = {k: v for k, v in attrs.items() if v is not None and getattr(current, k) != v}
            if diff or f.updated_at != current.updated_at:
                updates.append({"customer_key": key, **diff, "updated_at": f.updated_at})
            if diff:
                changed.setdefault(key, "customer")
    if new_rows:
        # Another ingestor may create the same customer at the same moment (a customer's orders
        # are keyed by order id and spread over partitions): first insert wins, both go on.
        insert_ignoring_conflicts(session, Customer.__table__, new_rows)  # type: ignore[arg-type]
    for row in updates:
        session.execute(
            update(Customer).where(Customer.customer_key == row.pop("customer_key")).values(**row)
        )
    wanted = {
        (r["customer_key"], r["platform"], r["field"], r["value"]): r
        for key, item in items
        for r in identifier_rows(key, item.contact, now)
    }
    have: set[tuple[Any, ...]] = set()
    for chunk in _chunks(sorted(latest)):
        have.update(
            tuple(r)
            for r in session.execute(
                select(
                    CustomerIdentifier.customer_key,
                    CustomerIdentifier.platform,
                    CustomerIdentifier.field,
                    CustomerIdentifier.value,
                ).where(CustomerIdentifier.customer_key.in_(chunk))
            )
        )
    fresh = [row for ident, row in wanted.items() if ident not in have]
    if fresh:
        insert_ignoring_conflicts(session, CustomerIdentifier.__table__, fresh)  # type: ignore[arg-type]
        for identifier in fresh:
            changed.setdefault(str(identifier["customer_key"]), "customer")


def _order_values(item: OrderItem, key: str, refunds_sum: Decimal, now: datetime) -> dict[str, Any]:
    f = item.facts
    refunded = max(f.refunded_base, refunds_sum)
    return {
        "shop": f.shop,
        "order_id": f.order_id,
        "customer_key": key,
        "created_at": f.created_at,
        "updated_at": f.updated_at,
        "currency": f.currency,
        "gross": f.gross,
        "gross_base": f.gross_base,
        "discount_base": f.discount_base,
        "refunded_base": refunded,
        "net_base": max(f.gross_base - f.discount_base - refunded, Decimal(0)),
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
        "source": item.source,
        "ingested_at": now,
    }


def write_orders(session: Session, items: Sequence[OrderItem], now: datetime) -> BatchResult:
    """Write a batch of orders inside the caller's transaction."""
    result = BatchResult(keys=_resolve_keys(session, items))
    erased = _erased(session, {k for k in result.keys if k})
    live: list[tuple[str, OrderItem]] = []
    for i, (key, item) in enumerate(zip(result.keys, items, strict=True)):
        if key in erased:
            result.keys[i] = ""
            result.erased_items += 1
        elif key:
            live.append((key, item))
    if not live:
        return result
    _write_customers(session, live, now, result.changed)
    newest: dict[tuple[str, str], tuple[str, OrderItem]] = {}
    for key, item in live:
        ident = (item.facts.shop, item.facts.order_id)
        if ident not in newest or item.facts.updated_at > newest[ident][1].facts.updated_at:
            newest[ident] = (key, item)
    stored: dict[tuple[str, str], tuple[int, datetime]] = {}
    refunds: dict[tuple[str, str], Decimal] = {}
    for chunk in _chunks(sorted(newest)):
        cond = tuple_(Order.shop, Order.order_id).in_(chunk)
        stored.update(
            {
                (s, o): (pk, at)
                for pk, s, o, at in session.execute(
                    select(Order.id, Order.shop, Order.order_id, Order.updated_at).where(cond)
                )
            }
        )
        refunds.update(
            {
                (s, o): Decimal(str(total))
                for s, o, total in session.execute(
                    select(Refund.shop, Refund.order_id, func.sum(Refund.amount_base))
                    .where(tuple_(Refund.shop, Refund.order_id).in_(chunk))
                    .group_by(Refund.shop, Refund.order_id)
                )
            }
        )
    inserts, updates = [], []
    for ident, (key, item) in newest.items():
        values = _order_values(item, key, refunds.get(ident, Decimal(0)), now)
        if ident not in stored:
            inserts.append((ident, values))
        elif item.facts.updated_at > stored[ident][1]:
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
        for chunk in _chunks([v["id"] for _, v in updates]):
            session.execute(delete(OrderLine).where(OrderLine.order_pk.in_(chunk)))
    lines = [
        {
            "order_pk": ids[ident],
            "line_no": n,
            "product_type": line.product_type,
            "vendor": line.vendor,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount": line.discount,
        }
        for ident, (_, item) in newest.items()
        if ident in ids
        for n, line in enumerate(item.facts.lines)
    ]
    insert_rows(session, OrderLine.__table__, lines)  # type: ignore[arg-type]
    refund_rows = [
        {
            "shop": r.shop,
            "refund_id": r.refund_id,
            "order_id": r.order_id,
            "customer_key": key,
            "created_at": r.created_at,
            "amount_base": r.amount_base,
            "items": r.items,
        }
        for ident, (key, item) in newest.items()
        if ident in ids
        for r in item.facts.refunds
        if r.amount_base is not None
    ]
    insert_ignoring_conflicts(session, Refund.__table__, refund_rows)  # type: ignore[arg-type]
    for ident in ids:
        result.changed[newest[ident][0]] = "order"
    return result
