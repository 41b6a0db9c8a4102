"""The sync engine's contract, the same cases on every platform (see conftest.PLATFORMS).

Each case seeds labelled customers with the platform's stored identifiers, syncs through the
real engine and the platform's adapter, and checks what the platform itself holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, insert, select, update

from shared.store.db import Store
from shared.store.models import (
    Customer,
    CustomerIdentifier,
    DestinationAudience,
    Erasure,
    Label,
    SyncBatch,
)
from shared.sync.outcome import SyncOptions
from shared.sync.service import SyncService
from shared.sync.status import BatchStatus, RunStatus
from shared.sync.uploads import Progress
from tests.contract.platforms import AUDIENCE, Harness
from tests.integration.syncer_meta.seed import email_hash, key_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # platforms vary here
NOW = datetime(2026, 5, 1, tzinfo=UTC)


def seed(store: Store, harness: Harness, people: range, *, corrupt: int | None = None) -> None:
    """Customers labelled icp with email consent, and their identifiers for the platform."""
    rows: list[dict[str, object]] = []
    for i in people:
        fields = harness.identifiers(i)
        if i == corrupt:
            field, value = harness.corrupt(i)
            fields[field] = value
        rows.extend(
            {
                "customer_key": key_of(i),
                "platform": harness.rows_from,
                "field": f,
                "value": v,
                "added_at": NOW,
            }
            for f, v in fields.items()
        )
    with store.transaction() as session:
        conn = session.connection()
        conn.execute(
            insert(Customer.__table__),
            [
                {
                    "customer_key": key_of(i),
                    "shop": "test-shop",
                    "accepts_email_marketing": True,
                    "first_seen_at": NOW,
                    "updated_at": NOW,
                    **getattr(harness, "customer_columns", {}),  # what a platform's consent rule reads
                }
                for i in people
            ],
        )
        conn.execute(
            insert(Label.__table__),
            [
                {
                    "customer_key": key_of(i),
                    "label": "icp",
                    "stage": "repeat",
                    "reasons": [],
                    "value": Decimal(10),
                    "as_of": NOW,
                    "scored_at": NOW,
                }
                for i in people
            ],
        )
        conn.execute(insert(CustomerIdentifier.__table__), rows)


def relabel(store: Store, i: int, label: str) -> None:
    with store.transaction() as session:
        session.execute(update(Label).where(Label.customer_key == key_of(i)).values(label=label))


def erase(store: Store, i: int) -> None:
    with store.transaction() as session:
        session.add(Erasure(customer_key=key_of(i), shop="test-shop", requested_at=NOW, source="test"))
        session.execute(delete(Label).where(Label.customer_key == key_of(i)))
        session.execute(delete(Customer).where(Customer.customer_key == key_of(i)))
        session.execute(delete(CustomerIdentifier).where(CustomerIdentifier.customer_key == key_of(i)))


@pytest.fixture
def services() -> Iterator[list[SyncService]]:
    built: list[SyncService] = []
    yield built
    for service in built:
        service.close()


def make(
    harness: Harness, store: Store, services: list[SyncService], batch_size: int = 10_000, **kw: object
) -> SyncService:
    service = harness.build(store, batch_size=batch_size, **kw)  # type: ignore[arg-type]
    services.append(service)
    return service


def audience_id(service: SyncService) -> str:
    (destination,) = service.destinations(AUDIENCE)
    record = service.syncs[destination.account].runs.destination(destination.audience, destination.account)
    assert record.platform_audience_id
    return record.platform_audience_id


def sync(service: SyncService) -> RunStatus:
    (report,) = service.sync(SyncOptions(), audience_key=AUDIENCE)
    return report.status


def test_the_list_is_created_once_then_found_and_adds_land(
    harness: Harness, store: Store, services: list[SyncService]
) -> None:
    seed(store, harness, range(6))
    service = make(harness, store, services)
    assert sync(service) == RunStatus.SUCCEEDED
    list_id = audience_id(service)
    assert harness.held(list_id) == {email_hash(i) for i in range(6)}

    seed(store, harness, range(6, 8))
    with store.transaction() as session:  # a crash before the list's id was remembered
        session.execute(update(DestinationAudience).values(platform_audience_id=None))
    again = make(harness, store, services)
    assert sync(again) == RunStatus.SUCCEEDED
    assert audience_id(again) == list_id and harness.lists_named(f"audiencesync test-shop {AUDIENCE}") == 1
    assert harness.held(list_id) == {email_hash(i) for i in range(8)}


def test_removals_and_erasures_leave_the_platform_list(
    harness: Harness, store: Store, services: list[SyncService]
) -> None:
    seed(store, harness, range(10))
    service = make(harness, store, services)
    assert sync(service) == RunStatus.SUCCEEDED
    relabel(store, 1, "negative_icp")
    erase(store, 2)
    assert sync(make(harness, store, services)) == RunStatus.SUCCEEDED
    assert harness.held(audience_id(service)) == {email_hash(i) for i in range(10) if i not in (1, 2)}


def test_a_second_sync_with_no_change_makes_no_call(
    harness: Harness, store: Store, services: list[SyncService]
) -> None:
    seed(store, harness, range(5))
    assert sync(make(harness, store, services)) == RunStatus.SUCCEEDED
    uploads = harness.uploads()
    (report,) = make(harness, store, services).sync(SyncOptions(), audience_key=AUDIENCE)
    assert report.status == RunStatus.SUCCEEDED and report.run is not None
    assert report.run.api_calls == 0 and harness.uploads() == uploads


def test_batches_never_exceed_the_cap_and_use_the_fewest_requests(
    harness: Harness, store: Store, services: list[SyncService]
) -> None:
    seed(store, harness, range(20))
    sizes: list[int] = []
    service = make(harness, store, services, batch_size=7, on_batch=lambda step: sizes.append(step.rows))
    assert sync(service) == RunStatus.SUCCEEDED
    assert sorted(sizes) == [6, 7, 7] and harness.uploads() == 3
    assert harness.held(audience_id(service)) == {email_hash(i) for i in range(20)}


def test_a_row_the_platform_refuses_is_mapped_to_its_customer_and_the_rest_lands(
    harness: Harness, store: Store, services: list[SyncService]
) -> None:
    seed(store, harness, range(5), corrupt=2)
    (report,) = make(harness, store, services).sync(SyncOptions(), audience_key=AUDIENCE)
    assert report.status == RunStatus.SUCCEEDED and report.run is not None
    assert report.run.invalid == 1
    assert report.run.feedback["invalid_samples"][0]["customer_key"] == key_of(2)
    assert {email_hash(i) for i in (0, 1, 3, 4)} <= harness.held(audience_id(make(harness, store, services)))


def test_a_run_stopped_by_a_failure_resumes_without_resending_acknowledged_batches(
    harness: Harness, store: Store, services: list[SyncService]
) -> None:
    seed(store, harness, range(25))

    def break_after_two(step: Progress) -> None:
        if step.seq == 2:
            harness.break_credentials()

    stopped = make(harness, store, services, batch_size=5, on_batch=break_after_two)
    (first,) = stopped.sync(SyncOptions(), audience_key=AUDIENCE)
    assert first.status not in (RunStatus.SUCCEEDED, RunStatus.RUNNING) and first.run is not None
    assert first.run.added == 10 and harness.uploads() == 2

    harness.repair_credentials()
    assert sync(make(harness, store, services, batch_size=5)) == RunStatus.SUCCEEDED
    assert harness.held(audience_id(stopped)) == {email_hash(i) for i in range(25)}
    assert harness.uploads() == 5  # 25 rows in batches of 5: the two acknowledged ones were not resent
    with store.session() as session:
        acked = session.scalar(
            select(func.sum(SyncBatch.size)).where(SyncBatch.status == BatchStatus.ACKNOWLEDGED)
        )
    assert acked == 25
