"""The ledger store: labelled customers and ledger rows streamed in key order, batches recorded.

Reads are keyset-paged (``customer_key > last ORDER BY customer_key LIMIT n``) in short
transactions, so a million-member diff holds one page at a time and never keeps a read open
while batches are written. Each acknowledged batch is written in one transaction (its
``sync_batches`` row, the ledger rows, the run's counters) before the next batch is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from shared.store.db import Store
from shared.store.dialect import insert
from shared.store.models import (
    AudienceMembership,
    Customer,
    CustomerIdentifier,
    Erasure,
    Label,
    SyncBatch,
    SyncRun,
)
from shared.sync.batching import Batch
from shared.sync.diff import Direction, Synced
from shared.sync.membership import CustomerView
from shared.sync.ports import InvalidEntry, Receipt, SentBatch
from shared.sync.status import BatchStatus

PAGE = 10_000  # keys per read; under SQLite's 32,766 bound parameters
MAX_SAMPLES = 100  # invalid-entry samples kept per run


@dataclass(frozen=True)
class BatchRecord:
    """A batch as recorded: where it went and whether the platform acknowledged it."""

    id: int
    seq: int
    direction: str
    size: int
    session_id: str | None  # the adapter's reference (Meta: the upload session id)
    status: str

    def sent(self) -> SentBatch:
        """What the adapter sees of it when a run resumes."""
        return SentBatch(self.seq, self.direction, self.session_id, self.status)


def _chunks(keys: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(keys), size):
        yield list(keys[start : start + size])


class Ledger:
    """Membership reads and batch writes for one platform's destinations.

    ``identifiers`` is the ``customer_identifiers.platform`` whose hashed identifiers the rows
    are built from (the adapter's ``RowFormat.identifiers``).
    """

    def __init__(self, store: Store, *, identifiers: str = "meta", page: int = PAGE) -> None:
        self.store = store
        self.identifiers = identifiers
        self.page = page

    # --- desired side: labelled customers with the platform's identifiers -----------------------

    def customers(self, scope: Iterable[str] | None = None) -> Iterator[CustomerView]:
        """Labelled, non-erased customers in key order (all, or only the keys in ``scope``)."""
        if scope is None:
            after = ""
            while True:
                page = self._customer_page(Label.customer_key > after, scoped=False)
                if not page:
                    return
                yield from page
                after = page[-1].key
        for chunk in _chunks(sorted(set(scope)), self.page):
            yield from self._customer_page(Label.customer_key.in_(chunk), scoped=True)

    def _customer_page(self, where: Any, *, scoped: bool) -> list[CustomerView]:
        query = (
            select(
                Label.customer_key,
                Label.label,
                Label.stage,
                Label.value,
                Customer.accepts_email_marketing,
                Customer.accepts_sms_marketing,
                Customer.country,
                Customer.ad_user_data,
                Customer.ad_personalization,
            )
            # Erasure deletes the customer and its label (cascade): erased customers never appear.
            .join(Customer, Customer.customer_key == Label.customer_key)
            .where(where)
            .order_by(Label.customer_key)
            .limit(self.page)
        )
        with self.store.session() as session:
            conn = session.connection()  # Core rows: no ORM bookkeeping on a million-row read
            rows = conn.execute(query).all()
            if not rows:
                return []
            keys = [row[0] for row in rows]
            within = (
                CustomerIdentifier.customer_key.in_(keys)
                if scoped
                else CustomerIdentifier.customer_key.between(keys[0], keys[-1])
            )
            identifiers = self._identifiers(session, within)
        return [
            CustomerView(
                k, lab, st, val, em, sms, identifiers.get(k, {}), country, user_data, personalization
            )
            for k, lab, st, val, em, sms, country, user_data, personalization in rows
        ]

    def _identifiers(self, session: Session, within: Any) -> dict[str, dict[str, str]]:
        """A page of customers' platform identifiers; where a field has several values, the latest wins.

        Read unordered (an ORDER BY on added_at costs a sort of every row); the rare customers
        with two values for a field are read again in added_at order.
        """
        conn = session.connection()
        columns = (CustomerIdentifier.customer_key, CustomerIdentifier.field, CustomerIdentifier.value)
        query = select(*columns).where(CustomerIdentifier.platform == self.identifiers, within)
        out: dict[str, dict[str, str]] = {}
        several: set[str] = set()
        for key, field, value in conn.execute(query):
            fields = out.setdefault(key, {})
            if field in fields:
                several.add(key)
            fields[field] = value
        for chunk in _chunks(sorted(several), PAGE):
            again = (
                select(*columns)
                .where(
                    CustomerIdentifier.platform == self.identifiers,
                    CustomerIdentifier.customer_key.in_(chunk),
                )
                .order_by(CustomerIdentifier.added_at, CustomerIdentifier.value)
            )
            for key, field, value in conn.execute(again):
                out[key][field] = value
        return out

    # --- synced side: the ledger ----------------------------------------------------------------

    def synced(
        self, destination_id: int, scope: Iterable[str] | None = None, *, stale_before: datetime | None = None
    ) -> Iterator[Synced]:
        """Ledger rows of one destination in key order, erased customers marked, and rows sent
        before ``stale_before`` marked stale (to be sent again before the platform drops them)."""
        base = AudienceMembership.destination_audience_id == destination_id
        if scope is None:
            after = ""
            while True:
                page = self._synced_page(and_(base, AudienceMembership.customer_key > after), stale_before)
                if not page:
                    return
                yield from page
                after = page[-1].key
        for chunk in _chunks(sorted(set(scope)), self.page):
            yield from self._synced_page(and_(base, AudienceMembership.customer_key.in_(chunk)), stale_before)

    def _synced_page(self, where: Any, stale_before: datetime | None = None) -> list[Synced]:
        query = (
            select(
                AudienceMembership.customer_key,
                AudienceMembership.row,
                AudienceMembership.value,
                AudienceMembership.batch_id,
                Erasure.customer_key.is_not(None),
                AudienceMembership.synced_at,
            )
            .outerjoin(Erasure, Erasure.customer_key == AudienceMembership.customer_key)
            .where(where)
            .order_by(AudienceMembership.customer_key)
            .limit(self.page)
        )
        with self.store.session() as session:
            rows = session.connection().execute(query).all()
        return [
            Synced(k, tuple(row), value, bool(erased), batch, stale_before is not None and at < stale_before)
            for k, row, value, batch, erased, at in rows
        ]

    def size(self, destination_id: int) -> int:
        """How many customers the ledger says the platform audience holds."""
        with self.store.session() as session:
            query = select(func.count()).where(AudienceMembership.destination_audience_id == destination_id)
            return int(session.scalar(query) or 0)

    # --- batches --------------------------------------------------------------------------------

    def batches_of(self, run_id: int) -> list[BatchRecord]:
        """The batches a run has recorded, in order."""
        with self.store.session() as session:
            rows = session.scalars(
                select(SyncBatch).where(SyncBatch.sync_run_id == run_id).order_by(SyncBatch.seq)
            )
            return [BatchRecord(b.id, b.seq, b.direction, b.size, b.session_id, b.status) for b in rows]

    def record_sent(self, run_id: int, seq: int, batch: Batch, reference: str | None) -> int:
        """Write-ahead: the batch is about to be sent (left ``sent`` if the process dies)."""
        with self.store.transaction() as session:
            row = SyncBatch(
                sync_run_id=run_id,
                seq=seq,
                direction=batch.direction.value,
                size=len(batch),
                session_id=reference,
                status=BatchStatus.SENT,
            )
            session.add(row)
            session.flush()
            return int(row.id)

    def close_open_batches(self, run_id: int, status: BatchStatus) -> int:
        """Batches still ``sent``: ``failed`` (the platform answered with an error) or ``unconfirmed``
        (the process died waiting for the answer; their rows are simply in the next diff)."""
        with self.store.transaction() as session:
            result = session.execute(
                update(SyncBatch)
                .where(SyncBatch.sync_run_id == run_id, SyncBatch.status == BatchStatus.SENT)
                .values(status=status)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def acknowledge(
        self,
        *,
        run_id: int,
        batch_id: int,
        destination_id: int,
        batch: Batch,
        receipt: Receipt,
        api_calls: int,
    ) -> None:
        """One transaction: the batch acknowledged, the ledger updated, the run's counters moved on."""
        now = datetime.now(UTC)
        keys = [change.member.key for change in batch.changes]
        invalid: Sequence[InvalidEntry] = receipt.invalid
        response = receipt.response or {"received": receipt.received, "invalid": receipt.invalid_count}
        values: dict[str, Any] = {
            "status": BatchStatus.ACKNOWLEDGED,
            "num_received": receipt.received,
            "num_invalid": receipt.invalid_count,
            "response": response,
            "acknowledged_at": now,
        }
        if receipt.reference is not None:
            values["session_id"] = receipt.reference  # the platform's own handle wins
        with self.store.transaction() as session:
            session.execute(update(SyncBatch).where(SyncBatch.id == batch_id).values(**values))
            if batch.direction is Direction.REMOVE:
                for chunk in _chunks(keys, self.page):
                    session.execute(
                        delete(AudienceMembership).where(
                            AudienceMembership.destination_audience_id == destination_id,
                            AudienceMembership.customer_key.in_(chunk),
                        )
                    )
            else:
                self._upsert(session, destination_id, batch, batch_id, now)
            run = session.get(SyncRun, run_id, with_for_update=True)
            assert run is not None
            if batch.direction is Direction.REMOVE:
                run.removed += len(batch)
            else:
                run.added += len(batch)
            run.invalid += receipt.invalid_count
            run.api_calls = api_calls
            if invalid:
                feedback = dict(run.feedback or {})
                samples = list(feedback.get("invalid_samples", []))
                room = MAX_SAMPLES - len(samples)
                samples.extend({"customer_key": e.customer_key, "reason": e.reason} for e in invalid[:room])
                feedback["invalid_samples"] = samples
                run.feedback = feedback

    @staticmethod
    def _upsert(session: Session, destination_id: int, batch: Batch, batch_id: int, now: datetime) -> None:
        rows = [
            {
                "destination_audience_id": destination_id,
                "customer_key": change.member.key,
                "row": list(change.member.row),
                "value": change.member.value,
                "batch_id": batch_id,
                "synced_at": now,
            }
            for change in batch.changes
        ]
        statement = insert(session, AudienceMembership.__table__)  # type: ignore[arg-type]
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["destination_audience_id", "customer_key"],
                set_={
                    "row": statement.excluded.row,
                    "value": statement.excluded.value,
                    "batch_id": statement.excluded.batch_id,
                    "synced_at": statement.excluded.synced_at,
                },
            ),
            rows,
        )

    def keep_only_run(self, destination_id: int, run_id: int) -> int:
        """After a replace: drop ledger rows no batch of this run wrote (the platform dropped them too)."""
        run_batches = select(SyncBatch.id).where(
            SyncBatch.sync_run_id == run_id, SyncBatch.status == BatchStatus.ACKNOWLEDGED
        )
        with self.store.transaction() as session:
            result = session.execute(
                delete(AudienceMembership).where(
                    AudienceMembership.destination_audience_id == destination_id,
                    (AudienceMembership.batch_id.is_(None))
                    | (AudienceMembership.batch_id.not_in(run_batches)),
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
