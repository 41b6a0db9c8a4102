"""Destinations, sync runs and snapshots in the store: what exists on a platform and how each run went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from shared.definitions.audiences import AudienceDefinition
from shared.store.db import Store
from shared.store.models import Audience, AudienceSnapshot, DestinationAudience, SyncRun
from shared.sync.ports import Readback
from shared.sync.status import DestinationStatus, RunStatus


@dataclass(frozen=True)
class DestinationRecord:
    """A ``destination_audiences`` row."""

    id: int
    audience_key: str
    account_id: str
    kind: str
    variant: str
    platform_audience_id: str | None
    status: str
    spec: dict[str, Any] | None


@dataclass(frozen=True)
class RunRecord:
    """A ``sync_runs`` row with its destination's names, for reports."""

    id: int
    destination_id: int
    audience_key: str
    account_id: str
    kind: str
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    desired: int
    added: int
    removed: int
    invalid: int
    errors: int
    api_calls: int
    message: str | None
    feedback: dict[str, Any]
    platform: str = "meta"


def _destination(row: DestinationAudience) -> DestinationRecord:
    return DestinationRecord(
        row.id,
        row.audience_key,
        row.account_id,
        row.kind,
        row.variant,
        row.platform_audience_id,
        row.status,
        row.spec,
    )


def _run(run: SyncRun, dest: DestinationAudience) -> RunRecord:
    return RunRecord(
        run.id,
        dest.id,
        dest.audience_key,
        dest.account_id,
        dest.kind,
        run.mode,
        run.status,
        run.started_at,
        run.finished_at,
        run.desired,
        run.added,
        run.removed,
        run.invalid,
        run.errors,
        run.api_calls,
        run.message,
        dict(run.feedback or {}),
        dest.platform,
    )


class Runs:
    """Sync bookkeeping for one platform's destinations (``destination_audiences.platform``)."""

    def __init__(self, store: Store, platform: str = "meta") -> None:
        self.store = store
        self.platform = platform

    def destination(
        self, audience: AudienceDefinition, account: str, *, kind: str = "custom", variant: str = ""
    ) -> DestinationRecord:
        """The destination row for an audience on an account, created on first use."""
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            if session.get(Audience, audience.key) is None:
                session.add(
                    Audience(
                        key=audience.key,
                        role=audience.role,
                        definition=dict(audience.raw),
                        origin="config",
                        created_at=now,
                        updated_at=now,
                    )
                )
                session.flush()
            query = select(DestinationAudience).where(
                DestinationAudience.audience_key == audience.key,
                DestinationAudience.platform == self.platform,
                DestinationAudience.account_id == account,
                DestinationAudience.kind == kind,
                DestinationAudience.variant == variant,
            )
            row = session.scalars(query).first()
            if row is None:
                row = DestinationAudience(
                    audience_key=audience.key,
                    platform=self.platform,
                    account_id=account,
                    kind=kind,
                    variant=variant,
                    status=DestinationStatus.PENDING,
                    created_at=now,
                )
                session.add(row)
                session.flush()
            return _destination(row)

    def set_platform_audience(
        self,
        destination_id: int,
        platform_id: str | None,
        *,
        status: DestinationStatus,
        spec: dict[str, Any] | None = None,
    ) -> None:
        """Remember the platform's audience id (created or adopted) and the destination's status."""
        with self.store.transaction() as session:
            row = session.get(DestinationAudience, destination_id)
            assert row is not None
            if platform_id is not None:
                row.platform_audience_id = platform_id
            row.status = status
            if spec is not None:
                row.spec = spec

    def unfinished(self, destination_id: int) -> RunRecord | None:
        """The destination's run left ``running`` by a process that died, if any."""
        with self.store.session() as session:
            query = (
                select(SyncRun, DestinationAudience)
                .join(DestinationAudience, DestinationAudience.id == SyncRun.destination_audience_id)
                .where(SyncRun.destination_audience_id == destination_id, SyncRun.status == RunStatus.RUNNING)
                .order_by(SyncRun.id.desc())
            )
            found = session.execute(query).first()
            return _run(*found) if found else None

    def start(
        self, destination_id: int, mode: str, *, desired: int = 0, status: RunStatus = RunStatus.RUNNING
    ) -> int:
        """A new sync run."""
        with self.store.transaction() as session:
            run = SyncRun(
                destination_audience_id=destination_id,
                mode=mode,
                status=status,
                started_at=datetime.now(UTC),
                desired=desired,
                feedback={},
            )
            session.add(run)
            session.flush()
            return int(run.id)

    def finish(
        self,
        run_id: int,
        *,
        status: RunStatus,
        desired: int,
        api_calls: int,
        message: str | None = None,
        errors: int = 0,
        feedback: dict[str, Any] | None = None,
    ) -> None:
        """Close a run with its status, counts and the platform's feedback."""
        with self.store.transaction() as session:
            run = session.get(SyncRun, run_id)
            assert run is not None
            run.status, run.desired, run.api_calls = status, desired, api_calls
            run.message, run.errors = message, run.errors + errors
            run.finished_at = datetime.now(UTC)
            if feedback:
                run.feedback = {**(run.feedback or {}), **feedback}

    def get(self, run_id: int) -> RunRecord:
        """One run with its destination."""
        with self.store.session() as session:
            query = (
                select(SyncRun, DestinationAudience)
                .join(DestinationAudience, DestinationAudience.id == SyncRun.destination_audience_id)
                .where(SyncRun.id == run_id)
            )
            run, dest = session.execute(query).one()
            return _run(run, dest)

    def snapshot(self, destination_id: int, readback: Readback) -> None:
        """Append what the platform reports about the audience to its time series."""
        with self.store.transaction() as session:
            session.add(
                AudienceSnapshot(
                    destination_audience_id=destination_id,
                    at=datetime.now(UTC),
                    size_lower=readback.lower,
                    size_upper=readback.upper,
                    operation_status=readback.operation_status,
                    delivery_status=readback.delivery_status,
                    details=dict(readback.details),
                )
            )

    def last_snapshot_at(self, destination_id: int) -> datetime | None:
        """When the audience was last read back."""
        with self.store.session() as session:
            query = select(AudienceSnapshot.at).where(
                AudienceSnapshot.destination_audience_id == destination_id
            )
            return session.scalar(query.order_by(AudienceSnapshot.at.desc()).limit(1))

    def recent(self, limit: int = 20, *, audience_key: str | None = None) -> list[RunRecord]:
        """The platform's latest sync runs, newest first."""
        with self.store.session() as session:
            query = (
                select(SyncRun, DestinationAudience)
                .join(DestinationAudience, DestinationAudience.id == SyncRun.destination_audience_id)
                .where(DestinationAudience.platform == self.platform)
            )
            if audience_key:
                query = query.where(DestinationAudience.audience_key == audience_key)
            rows = session.execute(query.order_by(SyncRun.id.desc()).limit(limit)).all()
            return [_run(run, dest) for run, dest in rows]

    def latest_snapshot(self, destination_id: int) -> AudienceSnapshot | None:
        """The newest snapshot of a destination."""
        with self.store.session() as session:
            query = select(AudienceSnapshot).where(AudienceSnapshot.destination_audience_id == destination_id)
            return session.scalars(query.order_by(AudienceSnapshot.id.desc()).limit(1)).first()
