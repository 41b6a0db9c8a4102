"""Customers, labels and hashed Meta identifiers written straight to the store (not via the ingestor)."""

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
    """SHA-256 hex, as the identity layer stores Meta identifiers."""
    return hashlib.sha256(text.encode()).hexdigest()


def key_of(i: int) -> str:
    """Customer ``i``'s key."""
    return sha(f"customer-{i}")


def email_hash(i: int) -> str:
    """Customer ``i``'s hashed email: what the sandbox reports as the member's identifier."""
    return sha(f"user{i}@example.com")


@dataclass(frozen=True)
class Person:
    """One seeded customer."""

    i: int
    label: str = "icp"
    stage: str | None = "repeat"
    value: Decimal | None = Decimal("50.00")
    email_consent: bool | None = True
    sms_consent: bool | None = None
    phone: bool = True  # also a country; without, the row is the email alone (lean bulk tests)

    @property
    def key(self) -> str:
        """The customer key."""
        return key_of(self.i)


def seed(store: Store, people: Iterable[Person], *, chunk: int = 5_000) -> None:
    """Insert customers, labels and Meta identifiers in bulk."""
    batch: list[Person] = []
    for person in people:
        batch.append(person)
        if len(batch) == chunk:
            _insert(store, batch)
            batch = []
    if batch:
        _insert(store, batch)


def _insert(store: Store, people: list[Person]) -> None:
    customers, labels, identifiers = [], [], []
    for p in people:
        customers.append(
            {
                "customer_key": p.key,
                "shop": "test-shop",
                "accepts_email_marketing": p.email_consent,
                "accepts_sms_marketing": p.sms_consent,
                "first_seen_at": NOW,
                "updated_at": NOW,
            }
        )
        labels.append(
            {
                "customer_key": p.key,
                "label": p.label,
                "stage": p.stage,
                "reasons": [],
                "value": p.value,
                "as_of": NOW,
                "scored_at": NOW,
            }
        )
        fields = {"EMAIL": email_hash(p.i)}
        if p.phone:
            fields.update(PHONE=sha(f"1415555{p.i:07d}"), COUNTRY=sha("us"))
        identifiers.extend(
            {"customer_key": p.key, "platform": "meta", "field": f, "value": v, "added_at": NOW}
            for f, v in fields.items()
        )
    with store.transaction() as session:
        conn = session.connection()  # Core executemany: the ORM's bulk path is several times slower
        conn.execute(insert(Customer.__table__), customers)
        conn.execute(insert(Label.__table__), labels)
        conn.execute(insert(CustomerIdentifier.__table__), identifiers)


def relabel(store: Store, i: int, *, label: str, value: Decimal | None = None) -> None:
    """Change one customer's label (and value), as the scorer would."""
    changes: dict[str, object] = {"label": label}
    if value is not None:
        changes["value"] = value
    with store.transaction() as session:
        session.execute(update(Label).where(Label.customer_key == key_of(i)).values(**changes))


def erase(store: Store, i: int) -> None:
    """Erase one customer as the ingestor does: tombstone, facts deleted (labels cascade)."""
    with store.transaction() as session:
        session.add(Erasure(customer_key=key_of(i), shop="test-shop", requested_at=NOW, source="test"))
        session.execute(delete(Label).where(Label.customer_key == key_of(i)))
        session.execute(delete(Customer).where(Customer.customer_key == key_of(i)))
        session.execute(delete(CustomerIdentifier).where(CustomerIdentifier.customer_key == key_of(i)))
