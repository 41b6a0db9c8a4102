"""Sync runs and destination health, read from the tables every syncer writes (any platform).

Read-only queries over ``sync_runs``, ``sync_batches``, ``destination_audiences``,
``audience_snapshots`` and ``audience_memberships``; statuses are the stored strings, so a new
platform (Google) shows up here as soon as its syncer writes the same tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from shared.store.db import Store
from shared.store.models import (
    AudienceMembership,
    AudienceSnapshot,
    DestinationAudience,
    SyncBatch,
    SyncRun,
)

FINE = ("succeeded", "dry_run")
SAMPLES = 5  # invalid-row samples shown per run
HISTORY = 30  # snapshots shown per destination


def runs(store: Store, run_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The runs with their destination, batch progress, feedback and timings, in id order."""
    if not run_ids:
        return []
    with store.session() as session:
        rows = session.execute(
            select(SyncRun, DestinationAudience)
            .join(DestinationAudience, DestinationAudience.id == SyncRun.destination_audience_id)
            .where(SyncRun.id.in_(list(run_ids)))
            .order_by(SyncRun.id)
        ).all()
        batches = dict(
            (run_id, (total, done))
            for run_id, total, done in session.execute(
                select(
                    SyncBatch.sync_run_id,
                    func.count(),
                    func.count().filter(SyncBatch.status == "acknowledged"),
                )
                .where(SyncBatch.sync_run_id.in_(list(run_ids)))
                .group_by(SyncBatch.sync_run_id)
            ).all()
        )
    return [_run(run, dest, *batches.get(run.id, (0, 0))) for run, dest in rows]


def _run(run: SyncRun, dest: DestinationAudience, batches_total: int, batches_done: int) -> dict[str, Any]:
    feedback = dict(run.feedback or {})
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {
        "run_id": run.id,
        "audience": dest.audience_key,
        "platform": dest.platform,
        "account": dest.account_id,
        "kind": dest.kind,
        "variant": dest.variant,
        "mode": run.mode,
        "status": run.status,
        "desired": run.desired,
        "added": run.added,
        "removed": run.removed,
        "invalid": run.invalid,
        "errors": run.errors,
        "api_calls": run.api_calls,
        "batches_done": batches_done,
        "batches_total": batches_total,
        "match_rate": feedback.get("match_rate"),
        "feedback": {k: v for k, v in feedback.items() if k != "invalid_samples"},
        "error_samples": list(feedback.get("invalid_samples") or [])[:SAMPLES],
        "message": run.message,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "seconds": seconds,
    }


def health(
    store: Store, audience: str, *, membership_days: int | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per destination of ``audience``: desired vs synced, drift, last success, sizes over time.

    ``membership_days``: the audience definition's Google membership duration, used when the
    destination's own spec does not record one.
    """
    now = now or datetime.now(UTC)
    with store.session() as session:
        destinations = session.scalars(
            select(DestinationAudience)
            .where(DestinationAudience.audience_key == audience)
            .order_by(DestinationAudience.platform, DestinationAudience.account_id, DestinationAudience.id)
        ).all()
        out = []
        for dest in destinations:
            synced = session.scalar(
                select(func.count())
                .select_from(AudienceMembership)
                .where(AudienceMembership.destination_audience_id == dest.id)
            )
            last = session.scalars(
                select(SyncRun).where(SyncRun.destination_audience_id == dest.id).order_by(SyncRun.id.desc())
            ).first()
            success = session.scalars(
                select(SyncRun)
                .where(SyncRun.destination_audience_id == dest.id, SyncRun.status == "succeeded")
                .order_by(SyncRun.id.desc())
            ).first()
            snapshots = session.scalars(
                select(AudienceSnapshot)
                .where(AudienceSnapshot.destination_audience_id == dest.id)
                .order_by(AudienceSnapshot.id.desc())
                .limit(HISTORY)
            ).all()
            days = membership_days if dest.platform == "google" else None
            out.append(_health(dest, int(synced or 0), last, success, list(reversed(snapshots)), now, days))
    return out


def _health(
    dest: DestinationAudience,
    synced: int,
    last: SyncRun | None,
    success: SyncRun | None,
    snapshots: list[AudienceSnapshot],
    now: datetime,
    membership_days: int | None = None,
) -> dict[str, Any]:
    desired = last.desired if last else None
    spec = dict(dest.spec or {})
    latest = snapshots[-1] if snapshots else None
    flags = []
    if latest is not None and latest.operation_status not in (None, 200):
        # Meta's operation_status other than 200 (e.g. 471: audience flagged) blocks delivery.
        flags.append({"operation_status": latest.operation_status, "details": latest.details or {}})
    if dest.status == "flagged":
        flags.append({"status": "flagged"})
    days = spec.get("membership_days") or membership_days
    expiry = None
    if days and success and success.finished_at:
        # Google drops a member this many days after it was last uploaded (Customer Match).
        left = int(days) - (now - success.finished_at).days
        expiry = max(0, left)
    return {
        "platform": dest.platform,
        "account": dest.account_id,
        "kind": dest.kind,
        "variant": dest.variant,
        "platform_audience_id": dest.platform_audience_id,
        "status": dest.status,
        "desired": desired,
        "synced": synced,
        "drift": None if desired is None else desired - synced,
        "last_run": None
        if last is None
        else {"run_id": last.id, "status": last.status, "finished_at": last.finished_at},
        "last_success_at": success.finished_at if success else None,
        "match_rate": (dict(success.feedback or {}).get("match_rate") if success else None),
        "sizes": [
            {
                "at": s.at,
                "size_lower": s.size_lower,
                "size_upper": s.size_upper,
                "operation_status": s.operation_status,
                "delivery_status": s.delivery_status,
            }
            for s in snapshots
        ],
        "days_to_membership_expiry": expiry,
        "flags": flags,
    }
