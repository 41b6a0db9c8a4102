"""Labelled customers with Google identifiers, country and ad consent, written straight to the store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import delete, insert, update

from shared.store.db import Store
from shared.store.models import Customer, CustomerIdentifier, Erasure, Label

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def sha(text: str) -> str:
    """SHA-256 hex, as the identity layer stores Google identifiers."""
    return hashlib.sha256(text.encode()).hexdigest()


def key_of(i: int) -> str:
    """Customer ``i``'s key."""
    return sha(f"google-customer-{i}")


def email_hash(i: int) -> str:
    """Customer ``i``'s hashed email, the sandbox's member key is ``email:<this>``."""
    return sha(f"buyer{i}@example.com")


@dataclass(frozen=True)
class Person:
    """One seeded customer."""

    i: int
    label: str = "icp"
    country: str | None = "DE"
    ad_user_data: bool | None = True
    ad_personalization: bool | None = True
    marketing: bool | None = True
    address: bool = True  # names and postal code too (the whole address identifier)

    @property
    def key(self) -> str:
        """The customer key."""
        return key_of(self.i)


def seed(store: Store, people: Iterable[Person]) -> None:
    """Insert customers, labels and identifiers for both Google APIs."""
    customers, labels, identifiers = [], [], []
    for p in people:
        customers.append(
            {
                "customer_key": p.key,
                "shop": "test-shop",
                "country": p.country,
                "accepts_email_marketing": p.marketing,
                "accepts_sms_marketing": None,
                "ad_user_data": p.ad_user_data,
                "ad_personalization": p.ad_personalization,
                "first_seen_at": NOW,
                "updated_at": NOW,
            }
        )
        labels.append(
            {
                "customer_key": p.key,
                "label": p.label,
                "stage": "repeat",
                "reasons": [],
                "value": Decimal("80.00"),
                "as_of": NOW,
                "scored_at": NOW,
            }
        )
        fields = {"email": email_hash(p.i), "phone": sha(f"+4930555{p.i:05d}")}
        if p.address and p.country:
            fields.update(
                first_name=sha(f"ana{p.i}"),
                last_name=sha("schmidt"),
                country_code=p.country,
                postal_code="10115",
            )
        identifiers.extend(
            {"customer_key": p.key, "platform": platform, "field": f, "value": v, "added_at": NOW}
            for platform in ("google-dm", "google-ads")
            for f, v in fields.items()
        )
    with store.transaction() as session:
        conn = session.connection()
        conn.execute(insert(Customer.__table__), customers)
        conn.execute(insert(Label.__table__), labels)
        conn.execute(insert(CustomerIdentifier.__table__), identifiers)


def set_consent(store: Store, i: int, *, ad_user_data: bool | None, ad_personalization: bool | None) -> None:
    """Change one customer's ad consent, as a customers import would."""
    with store.transaction() as session:
        session.execute(
            update(Customer)
            .where(Customer.customer_key == key_of(i))
            .values(ad_user_data=ad_user_data, ad_personalization=ad_personalization)
        )


def relabel(store: Store, i: int, *, label: str) -> None:
    """Change one customer's label, as the scorer would."""
    with store.transaction() as session:
        session.execute(update(Label).where(Label.customer_key == key_of(i)).values(label=label))


def erase(store: Store, i: int) -> None:
    """Erase one customer as the ingestor does: tombstone, facts deleted (labels cascade)."""
    with store.transaction() as session:
        session.add(Erasure(customer_key=key_of(i), shop="test-shop", requested_at=NOW, source="test"))
        session.execute(delete(Label).where(Label.customer_key == key_of(i)))
        session.execute(delete(Customer).where(Customer.customer_key == key_of(i)))
        session.execute(delete(CustomerIdentifier).where(CustomerIdentifier.customer_key == key_of(i)))
