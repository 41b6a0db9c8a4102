"""Identifiers have no foreign key to their customer (PostgreSQL's per-row check was half the
cost of an import's identifier rows). What it guaranteed must still hold when an ingest adding
identifiers to a stored customer and that customer's erasure run at the same moment: in either
order, no identifier of the erased customer is left behind."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.ingestor.adapters.facts_store import CustomerErased, FactsWriter
from services.ingestor.domain.resolution import Sighting
from shared.identity.contact import Contact
from shared.store.db import Store
from shared.store.migrate import upgrade
from shared.store.models import Customer, CustomerIdentifier
from tests.conftest import _postgres_schema_url

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

SHOP = "race.myshopify.com"
EMAIL = "racer@example.com"
SEEN = datetime(2026, 5, 1, tzinfo=UTC)
# Another backend of this database waiting for a lock held by a transaction.
_WAITING = """
    SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                   WHERE wait_event_type = 'Lock' AND datname = current_database())"""


@pytest.fixture
def store(postgres_server: str) -> Iterator[Store]:
    for url in _postgres_schema_url(postgres_server):
        upgrade(url)
        db = Store(url)
        yield db
        db.dispose()


def _sighting() -> Sighting:
    return Sighting(SHOP, EMAIL, "C-1", "US", True, None, SEEN, SEEN)


def _add_phone(session: Session) -> str | None:
    """The ingest side: the stored customer seen again with a contact bringing new identifiers."""
    try:
        return FactsWriter(session).touch(_sighting(), Contact(email=EMAIL, phone="+14155550123"))
    except CustomerErased:
        return None


def _erase(key: str) -> Callable[[Session], object]:
    return lambda session: FactsWriter(session).erase([key], SHOP, "test")


def _left(store: Store) -> tuple[int, int]:
    with store.session() as s:
        customers = s.scalar(select(func.count()).select_from(Customer)) or 0
        identifiers = s.scalar(select(func.count()).select_from(CustomerIdentifier)) or 0
    return customers, identifiers


def _second_waits(
    store: Store, first: Callable[[Session], object], second: Callable[[Session], object]
) -> None:
    """Run ``first`` in an open transaction, start ``second`` beside it, wait until ``second``
    waits on a lock, then commit ``first``."""
    import psycopg

    failures: list[BaseException] = []

    def run_second() -> None:
        try:
            with store.transaction() as session:
                second(session)
        except BaseException as exc:  # reported by the test
            failures.append(exc)

    plain = store.url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as watch, store.transaction() as session:
        first(session)
        session.flush()
        thread = threading.Thread(target=run_second)
        thread.start()
        while thread.is_alive() and not watch.execute(_WAITING).fetchone()[0]:  # type: ignore[index]
            threading.Event().wait(0.01)
        assert thread.is_alive(), failures  # the second really waited for the first
    thread.join()
    assert not failures, failures


def _stored_customer(store: Store) -> str:
    with store.transaction() as session:
        key = FactsWriter(session).touch(_sighting(), Contact(email=EMAIL))
    assert key is not None
    return key


def test_an_erasure_after_the_ingest_locked_the_customer_deletes_the_new_identifiers(store: Store) -> None:
    key = _stored_customer(store)
    _second_waits(store, _add_phone, _erase(key))
    assert _left(store) == (0, 0)


def test_an_ingest_after_the_erasure_deleted_the_customer_adds_no_identifier(store: Store) -> None:
    key = _stored_customer(store)
    _second_waits(store, _erase(key), _add_phone)
    assert _left(store) == (0, 0)
