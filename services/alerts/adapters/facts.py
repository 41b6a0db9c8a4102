"""Reads the facts the alert rules look at: destinations with their latest runs and snapshots,
and recent dead letters per consumer. A thin adapter: no decisions here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.alerts.domain.rules import Destination, Facts, Run, Snapshot
from shared.store.db import Store
from shared.store.models import AudienceSnapshot, DeadLetterRecord, DestinationAudience, SyncRun

META_FLOOR = 1000  # Meta reports any audience below this as 1,000: no estimate from the floor
RUNS_READ = 5  # newest runs per destination (the newest decisive one is among them)
SNAPSHOTS_READ = 2  # the rules compare the two newest read-backs


def _match_rate(platform: str, snap: AudienceSnapshot, desired: int | None) -> float | None:
    """0..1. Google reports a percentage; Meta only size bounds, so matched / uploaded estimates it."""
    details: dict[str, Any] = snap.details or {}
    reported = details.get("match_rate")
    if isinstance(reported, int | float):
        return float(reported) / 100.0
    size = snap.size_lower if snap.size_lower is not None else snap.size_upper
    if platform == "meta" and desired and size is not None and size > META_FLOOR:
        return min(size / desired, 1.0)
    return None


def _desired_at(session: Session, destination_id: int, at: datetime) -> int | None:
    """How many members the destination was meant to hold at ``at`` (the last run before it)."""
    found: int | None = session.scalar(
        select(SyncRun.desired)
        .where(
            SyncRun.destination_audience_id == destination_id,
            SyncRun.finished_at.is_not(None),
            SyncRun.finished_at <= at,
            SyncRun.desired > 0,
        )
        .order_by(SyncRun.finished_at.desc())
        .limit(1)
    )
    return found


def _destination(session: Session, dest: DestinationAudience) -> Destination:
    runs = session.execute(
        select(SyncRun.status, SyncRun.message)
        .where(SyncRun.destination_audience_id == dest.id)
        .order_by(SyncRun.id.desc())
        .limit(RUNS_READ)
    ).all()
    snaps = session.scalars(
        select(AudienceSnapshot)
        .where(AudienceSnapshot.destination_audience_id == dest.id)
        .order_by(AudienceSnapshot.at.desc(), AudienceSnapshot.id.desc())
        .limit(SNAPSHOTS_READ)
    ).all()
    snapshots = []
    for snap in snaps:
        desired = _desired_at(session, dest.id, snap.at) if dest.platform == "meta" else None
        size = snap.size_lower if snap.size_lower is not None else snap.size_upper
        rate = _match_rate(dest.platform, snap, desired)
        snapshots.append(Snapshot(snap.at, size, rate, snap.operation_status))
    return Destination(
        audience=dest.audience_key,
        platform=dest.platform,
        account=dest.account_id,
        kind=dest.kind,
        variant=dest.variant,
        status=dest.status,
        runs=[Run(status, message) for status, message in runs],
        snapshots=snapshots,
    )


def read_facts(store: Store, now: datetime, dead_letter_window: float) -> Facts:
    """The plain facts for one check."""
    since = now - timedelta(seconds=dead_letter_window)
    with store.session() as session:
        rows = session.scalars(select(DestinationAudience).order_by(DestinationAudience.id)).all()
        destinations = [_destination(session, dest) for dest in rows]
        letters = session.execute(
            select(DeadLetterRecord.consumer, func.count())
            .where(DeadLetterRecord.resolved_at.is_(None), DeadLetterRecord.created_at >= since)
            .group_by(DeadLetterRecord.consumer)
        ).all()
    return Facts(now, destinations, {consumer: int(count) for consumer, count in letters})
