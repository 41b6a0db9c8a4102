"""Scoring runs: each full rescore's calibration, reused by incremental rescoring; report marks.

``mode`` is ``full`` (a full rescore; its calibration is what incremental rescoring loads) or
``report`` (an ICP report was produced then: the next report shows movements since it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.scorer.domain import Calibration
from shared.store.models import ScoringRun

FULL = "full"
REPORT = "report"


@dataclass(frozen=True)
class StoredRun:
    """A scoring run as read back."""

    id: int
    mode: str
    profile: str
    as_of: datetime
    started_at: datetime
    customers: int
    changed: int
    summary: dict[str, Any]


def save_run(
    session: Session,
    *,
    mode: str,
    profile: str,
    as_of: datetime,
    started_at: datetime,
    finished_at: datetime,
    customers: int,
    changed: int,
    calibration: Calibration | None = None,
    summary: dict[str, Any] | None = None,
) -> int:
    """Record a run; returns its id."""
    run = ScoringRun(
        mode=mode,
        profile=profile,
        as_of=as_of,
        started_at=started_at,
        finished_at=finished_at,
        customers=customers,
        changed=changed,
        calibration=calibration.to_dict() if calibration else None,
        summary=summary,
    )
    session.add(run)
    session.flush()
    return int(run.id)


def latest_calibration(session: Session) -> Calibration | None:
    """The calibration of the most recent full rescore, or None before the first one."""
    stored = session.scalar(
        select(ScoringRun.calibration).where(ScoringRun.mode == FULL).order_by(ScoringRun.id.desc()).limit(1)
    )
    return Calibration.from_dict(stored) if stored else None


def latest_run(session: Session, mode: str, *, before_id: int | None = None) -> StoredRun | None:
    """The most recent run of ``mode`` (older than run ``before_id`` when given)."""
    query = select(ScoringRun).where(ScoringRun.mode == mode)
    if before_id is not None:
        query = query.where(ScoringRun.id < before_id)
    run = session.scalar(query.order_by(ScoringRun.id.desc()).limit(1))
    if run is None:
        return None
    return StoredRun(
        run.id,
        run.mode,
        run.profile,
        run.as_of,
        run.started_at,
        run.customers,
        run.changed,
        run.summary or {},
    )
