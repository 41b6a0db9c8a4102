"""Writes ingested facts to the database idempotently; returns which customers changed.

Every write is keyed and versioned: orders by (shop, order id) with ``updated_at`` as the
version (an older version never overwrites a newer one), refunds/tickets/checkouts by their ids,
identifiers by value. Writing the same facts twice changes nothing and reports no change.
Erased customers leave a tombstone (their key only): later events for them are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from services.ingestor.adapters.contact_hashes import HashedContact, hash_all
from services.ingestor.adapters.customer_store import ERASED, Identified, upsert_customers
from services.ingestor.domain import (
    CheckoutFacts,
    Contact,
    CustomerFacts,
    TicketFacts,
)
from services.ingestor.domain.resolution import Sighting
from shared.store.models import (
    Checkout,
    Customer,
    CustomerIdentifier,
    Erasure,
    Order,
    Refund,
    SupportTicket,
)


class CustomerItem(NamedTuple):
    """A customer record ready to write: its facts, the email its key may derive from, and its
    contact hashed (where it was parsed)."""

    facts: CustomerFacts
    email: str | None
    contact: HashedContact


class CustomerErased(Exception):  # noqa: N818 - a fact, handled by dropping the event
    """The event belongs to an erased customer; it must not resurrect them."""


class FactsWriter:
    """Applies facts inside the caller's transaction; collects changed customer keys."""

    def __init__(
        self, session: Session, *, now: datetime | None = None, identified: Identified | None = None
    ) -> None:
        self.session = session
        self.now = now or datetime.now(UTC)
        self.identified = identified  # contacts whose identifiers are known stored
        self.changed: dict[str, str] = {}  # customer key -> cause

    # --- customers -------------------------------------------------------------------------

    def touch(self, sighting: Sighting, contact: Contact) -> str | None:
        """Resolve and upsert this event's customer (the one rule); None: no identity.

        Raises ``CustomerErased`` for a tombstoned customer.
        """
        result = upsert_customers(self.session, [sighting], hash_all([contact]), self.now, self.identified)
        key = result.keys[0]
        if key == ERASED:
            raise CustomerErased("a tombstoned customer")
        for changed, cause in result.changed.items():
            self.changed.setdefault(changed, cause)
        return key

    def customers(self, records: Sequence[CustomerItem]) -> list[str | None]:
        """``customers/create|update`` and customers rows, a run at once: consent, country,
        identifiers. Each record's key (None: no identity; ``ERASED``: tombstoned, dropped)."""
        sightings = []
        for record in records:
            facts, seen_at = record.facts, record.facts.updated_at or self.now
            sightings.append(
                Sighting(
                    shop=facts.shop,
                    email=record.email,
                    shop_customer_id=facts.customer_id,
                    country=facts.country,
                    accepts_email_marketing=facts.email_consent,
                    accepts_sms_marketing=facts.sms_consent,
                    seen_at=seen_at,
                    first_seen=facts.created_at or seen_at,
                    ad_user_data=facts.ad_user_data,
                    ad_personalization=facts.ad_personalization,
                )
            )
        contacts = [record.contact for record in records]
        result = upsert_customers(self.session, sightings, contacts, self.now, self.identified)
        for changed, cause in result.changed.items():
            self.changed.setdefault(changed, cause)
        return result.keys

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
            # Identifiers have no foreign key (``CustomerIdentifier``): deleted here, after the
            # customer, so an ingest that locked the customer first has committed its rows.
            self.session.execute(delete(CustomerIdentifier).where(CustomerIdentifier.customer_key == key))
            self.changed[key] = "erasure"
            erased.append(key)
        self.session.flush()
        return erased

    def erase_orders(self, shop: str, order_ids: Iterable[str]) -> None:
        """Delete specific orders (``orders_to_redact``) and their refunds (which name the order,
        not its row: nothing cascades to them)."""
        ids = list(order_ids)
        if ids:
            self.session.execute(delete(Order).where(Order.shop == shop, Order.order_id.in_(ids)))
            self.session.execute(delete(Refund).where(Refund.shop == shop, Refund.order_id.in_(ids)))
