"""Writes ingested facts to the database idempotently; returns which customers changed.

Every write is keyed and versioned: orders by (shop, order id) with ``updated_at`` as the
version (an older version never overwrites a newer one), refunds/tickets/checkouts by their ids,
identifiers by value. Writing the same facts twice changes nothing and reports no change.
Erased customers leave a tombstone (their key only): later events for them are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from services.ingestor.adapters.customer_store import ERASED, upsert_customers
from services.ingestor.domain import (
    CheckoutFacts,
    Contact,
    CustomerFacts,
    RefundFacts,
    TicketFacts,
)
from services.ingestor.domain.resolution import Sighting
from shared.store.models import (
    Checkout,
    Customer,
    Erasure,
    Order,
    Refund,
    SupportTicket,
)


class CustomerErased(Exception):  # noqa: N818 - a fact, handled by dropping the event
    """The event belongs to an erased customer; it must not resurrect them."""


class FactsWriter:
    """Applies facts inside the caller's transaction; collects changed customer keys."""

    def __init__(self, session: Session, *, now: datetime | None = None) -> None:
        self.session = session
        self.now = now or datetime.now(UTC)
        self.changed: dict[str, str] = {}  # customer key -> cause

    # --- customers -------------------------------------------------------------------------

    def touch(self, sighting: Sighting, contact: Contact) -> str | None:
        """Resolve and upsert this event's customer (the one rule); None: no identity.

        Raises ``CustomerErased`` for a tombstoned customer.
        """
        result = upsert_customers(self.session, [sighting], [contact], self.now)
        key = result.keys[0]
        if key == ERASED:
            raise CustomerErased("a tombstoned customer")
        for changed, cause in result.changed.items():
            self.changed.setdefault(changed, cause)
        return key

    def customer(self, facts: CustomerFacts, contact: Contact) -> str | None:
        """``customers/create|update``: consent, country, identifiers."""
        seen_at = facts.updated_at or self.now
        return self.touch(
            Sighting(
                shop=facts.shop,
                email=contact.email,
                shop_customer_id=facts.customer_id,
                country=facts.country,
                accepts_email_marketing=facts.email_consent,
                accepts_sms_marketing=facts.sms_consent,
                seen_at=seen_at,
                first_seen=facts.created_at or seen_at,
                ad_user_data=facts.ad_user_data,
                ad_personalization=facts.ad_personalization,
            ),
            contact,
        )

    # --- orders and refunds --------------------------------------------------------------------

    def _refunds_sum(self, shop: str, order_id: str) -> Decimal:
        total = self.session.scalar(
            select(func.coalesce(func.sum(Refund.amount_base), 0)).where(
                Refund.shop == shop, Refund.order_id == order_id
            )
        )
        return Decimal(str(total or 0))

    def _insert_refund(self, refund: RefundFacts, key: str) -> bool:
        if refund.amount_base is None:
            return False
        before = self.session.scalar(
            select(Refund.id).where(Refund.shop == refund.shop, Refund.refund_id == refund.refund_id)
        )
        if before is not None:
            return False
        self.session.add(
            Refund(
                shop=refund.shop,
                refund_id=refund.refund_id,
                order_id=refund.order_id,
                customer_key=key,
                created_at=refund.created_at,
                amount_base=refund.amount_base,
                items=refund.items,
            )
        )
        self.session.flush()
        return True

    def refund(self, facts: RefundFacts) -> str | None:
        """``refunds/create``: attach to its order; None when the order is unknown (dead letter)."""
        order = self.session.scalar(
            select(Order).where(Order.shop == facts.shop, Order.order_id == facts.order_id)
        )
        if order is None:
            return None
        if self.session.get(Erasure, order.customer_key) is not None:
            raise CustomerErased(order.customer_key)
        amount_base = facts.amount_base
        if amount_base is None:  # the payload named no currency: it is the order's
            rate = order.gross_base / order.gross if order.gross else Decimal(1)
            amount_base = (facts.amount * rate).quantize(Decimal("0.0001"))
        refund = replace(facts, amount_base=amount_base)
        if self._insert_refund(refund, order.customer_key):
            total = max(order.refunded_base, self._refunds_sum(order.shop, order.order_id))
            order.refunded_base = total
            order.net_base = max(order.gross_base - order.discount_base - total, Decimal(0))
            self.changed[order.customer_key] = "refund"
        return order.customer_key

    # --- tickets and checkouts -----------------------------------------------------------------

    def ticket(self, facts: TicketFacts, contact: Contact) -> str | None:
        """A support ticket counted against its customer (None: no identity)."""
        key = self.touch(
            Sighting(
                shop=facts.shop,
                email=contact.email,
                shop_customer_id=facts.customer_id,
                country=contact.country,
                accepts_email_marketing=None,
                accepts_sms_marketing=None,
                seen_at=facts.created_at,
                first_seen=facts.created_at,
            ),
            contact,
        )
        if key is None:
            return None
        row = {
            "shop": facts.shop,
            "source": facts.source,
            "ticket_id": facts.ticket_id,
            "customer_key": key,
            "created_at": facts.created_at,
        }
        exists = self.session.scalar(
            select(SupportTicket.id).where(
                SupportTicket.shop == facts.shop,
                SupportTicket.source == facts.source,
                SupportTicket.ticket_id == facts.ticket_id,
            )
        )
        if exists is None:
            self.session.execute(insert(SupportTicket), [row])
            self.changed[key] = "ticket"
        return key

    def checkout(self, facts: CheckoutFacts, contact: Contact) -> str | None:
        """Upsert a checkout at its version (None: no contact to retarget)."""
        key = self.touch(
            Sighting(
                shop=facts.shop,
                email=contact.email,
                shop_customer_id=facts.customer_id,
                country=facts.country,
                accepts_email_marketing=facts.email_consent,
                accepts_sms_marketing=None,
                seen_at=facts.updated_at,
                first_seen=facts.created_at,
            ),
            contact,
        )
        if key is None:
            return None
        existing = self.session.scalar(
            select(Checkout).where(Checkout.shop == facts.shop, Checkout.checkout_id == facts.checkout_id)
        )
        if existing is not None and existing.updated_at >= facts.updated_at:
            return key
        values = {
            "customer_key": key,
            "created_at": facts.created_at,
            "updated_at": facts.updated_at,
            "completed_at": facts.completed_at,
            "value_base": facts.value_base,
        }
        if existing is None:
            self.session.add(Checkout(shop=facts.shop, checkout_id=facts.checkout_id, **values))
        else:
            for name, value in values.items():
                setattr(existing, name, value)
        self.changed[key] = "checkout"
        return key

    # --- erasure --------------------------------------------------------------------------------

    def erase(self, keys: Iterable[str], shop: str, source: str) -> list[str]:
        """Delete every fact of these customers, leave tombstones, announce the erasure."""
        erased = []
        for key in dict.fromkeys(keys):
            if self.session.get(Erasure, key) is None:
                self.session.add(Erasure(customer_key=key, shop=shop, requested_at=self.now, source=source))
            self.session.execute(delete(Customer).where(Customer.customer_key == key))  # cascades to facts
            self.changed[key] = "erasure"
            erased.append(key)
        self.session.flush()
        return erased

    def erase_orders(self, shop: str, order_ids: Iterable[str]) -> None:
        """Delete specific orders (``orders_to_redact``)."""
        ids = list(order_ids)
        if ids:
            self.session.execute(delete(Order).where(Order.shop == shop, Order.order_id.in_(ids)))
