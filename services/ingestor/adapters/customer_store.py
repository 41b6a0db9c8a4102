"""The one customer upsert, for a single event and for a batch alike: a few set-based statements.

Reads what ``domain.resolution`` needs (stored shop ids, tombstones, stored rows), applies its
rule, writes the rows, then adds every platform's hashed identifiers: contacts arrive hashed
(``contact_hashes.HashedContact``); of the raw contact only the email a key derives from comes here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from services.ingestor.adapters.contact_hashes import HashedContact, Identifiers
from services.ingestor.domain.resolution import (
    Sighting,
    StoredCustomer,
    merge_customer,
    resolve_keys,
)
from shared.store.dialect import among, insert_rows
from shared.store.models import Customer, CustomerIdentifier, Erasure

CHUNK = 900  # keeps IN lists under SQLite's default variable limit with room to spare
ERASED = ""  # the key reported for a sighting whose customer was erased
_IDENTIFIER_COLUMNS = ("customer_key", "platform", "field", "value", "added_at")


@dataclass
class Identified:
    """(customer, contact) pairs whose identifiers are stored, so they are not sent again.

    Kept by the ingestor for one poll: an import brings a returning buyer's same contact on most
    of their orders, and re-inserting its ~20 identifier rows each time for the database to
    ignore was most of PostgreSQL's work on a generic import. Pairs count only once the
    transaction that wrote them committed (``commit``); a rolled-back one's are dropped.
    """

    committed: set[bytes] = field(default_factory=set)
    pending: set[bytes] = field(default_factory=set)

    def commit(self) -> None:
        """The transaction committed: its pairs are stored."""
        self.committed |= self.pending
        self.pending.clear()

    def discard(self) -> None:
        """The transaction rolled back: forget its pairs."""
        self.pending.clear()


@dataclass
class Upserted:
    """Per sighting its key (None: no identity; ``ERASED``: tombstoned), and the changed keys."""

    keys: list[str | None]
    changed: dict[str, str] = field(default_factory=dict)  # customer key -> "customer"


def chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    """``values`` in slices small enough for one ``IN (...)`` list."""
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def shop_chunks(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, Sequence[str]]]:
    """(shop, ids) slices of (shop, id) pairs, for ``shop = ? AND id IN (...)`` queries.

    PostgreSQL plans a row-value ``(shop, id) IN ((...), ...)`` list as a scan of the whole
    table: at 100k orders that one statement took most of each batch (pg_stat_activity).
    """
    by_shop: dict[str, list[str]] = {}
    for shop, ident in sorted(set(pairs)):
        by_shop.setdefault(shop, []).append(ident)
    return [(shop, chunk) for shop, ids in by_shop.items() for chunk in chunks(ids)]


def upsert_customers(
    session: Session,
    sightings: Sequence[Sighting],
    contacts: Sequence[HashedContact],
    now: datetime,
    identified: Identified | None = None,
) -> Upserted:
    """Resolve, merge and store the customers of these events (in arrival order) with their
    contacts' identifiers; those of pairs in ``identified`` are known stored and not written again."""
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
    # Keys in sorted order: two ingestors touching the same customers lock them in one order
    # (PostgreSQL would otherwise see a deadlock now and then and the batch would be retried).
    for key, group in sorted(groups.items()):
        write = merge_customer(key, stored.get(key), group, now)
        if write is None:
            continue
        (inserts if write.new else updates).append(write.row)
        if write.changed:
            result.changed[key] = "customer"
    created: set[str] = set()
    if inserts:
        # Another ingestor may create the same customer at the same moment (a customer's orders
        # are keyed by order id and spread over partitions): first insert wins, both go on.
        # The keys this transaction did create have no identifiers anywhere yet.
        created = {
            key
            for (key,) in insert_rows(
                session,
                Customer.__table__,  # type: ignore[arg-type]
                inserts,
                ignore_conflicts=True,
                returning=(Customer.customer_key,),
            )
        }
    if updates:
        _update_customers(session, updates)
    for key in _add_identifiers(session, [(k, c) for k, _, c in live], now, identified, created):
        result.changed.setdefault(key, "customer")
    return result


