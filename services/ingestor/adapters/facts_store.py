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
from functools import lru_cache

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from services.ingestor.domain import (
    CheckoutFacts,
    Contact,
    CustomerFacts,
    RefundFacts,
    TicketFacts,
)
from shared.identity import Contact as IdentityContact
from shared.identity import customer_key, hash_contact
from shared.store.dialect import insert_ignoring_conflicts
from shared.store.models import (
    Checkout,
    Customer,
    CustomerIdentifier,
    Erasure,
    Order,
    Refund,
    SupportTicket,
)


class CustomerErased(Exception):  # noqa: N818 - a fact, handled by dropping the event
    """The event belongs to an erased customer; it must not resurrect them."""


@lru_cache(maxsize=65536)
def _hashed(contact: IdentityContact) -> tuple[tuple[str, str, str], ...]:
    # Repeat buyers bring the same contact on every order: normalizing and hashing it once per
    # process saves most of the identity cost of a bulk import. Bounded, and only in the ingestor.
    return tuple(
        (platform.value, name, value)
        for platform, values in hash_contact(contact).items()
        for name, value in values.items()
    )


def identifier_rows(key: str, contact: Contact, at: datetime) -> list[dict[str, object]]:
    """Every platform's hashed identifiers for a contact, as ``customer_identifiers`` rows."""
    ident = IdentityContact(
        email=contact.email,
        phone=contact.phone,
        first_name=contact.first_name,
        last_name=contact.last_name,
        city=contact.city,
        region=contact.region,
        postal_code=contact.postal_code,
        country=contact.country or contact.phone_country,
    )
    return [
        {"customer_key": key, "platform": platform, "field": name, "value": value, "added_at": at}
        for platform, name, value in _hashed(ident)
    ]


class FactsWriter:
    """Applies facts inside the caller's transaction; collects changed customer keys."""

    def __init__(self, session: Session, *, now: datetime | None = None) -> None:
        self.session = session
        self.now = now or datetime.now(UTC)
        self.changed: dict[str, str] = {}  # customer key -> cause

    # --- customers -------------------------------------------------------------------------

    def resolve(self, shop: str, contact: Contact, shop_customer_id: str | None) -> str | None:
        """The customer key: an existing customer with this shop id wins, else email, else id."""
        key = None
        if shop_customer_id:
            key = self.session.scalar(
                select(Customer.customer_key).where(
                    Customer.shop == shop, Customer.shop_customer_id == shop_customer_id
                )
            )
        key = key or customer_key(shop=shop, email=contact.email, shop_customer_id=shop_customer_id)
        if key and self.session.get(Erasure, key) is not None:
            raise CustomerErased(key)
        return key

    def touch_customer(
        self,
        key: str,
        shop: str,
        contact: Contact,
        *,
        shop_customer_id: str | None,
        country: str | None,
        email_consent: bool | None,
        sms_consent: bool | None,
        seen_at: datetime,
    ) -> bool:
        """Create or update the customer row and add new identifiers; True when anything changed."""
        customer = self.session.get(Customer, key)
        changed = False
        if customer is None:
            customer = Customer(
                customer_key=key,
                shop=shop,
                shop_customer_id=shop_customer_id,
                country=country,
                accepts_email_marketing=email_consent,
                accepts_sms_marketing=sms_consent,
                first_seen_at=min(seen_at, self.now),
                updated_at=seen_at,
            )
            self.session.add(customer)
            self.session.flush()
            changed = True
        elif seen_at >= customer.updated_at:
            for attr, value in (
                ("shop_customer_id", shop_customer_id),
                ("country", country),
                ("accepts_email_marketing", email_consent),
                ("accepts_sms_marketing", sms_consent),
            ):
                if value is not None and getattr(customer, attr) != value:
                    setattr(customer, attr, value)
                    changed = True
            customer.updated_at = seen_at
        rows = identifier_rows(key, contact, self.now)
        if rows:
            before = self._identifier_count(key)
            insert_ignoring_conflicts(self.session, CustomerIdentifier.__table__, rows)  # type: ignore[arg-type]
            changed = changed or self._identifier_count(key) != before
        return changed

    def _identifier_count(self, key: str) -> int:
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(CustomerIdentifier)
                .where(CustomerIdentifier.customer_key == key)
            )
            or 0
        )

    def customer(self, facts: CustomerFacts, contact: Contact) -> str | None:
        """``customers/create|update``: consent, country, identifiers."""
        key = self.resolve(facts.shop, contact, facts.customer_id)
        if key and self.touch_customer(
            key,
            facts.shop,
            contact,
            shop_customer_id=facts.customer_id,
            country=facts.country,
            email_consent=facts.email_consent,
            sms_consent=facts.sms_consent,
            seen_at=facts.updated_at or self.now,
        ):
            self.changed.setdefault(key, "customer")
        return key

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
        key = self.resolve(facts.shop, contact, facts.customer_id)
        if key is None:
            return None
        if self.session.get(Customer, key) is None:
            self.touch_customer(
                key,
                facts.shop,
                contact,
                shop_customer_id=facts.customer_id,
                country=contact.country,
                email_consent=None,
                sms_consent=None,
                seen_at=facts.created_at,
            )
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
        key = self.resolve(facts.shop, contact, facts.customer_id)
        if key is None:
            return None
        self.touch_customer(
            key,
            facts.shop,
            contact,
            shop_customer_id=facts.customer_id,
            country=facts.country,
            email_consent=facts.email_consent,
            sms_consent=None,
            seen_at=facts.updated_at,
        )
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
