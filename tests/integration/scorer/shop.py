"""A tiny shop written straight into the tables, for scorer tests: customers described in words."""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from shared.store.db import Store
from shared.store.models import Checkout, Customer, Order, OrderLine, Refund, SupportTicket

SHOP = "test-shop"
AS_OF = datetime(2024, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)


def key(name: str) -> str:
    """A customer key (64 hex characters) for a readable name."""
    return hashlib.sha256(name.encode()).hexdigest()


def at(text: str) -> datetime:
    """``2024-03-05 18:00`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _uid(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.0001"))


@dataclass
class ShopWriter:
    """Adds facts in one session; ids are generated."""

    session: Session
    orders: int = 0
    refunds: int = 0
    ids: dict[str, int] = field(default_factory=dict)

    def customer(
        self, name: str, *, country: str | None = "US", email: bool = True, sms: bool = False
    ) -> str:
        k = key(name)
        self.session.add(
            Customer(customer_key=k, shop=SHOP, shop_customer_id=f"id-{name}", country=country,
                     accepts_email_marketing=email, accepts_sms_marketing=sms, first_seen_at=at("2020-01-01"),
                     updated_at=at("2020-01-01"))
        )  # fmt: skip
        self.session.flush()
        return k

    def order(
        self,
        name: str,
        when: str,
        gross: float,
        *,
        discount: float = 0.0,
        refunded: float = 0.0,
        updated: str | None = None,
        test: bool = False,
        cancelled: bool = False,
        referral: str | None = "google",
        channel: str = "web",
        lines: tuple[tuple[str, int], ...] = (),
    ) -> str:
        """An order; ``refunded`` sets the order's own refunded amount (no refund records)."""
        self.orders += 1
        order_id = _uid("o")
        created = at(when)
        row = Order(
            shop=SHOP, order_id=order_id, customer_key=key(name), created_at=created,
            updated_at=at(updated) if updated else created + timedelta(minutes=5), currency="USD",
            gross=money(gross), gross_base=money(gross), discount_base=money(discount),
            refunded_base=money(refunded), net_base=money(max(gross - discount - refunded, 0)),
            discount_codes=int(discount > 0), status="paid", cancelled=cancelled, is_test=test,
            channel=channel, referral=referral, categories=[c for c, _ in lines], country="US",
            line_count=len(lines), source="import", ingested_at=created,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        for i, (category, quantity) in enumerate(lines):
            self.session.add(
                OrderLine(order_pk=row.id, line_no=i, product_type=category, quantity=quantity,
                          unit_price=money(gross / max(quantity, 1)), discount=Decimal(0))
            )  # fmt: skip
        return order_id

    def refund(self, name: str, order_id: str, when: str, amount: float) -> None:
        self.refunds += 1
        self.session.add(
            Refund(shop=SHOP, refund_id=_uid("r"), order_id=order_id, customer_key=key(name),
                   created_at=at(when), amount_base=money(amount), items=1)
        )  # fmt: skip
        order = self.session.query(Order).filter_by(shop=SHOP, order_id=order_id).one()
        order.refunded_base += money(amount)

    def ticket(self, name: str, when: str) -> None:
        self.session.add(
            SupportTicket(shop=SHOP, source="generic", ticket_id=_uid("t"), customer_key=key(name),
                          created_at=at(when))
        )  # fmt: skip

    def checkout(self, name: str, when: str, completed: str | None = None) -> None:
        self.session.add(
            Checkout(shop=SHOP, checkout_id=_uid("c"), customer_key=key(name), created_at=at(when),
                     updated_at=at(when), completed_at=at(completed) if completed else None,
                     value_base=Decimal(50))
        )  # fmt: skip


def random_shop(
    store: Store, customers: int, *, seed: int = 3, after_as_of: bool = False, prefix: str = "c"
) -> list[str]:
    """A seeded shop of ordinary, loyal, bargain and returning customers; returns their names.

    With ``after_as_of`` some customers also have orders, refunds and tickets after ``AS_OF``.
    """
    rng = random.Random(seed)
    names = [f"{prefix}{i}" for i in range(customers)]
    with store.transaction() as session:
        shop = ShopWriter(session)
        for name in names:
            shop.customer(name, country=rng.choice(["US", "GB", "DE"]), email=rng.random() < 0.5)
            kind = rng.random()
            orders = rng.randint(6, 12) if kind < 0.15 else rng.randint(1, 4)
            for _ in range(orders):
                day = AS_OF - timedelta(days=rng.uniform(5, 700))
                gross = rng.uniform(150, 400) if kind < 0.15 else rng.uniform(15, 90)
                discount = gross * 0.5 if 0.15 <= kind < 0.3 else 0.0
                when, line = day.strftime("%Y-%m-%d %H:%M"), (rng.choice(["Home", "Apparel", "Beauty"]), 1)
                oid = shop.order(name, when, round(gross, 2), discount=round(discount, 2), lines=(line,))
                if 0.3 <= kind < 0.4:
                    shop.refund(
                        name, oid, (day + timedelta(days=5)).strftime("%Y-%m-%d %H:%M"), round(gross * 0.8, 2)
                    )
            if after_as_of and rng.random() < 0.5:
                later = (AS_OF + timedelta(days=rng.uniform(1, 60))).strftime("%Y-%m-%d %H:%M")
                oid = shop.order(name, later, 999.0, lines=(("Home", 3),))
                shop.refund(name, oid, later, 500.0)
                shop.ticket(name, later)
        shop.customer(f"{prefix}-prospect", country=None)
        shop.checkout(f"{prefix}-prospect", (AS_OF - timedelta(days=3)).strftime("%Y-%m-%d %H:%M"))
    return [*names, f"{prefix}-prospect"]


def rows(store: Store, model: Any) -> list[Any]:
    """Every row of a table, as ORM objects (detached)."""
    with store.session() as session:
        return list(session.query(model))