def _update_customers(session: Session, rows: list[dict[str, object]]) -> None:
    """One Core executemany by primary key (the ORM's bulk update cost more than the rows)."""
    table: Table = Customer.__table__  # type: ignore[assignment]
    names = [n for n in rows[0] if n != "customer_key"]
    stmt = (
        update(table)
        .where(table.c.customer_key == bindparam("key_"))
        .values({n: bindparam(f"{n}_") for n in names})
    )
    session.execute(stmt, [{f"{n}_": row[n] for n in names} | {"key_": row["customer_key"]} for row in rows])


def erased_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` have an erasure tombstone."""
    found: set[str] = set()
    for chunk in chunks(sorted(keys)):
        found.update(
            session.scalars(select(Erasure.customer_key).where(among(session, Erasure.customer_key, chunk)))
        )
    return found


def _locked(session: Session, keys: set[str]) -> set[str]:
    """Which of these stored customers still exist, each locked against deletion until commit.

    What the identifiers' foreign key did (they have none, see ``CustomerIdentifier``): an
    erasure that deletes one of them afterwards waits for this transaction and then deletes the
    identifiers it added; one that deleted first leaves its customer out of the result. SQLite
    needs no lock: a writer holds the whole database.
    """
    if not keys or session.get_bind().dialect.name != "postgresql":
        return keys
    found: set[str] = set()
    for chunk in chunks(sorted(keys)):  # sorted: two ingestors lock in one order
        found.update(
            session.scalars(
                select(Customer.customer_key)
                .where(among(session, Customer.customer_key, chunk))
                .with_for_update(key_share=True)
            )
        )
    return found


def _stored_ids(session: Session, sightings: Sequence[Sighting]) -> dict[tuple[str, str], str]:
    wanted = [(s.shop, s.shop_customer_id) for s in sightings if s.shop_customer_id is not None]
    found: dict[tuple[str, str], str] = {}
    for shop, chunk in shop_chunks(wanted):
        rows = session.execute(
            select(Customer.shop, Customer.shop_customer_id, Customer.customer_key).where(
                Customer.shop == shop, among(session, Customer.shop_customer_id, chunk)
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
        for row in session.execute(select(*cols).where(among(session, Customer.customer_key, chunk))):
            found[row[0]] = StoredCustomer(**row._asdict())  # columns named as its fields
    return found


def _add_identifiers(
    session: Session,
    owned: Sequence[tuple[str, HashedContact]],
    now: datetime,
    identified: Identified | None,
    created: set[str],
) -> set[str]:
    """Insert each customer's identifiers not stored yet; the keys that gained one.

    Customers this transaction ``created`` cannot have any yet: theirs are plainly inserted
    (PostgreSQL ``COPY``; the staged conflict check cost most of the database's time in a
    generic import, ~11 us a row at 600k rows). The others' in one ``INSERT ... ON CONFLICT DO
    NOTHING RETURNING`` per batch: the database says which rows were new (reading what was
    stored first fetched ~20 rows per returning customer).
    """
    # One entry per (customer, contact), named by the contact's digest.
    distinct: dict[tuple[str, bytes], Identifiers] = {}
    for key, contact in owned:
        distinct.setdefault((key, contact.digest), contact.identifiers)
    if identified is not None:
        stored = identified.committed
        distinct = {pair: i for pair, i in distinct.items() if pair[0].encode() + pair[1] not in stored}
        identified.pending.update(key.encode() + digest for key, digest in distinct)
    new_rows: set[tuple[str, str, str, str]] = set()
    other_rows: set[tuple[str, str, str, str]] = set()
    for (key, _), identifiers in distinct.items():
        (new_rows if key in created else other_rows).update((key, *i) for i in identifiers)
    table: Table = CustomerIdentifier.__table__  # type: ignore[assignment]

    def stamped(rows: set[tuple[str, str, str, str]]) -> list[dict[str, object]]:
        return [dict(zip(_IDENTIFIER_COLUMNS, (*row, now), strict=True)) for row in sorted(rows)]

    if new_rows:
        insert_rows(session, table, stamped(new_rows))
    live = _locked(session, {row[0] for row in other_rows})
    other_rows = {row for row in other_rows if row[0] in live}
    if not other_rows:
        return set()
    added = insert_rows(
        session,
        table,
        stamped(other_rows),
        ignore_conflicts=True,
        returning=(CustomerIdentifier.customer_key,),
    )
    return {key for (key,) in added}
