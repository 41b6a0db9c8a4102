"""The one customer upsert, for a single event and for a batch alike: a few set-based statements.

Reads what ``domain.resolution`` needs (stored shop ids, tombstones, stored rows), applies its
rule, writes the rows, then adds every platform's hashed identifiers, hashed here in one batch
(``shared.identity.hash_contacts``) so raw contact data goes no further than this function.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from services.ingestor.domain import Contact
from services.ingestor.domain.resolution import (
    Sighting,
    StoredCustomer,
    merge_customer,
    resolve_keys,
)
from shared.identity import Platform, hash_contacts
from shared.store.dialect import insert_ignoring_conflicts
from shared.store.models import Customer, CustomerIdentifier, Erasure

CHUNK = 900  # keeps IN lists under SQLite's default variable limit with room to spare
ERASED = ""  # the key reported for a sighting whose customer was erased
_IDENTIFIER_COLUMNS = ("customer_key", "platform", "field", "value", "added_at")


@dataclass
class Upserted:
    """Per sighting its key (None: no identity; ``ERASED``: tombstoned), and the changed keys."""

    keys: list[str | None]
    changed: dict[str, str] = field(default_factory=dict)  # customer key -> "customer"


def chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    """``values`` in slices small enough for one ``IN (...)`` list."""
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def upsert_customers(
    session: Session, sightings: Sequence[Sighting], contacts: Sequence[Contact], now: datetime
) -> Upserted:
    """Resolve, merge and store the customers of these events (in arrival order)."""
    keys = resolve_keys(sightings, _stored_ids(session, sightings))
    erased = erased_keys(session, {k for k in keys if k})
    result = Upserted([ERASED if k in erased else k for k in keys])
    live = [(k, s, c) for k, s, c in zip(result.keys, sightings, contacts, strict=True) if k]
    if not live:
        return result
    groups: dict[str, list[Sighting]] = {}
    for key, sighting, _ in live:
        groups.setdefault(key, []).append(sighting)
    stored = _stored(session, sorted(groups))
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for key, group in groups.items():
        write = merge_customer(key, stored.get(key), group, now)
        if write is None:
            continue
        (inserts if write.new else updates).append(write.row)
        if write.changed:
            result.changed[key] = "customer"
    if inserts:
        # Another ingestor may create the same customer at the same moment (a customer's orders
        # are keyed by order id and spread over partitions): first insert wins, both go on.
        insert_ignoring_conflicts(session, Customer.__table__, inserts)  # type: ignore[arg-type]
    if updates:
        session.execute(update(Customer), updates)  # by primary key, one executemany
    for key in _add_identifiers(session, [(k, c) for k, _, c in live], now):
        result.changed.setdefault(key, "customer")
    return result


def erased_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` have an erasure tombstone."""
    found: set[str] = set()
    for chunk in chunks(sorted(keys)):
        found.update(session.scalars(select(Erasure.customer_key).where(Erasure.customer_key.in_(chunk))))
    return found


def _stored_ids(session: Session, sightings: Sequence[Sighting]) -> dict[tuple[str, str], str]:
    wanted = sorted({(s.shop, s.shop_customer_id) for s in sightings if s.shop_customer_id is not None})
    found: dict[tuple[str, str], str] = {}
    for chunk in chunks(wanted):
        rows = session.execute(
            select(Customer.shop, Customer.shop_customer_id, Customer.customer_key).where(
                tuple_(Customer.shop, Customer.shop_customer_id).in_(chunk)
            )
        )
        for shop, cid, key in rows:
            found.setdefault((shop, str(cid)), key)
    return found


def _stored(session: Session, keys: Sequence[str]) -> dict[str, StoredCustomer]:
    cols = (
        Customer.customer_key,
        Customer.shop,
        Customer.shop_customer_id,
        Customer.country,
        Customer.accepts_email_marketing,
        Customer.accepts_sms_marketing,
        Customer.first_seen_at,
        Customer.updated_at,
        Customer.ad_user_data,
        Customer.ad_personalization,
    )
    found: dict[str, StoredCustomer] = {}
    for chunk in chunks(keys):
        for row in session.execute(select(*cols).where(Customer.customer_key.in_(chunk))):
            found[row[0]] = StoredCustomer(**row._asdict())  # columns named as its fields
    return found


def _add_identifiers(session: Session, owned: Sequence[tuple[str, Contact]], now: datetime) -> set[str]:
    """Insert each customer's identifiers not stored yet; the keys that gained one.

    What is stored is read first (one query per chunk of keys), so only new identifiers are
    written, in one bulk insert that still ignores a concurrent ingestor's same row.
    """
    wanted: set[tuple[str, str, str, str]] = set()
    distinct = list(dict.fromkeys(owned))
    platforms = {p: p.value for p in Platform}
    for (key, _), hashed in zip(distinct, hash_contacts([c for _, c in distinct]), strict=True):
        for platform, values in hashed.items():
            name = platforms[platform]
            wanted.update((key, name, field, value) for field, value in values.items())
    if not wanted:
        return set()
    have: set[tuple[str, str, str, str]] = set()
    ident = CustomerIdentifier
    for chunk in chunks(sorted({k for k, _, _, _ in wanted})):
        have.update(
            (k, p, f, v)
            for k, p, f, v in session.execute(
                select(ident.customer_key, ident.platform, ident.field, ident.value).where(
                    ident.customer_key.in_(chunk)
                )
            )
        )
    fresh = sorted(wanted - have)
    insert_ignoring_conflicts(
        session,
        CustomerIdentifier.__table__,  # type: ignore[arg-type]
        [dict(zip(_IDENTIFIER_COLUMNS, (*row, now), strict=True)) for row in fresh],
    )
    return {key for key, _, _, _ in fresh}
