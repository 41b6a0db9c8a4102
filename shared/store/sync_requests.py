"""Sync requests in the store: written by the API and the scheduler, carried out by a worker.

A request names audiences, platforms and a mode. While it is open (queued or running) it holds
one ``active_syncs`` row per audience and platform; the primary key makes a second trigger for
the same audience fail inside the database, whichever replica takes it, and the caller is told
which request holds it. The worker (``services/scheduler/worker.py``) claims queued requests
(``claim``), records the ``sync_runs`` it made, and ends them (``finish``), releasing the rows.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from shared.store.audit import record
from shared.store.db import Store
from shared.store.models import ActiveSync, SyncRequest


class RequestStatus(enum.StrEnum):
    """Where a sync request stands (``sync_requests.status``)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # at least one destination did not finish well (see results)
    CANCELLED = "cancelled"


OPEN = (RequestStatus.QUEUED, RequestStatus.RUNNING)
MODES = ("delta", "full", "dry_run")
PLATFORMS = ("meta", "google")


class AlreadySyncingError(Exception):
    """An audience named in a trigger already has an open request."""

    def __init__(self, audience: str, platform: str, request_id: int) -> None:
        super().__init__(f"audience {audience!r} is already syncing to {platform} (request {request_id})")
        self.audience, self.platform, self.request_id = audience, platform, request_id


def create(store: Store, slots: Sequence[tuple[str, str]], mode: str, actor: str) -> int:
    """Queue a request for ``(audience, platform)`` slots and take them; ``AlreadySyncingError``
    names the request holding one."""
    audiences = list(dict.fromkeys(a for a, _ in slots))
    platforms = list(dict.fromkeys(p for _, p in slots))
    now = datetime.now(UTC)
    try:
        with store.transaction() as session:
            request = SyncRequest(
                audiences=audiences,
                destinations=platforms,
                mode=mode,
                status=RequestStatus.QUEUED,
                requested_by=actor,
                requested_at=now,
            )
            session.add(request)
            session.flush()
            for audience, platform in slots:
                session.add(ActiveSync(audience_key=audience, platform=platform, request_id=request.id))
                session.flush()  # one at a time: the first conflict stops the transaction
            details = {"audiences": audiences, "destinations": platforms, "mode": mode}
            record(session, actor, "sync.triggered", f"sync_request:{request.id}", details, at=now)
            return int(request.id)
    except IntegrityError:
        holder = _holder(store, audiences, platforms)
        if holder is None:  # released between our insert and this read: the caller may retry
            raise
        raise holder from None


def _holder(store: Store, audiences: Sequence[str], platforms: Sequence[str]) -> AlreadySyncingError | None:
    with store.session() as session:
        row = session.scalars(
            select(ActiveSync)
            .where(ActiveSync.audience_key.in_(audiences), ActiveSync.platform.in_(platforms))
            .order_by(ActiveSync.request_id)
        ).first()
        return None if row is None else AlreadySyncingError(row.audience_key, row.platform, row.request_id)


def as_dict(row: SyncRequest) -> dict[str, Any]:
    """A request as the API shows it (runs are joined by the caller)."""
    return {
        "id": row.id,
        "status": row.status,
        "mode": row.mode,
        "audiences": list(row.audiences),
        "destinations": list(row.destinations),
        "requested_by": row.requested_by,
        "requested_at": row.requested_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "cancel_requested_at": row.cancel_requested_at,
        "run_ids": list(row.run_ids or []),
        "results": list(row.results or []),
        "message": row.message,
    }


def get(store: Store, request_id: int) -> dict[str, Any] | None:
    """One request, or None."""
    with store.session() as session:
        row = session.get(SyncRequest, request_id)
        return None if row is None else as_dict(row)


def finished(store: Store, request_ids: Sequence[int]) -> int:
    """How many of ``request_ids`` have ended (succeeded, failed or cancelled)."""
    if not request_ids:
        return 0
    query = select(func.count()).where(SyncRequest.id.in_(request_ids), SyncRequest.finished_at.is_not(None))
    with store.session() as session:
        return int(session.scalar(query) or 0)


