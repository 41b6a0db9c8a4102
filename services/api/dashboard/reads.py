"""What the dashboard shows, read from the tables the services write (read-only).

Only hashed identity exists in these tables; the pages show no customer key at all, just
counts, audiences, destinations, runs and dead-letter metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from shared.store.db import Store
from shared.store.models import AudienceSnapshot, DeadLetterRecord, DestinationAudience, Label, SyncRun
from shared.sync.status import FINE, RunStatus

HISTORY = 30  # snapshots and runs per destination in a sparkline
RECENT = 10  # rows in the recent-runs, failures and dead-letter tables
# Meta never reveals an audience under 1,000 people: it reports 1,000..1,000 (the Meta sandbox
# does the same). Shown as "≤ 1,000", not as a size of 1,000.
META_SIZE_FLOOR = 1_000


@dataclass(frozen=True)
class DestinationView:
    """One audience on one platform account: its size and match rate over time, its last sync."""

    audience: str
    platform: str
    account: str
    kind: str
    status: str
    size_lower: int | None
    size_upper: int | None
    sizes: list[float | None]
    match_rate: float | None
    match_rates: list[float | None]
    last_run: RunView | None


@dataclass(frozen=True)
class RunView:
    """A sync run as a row of the dashboard."""

    id: int
    audience: str
    platform: str
    account: str
    mode: str
    status: str
    desired: int
    added: int
    removed: int
    invalid: int
    started_at: datetime
    finished_at: datetime | None
    message: str | None

    @property
    def ok(self) -> bool:
        """Whether it ended well (or is still going)."""
        return self.status in FINE or self.status == RunStatus.RUNNING


def match_rate(value: Any) -> float | None:
    """A platform's match rate as a fraction: Google reports whole percents, our runs fractions."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value / 100.0 if isinstance(value, int) and value > 1 else float(value)


def _run(run: SyncRun, dest: DestinationAudience) -> RunView:
    return RunView(
        run.id,
        dest.audience_key,
        dest.platform,
        dest.account_id,
        run.mode,
        run.status,
        run.desired,
        run.added,
        run.removed,
        run.invalid,
        run.started_at,
        run.finished_at,
        run.message,
    )


def destinations(store: Store) -> list[DestinationView]:
    """Every destination audience with its recent snapshots and runs (one query each per destination)."""
    out = []
    with store.session() as session:
        dests = session.scalars(
            select(DestinationAudience).order_by(
                DestinationAudience.audience_key, DestinationAudience.platform, DestinationAudience.id
            )
        ).all()
        for dest in dests:
            snaps = list(
                reversed(
                    session.scalars(
                        select(AudienceSnapshot)
                        .where(AudienceSnapshot.destination_audience_id == dest.id)
                        .order_by(AudienceSnapshot.at.desc(), AudienceSnapshot.id.desc())
                        .limit(HISTORY)
                    ).all()
                )
            )
            runs = list(
                reversed(
                    session.scalars(
                        select(SyncRun)
                        .where(SyncRun.destination_audience_id == dest.id)
                        .order_by(SyncRun.id.desc())
                        .limit(HISTORY)
                    ).all()
                )
            )
            rates = [match_rate((s.details or {}).get("match_rate")) for s in snaps]
            if not any(r is not None for r in rates):  # platforms that report it per run instead
                rates = [match_rate((r.feedback or {}).get("match_rate")) for r in runs if r.status in FINE]
            latest = snaps[-1] if snaps else None
            lower, upper = (latest.size_lower, latest.size_upper) if latest else (None, None)
            if dest.platform == "meta" and lower == upper == META_SIZE_FLOOR:
                lower = None
            known_rates = [r for r in rates if r is not None]
            out.append(
                DestinationView(
                    dest.audience_key,
                    dest.platform,
                    dest.account_id,
                    dest.kind + (f" {dest.variant}" if dest.variant else ""),
                    dest.status,
                    lower,
                    upper,
                    [s.size_upper if s.size_upper is not None else s.size_lower for s in snaps],
                    known_rates[-1] if known_rates else None,
                    rates,
                    _run(runs[-1], dest) if runs else None,
                )
            )
    return out


def label_counts(store: Store) -> list[tuple[str, int, float]]:
    """Customers per label and their share, largest first."""
    with store.session() as session:
        rows = session.execute(select(Label.label, func.count()).group_by(Label.label)).all()
    total = sum(n for _, n in rows)
    return sorted(((label, int(n), n / total) for label, n in rows), key=lambda r: -r[1])


def recent_runs(store: Store, *, failed_only: bool = False, limit: int = RECENT) -> list[RunView]:
    """The latest sync runs of every platform, newest first (only those that ended badly if asked)."""
    query = select(SyncRun, DestinationAudience).join(
        DestinationAudience, DestinationAudience.id == SyncRun.destination_audience_id
    )
    if failed_only:
        query = query.where(SyncRun.status.not_in([*FINE, RunStatus.RUNNING]))
    with store.session() as session:
        rows = session.execute(query.order_by(SyncRun.id.desc()).limit(limit)).all()
        return [_run(run, dest) for run, dest in rows]


def open_dead_letters(store: Store, limit: int = RECENT) -> tuple[list[DeadLetterRecord], int]:
    """Unresolved dead letters, newest first, and how many there are (rows carry no payload)."""
    unresolved = DeadLetterRecord.resolved_at.is_(None)
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(DeadLetterRecord).where(unresolved))
        rows = session.scalars(
            select(DeadLetterRecord).where(unresolved).order_by(DeadLetterRecord.id.desc()).limit(limit)
        ).all()
        session.expunge_all()
    return list(rows), int(total or 0)