def search(
    store: Store,
    *,
    status: str | None = None,
    audience: str | None = None,
    destination: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Requests newest first with the total count. Audience and destination are matched in
    Python over the JSON lists, after the indexed filters (status, time) narrowed the rows."""
    where = []
    if status:
        where.append(SyncRequest.status == status)
    if since:
        where.append(SyncRequest.requested_at >= since)
    if until:
        where.append(SyncRequest.requested_at < until)
    with store.session() as session:
        if audience is None and destination is None:
            total = session.scalar(select(func.count()).select_from(SyncRequest).where(*where)) or 0
            rows = session.scalars(
                select(SyncRequest).where(*where).order_by(SyncRequest.id.desc()).limit(limit).offset(offset)
            ).all()
            return [as_dict(r) for r in rows], total
        matching = [
            r
            for r in session.scalars(select(SyncRequest).where(*where).order_by(SyncRequest.id.desc()))
            if (audience is None or audience in r.audiences)
            and (destination is None or destination in r.destinations)
        ]
        return [as_dict(r) for r in matching[offset : offset + limit]], len(matching)


def cancel(store: Store, request_id: int, actor: str) -> dict[str, Any] | None:
    """Cancel a request: a queued one ends now, a running one is told to stop (the worker ends it).

    Cancelling a finished request changes nothing and is not an error (the answer shows its state).
    """
    now = datetime.now(UTC)
    with store.transaction() as session:
        row = session.get(SyncRequest, request_id, with_for_update=True)
        if row is None:
            return None
        if row.status == RequestStatus.QUEUED:
            row.status = RequestStatus.CANCELLED
            row.finished_at = now
            row.cancel_requested_at = now
            row.message = f"cancelled by {actor} before it started"
            session.execute(delete(ActiveSync).where(ActiveSync.request_id == request_id))
        elif row.status == RequestStatus.RUNNING and row.cancel_requested_at is None:
            row.cancel_requested_at = now
        else:
            return as_dict(row)
        record(session, actor, "sync.cancelled", f"sync_request:{request_id}", {"status": row.status}, at=now)
        session.flush()
        return as_dict(row)


def claim(store: Store, worker: str, *, stale_after: float = 120.0) -> dict[str, Any] | None:
    """Take the oldest queued request (or a running one whose worker stopped beating) for ``worker``.

    The conditional UPDATE is the claim: of two workers racing for one row, only one changes it.
    """
    now = datetime.now(UTC)
    with store.transaction() as session:
        stale = now.timestamp() - stale_after
        candidates = session.scalars(
            select(SyncRequest).where(SyncRequest.status.in_(OPEN)).order_by(SyncRequest.id).limit(20)
        ).all()
        for row in candidates:
            beat = row.heartbeat_at.timestamp() if row.heartbeat_at else None
            if row.status == RequestStatus.RUNNING and beat is not None and beat > stale:
                continue  # a live worker has it
            taken = session.execute(
                update(SyncRequest)
                .where(
                    SyncRequest.id == row.id,
                    SyncRequest.status == row.status,
                    (SyncRequest.heartbeat_at == row.heartbeat_at)
                    if row.heartbeat_at is not None
                    else SyncRequest.heartbeat_at.is_(None),
                )
                .values(
                    status=RequestStatus.RUNNING,
                    claimed_by=worker,
                    heartbeat_at=now,
                    started_at=row.started_at or now,
                )
            )
            if taken.rowcount:  # type: ignore[attr-defined]
                session.flush()
                session.refresh(row)
                return as_dict(row)
    return None


def heartbeat(store: Store, request_id: int, worker: str, run_ids: Sequence[int]) -> bool:
    """Record progress; returns whether the request should go on (False once cancel was asked)."""
    with store.transaction() as session:
        session.execute(
            update(SyncRequest)
            .where(SyncRequest.id == request_id, SyncRequest.claimed_by == worker)
            .values(heartbeat_at=datetime.now(UTC), run_ids=list(run_ids))
        )
        row = session.get(SyncRequest, request_id)
        return row is not None and row.cancel_requested_at is None


def release(store: Store, request_id: int, worker: str) -> None:
    """Give a claimed request back to the queue (its worker is stopping); any worker claims it next."""
    with store.transaction() as session:
        session.execute(
            update(SyncRequest)
            .where(SyncRequest.id == request_id, SyncRequest.claimed_by == worker)
            .values(status=RequestStatus.QUEUED, claimed_by=None, heartbeat_at=None)
        )


def finish(
    store: Store,
    request_id: int,
    status: RequestStatus,
    *,
    run_ids: Sequence[int],
    results: Sequence[dict[str, Any]],
    message: str | None = None,
) -> None:
    """End a request with its runs and per-destination results, and free its audiences."""
    with store.transaction() as session:
        session.execute(
            update(SyncRequest)
            .where(SyncRequest.id == request_id)
            .values(
                status=status,
                finished_at=datetime.now(UTC),
                run_ids=list(run_ids),
                results=list(results),
                message=message,
            )
        )
        session.execute(delete(ActiveSync).where(ActiveSync.request_id == request_id))
