"""The nightly refresh: rescore everyone, then sync every audience on every platform it declares.

At most one refresh runs at a time across replicas: a refresh is a ``scheduled_refreshes`` row
keyed by the cron slot it serves, so two replicas reaching the same slot race on one primary key
and exactly one inserts it; and a refresh is not started while another is still running with a
recent beat. The holder beats while its rescore runs, so a refresh whose process died is known
within ``STALE_AFTER``; it and one stopped by SIGTERM (``interrupted``) did not serve their slot,
which is then owed and caught up by the next scheduler to look. The sync stage queues one sync
request per audience and platform (the same requests ``POST /syncs`` writes); an audience already
syncing is skipped and said so, not waited for.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from services.scheduler.child import STOPPED, run_beating
from services.scheduler.worker import FINE
from shared.config import Settings
from shared.definitions.stored import load_effective
from shared.log import get_logger
from shared.store import sync_requests
from shared.store.audit import record
from shared.store.db import Store
from shared.store.models import ScheduledRefresh
from shared.store.sync_requests import PLATFORMS, AlreadySyncingError

log = get_logger(__name__)

ACTOR = "scheduler"
STALE_AFTER = timedelta(minutes=5)  # a running refresh that has not beaten for this long is dead
BEAT_SECONDS = 10.0  # a refresh's heartbeat while its rescore runs


class RefreshInterruptedError(Exception):
    """The rescore was stopped because the scheduler is stopping; the slot stays owed."""


class Trigger(enum.StrEnum):
    """Why a refresh ran."""

    CRON = "cron"
    CATCH_UP = "catch_up"
    MANUAL = "manual"


@dataclass
class RefreshResult:
    """What a refresh did: the requests it queued and the audiences it skipped."""

    slot: datetime
    request_ids: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rescored: bool = False


def _alive(now: datetime) -> ColumnElement[bool]:
    """A refresh row that still counts: ended, or running with a recent beat."""
    return or_(ScheduledRefresh.status != "running", ScheduledRefresh.heartbeat_at > now - STALE_AFTER)


def baseline(store: Store, now: datetime, started_at: datetime) -> datetime:
    """Slots after this are due: the newest slot a refresh served (or is serving, alive).

    A slot whose refresh was interrupted or died is still owed, so with nothing served since, the
    baseline is just before it. An installation that never tried a refresh starts at
    ``started_at``: slots before the scheduler first started were not missed.
    """
    with store.session() as session:
        served = session.scalar(
            select(func.max(ScheduledRefresh.slot)).where(
                ScheduledRefresh.status != "interrupted", _alive(now)
            )
        )
        if served is not None:
            return served
        owed = session.scalar(select(func.min(ScheduledRefresh.slot)))
        return started_at if owed is None else owed - timedelta(microseconds=1)


def take(store: Store, slot: datetime, owner: str, trigger: Trigger, now: datetime) -> bool:
    """Claim ``slot`` for ``owner``; False when another refresh has it or is still running.

    A row for ``slot`` left by an interrupted or dead refresh is taken over by a conditional
    UPDATE (of two replicas, one changes it); otherwise the INSERT on the slot's key decides.
    """
    claim = {"owner": owner, "trigger": trigger, "started_at": now, "heartbeat_at": now, "status": "running"}
    try:
        with store.transaction() as session:
            running = session.scalar(
                select(func.count())
                .select_from(ScheduledRefresh)
                .where(ScheduledRefresh.status == "running", _alive(now))
            )
            if running:
                return False
            if session.get(ScheduledRefresh, slot) is None:
                session.add(ScheduledRefresh(slot=slot, **claim))
                return True
            owed = or_(
                ScheduledRefresh.status == "interrupted",
                (ScheduledRefresh.status == "running") & (ScheduledRefresh.heartbeat_at <= now - STALE_AFTER),
            )
            taken = session.execute(
                update(ScheduledRefresh)
                .where(ScheduledRefresh.slot == slot, owed)
                .values(**claim, finished_at=None, message=None)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]
    except IntegrityError:
        return False  # another replica took this slot first


def beat(store: Store, slot: datetime, owner: str) -> None:
    """Record that ``owner`` is still refreshing ``slot``."""
    with store.transaction() as session:
        session.execute(
            update(ScheduledRefresh)
            .where(ScheduledRefresh.slot == slot, ScheduledRefresh.owner == owner)
            .values(heartbeat_at=datetime.now(UTC))
        )


def end(store: Store, slot: datetime, status: str, message: str | None = None) -> None:
    """Record how the refresh of ``slot`` ended."""
    now = datetime.now(UTC)
    with store.transaction() as session:
        session.execute(
            update(ScheduledRefresh)
            .where(ScheduledRefresh.slot == slot)
            .values(status=status, finished_at=now, heartbeat_at=now, message=message)
        )


def rescore(settings: Settings, go_on: Callable[[], bool]) -> None:
    """Stage 1: ``audiencesync score --all`` (the scorer's own command; it announces changes)."""
    argv = [sys.executable, "-m", "services.cli.main", "score", "--all"]
    code, _, stderr = run_beating(argv, settings.child_environ(), go_on, beat=BEAT_SECONDS)
    if code == STOPPED:
        raise RefreshInterruptedError("the scheduler stopped during the rescore")
    if code != 0:
        last = stderr.strip().splitlines()[-1:] or [f"exit code {code}"]
        raise RuntimeError(f"score --all failed: {last[0][:300]}")


def queue_syncs(settings: Settings, store: Store, mode: str = "delta") -> tuple[list[int], list[str]]:
    """Stage 2: one sync request per audience and platform it declares; busy ones are skipped."""
    queued, skipped = [], []
    for audience in load_effective(store, settings.config_file).audiences:
        for platform in PLATFORMS:
            if getattr(audience, platform) is None:
                continue
            try:
                queued.append(sync_requests.create(store, [(audience.key, platform)], mode, ACTOR))
            except AlreadySyncingError as exc:
                skipped.append(f"{audience.key}/{platform} (sync {exc.request_id} running)")
    return queued, skipped


@dataclass(frozen=True)
class SyncOutcome:
    """How one sync a refresh queued ended (or why an audience was skipped), as one line."""

    line: str  # "icp_seed meta succeeded", "icp_seed google error: ...", "skipped ..."
    ok: bool


def outcomes(store: Store, result: RefreshResult) -> list[SyncOutcome]:
    """Every queued sync's ending and every skipped audience (never ok: it was not synced).

    A request that ended without per-destination results (cancelled, or failed before its first
    slot) reads as its own status.
    """
    found: list[SyncOutcome] = []
    for request_id in result.request_ids:
        request = sync_requests.get(store, request_id) or {"audiences": ["?"], "status": "unknown"}
        fallback = {"audience": request["audiences"][0], "status": request["status"]}
        for item in request.get("results") or [fallback]:
            line = f"{item.get('audience')} {item.get('platform', '')} {item.get('status')}"
            message = item.get("message")
            found.append(SyncOutcome(line + (f": {message}" if message else ""), item.get("status") in FINE))
    return found + [SyncOutcome(f"skipped {skipped}", False) for skipped in result.skipped]


def run_refresh(
    settings: Settings,
    store: Store,
    slot: datetime,
    owner: str,
    trigger: Trigger,
    *,
    now: datetime | None = None,
    rescore_stage: Callable[[Settings, Callable[[], bool]], None] = rescore,
    on_stage: Callable[[str], None] | None = None,
    mode: str = "delta",
    stopping: Callable[[], bool] = lambda: False,
) -> RefreshResult | None:
    """Take ``slot`` and refresh: None when another refresh has it (or it was interrupted)."""
    now = now or datetime.now(UTC)
    if not take(store, slot, owner, trigger, now):
        log.info("refresh.skipped", slot=slot.isoformat(), reason="taken or another refresh running")
        return None
    result = RefreshResult(slot)
    log.info("refresh.started", slot=slot.isoformat(), trigger=trigger.value, owner=owner)
    try:
        if on_stage:
            on_stage("rescore")

        def go_on() -> bool:
            beat(store, slot, owner)
            return not stopping()

        rescore_stage(settings, go_on)
        result.rescored = True
        if on_stage:
            on_stage("sync")
        result.request_ids, result.skipped = queue_syncs(settings, store, mode)
    except (RefreshInterruptedError, KeyboardInterrupt) as exc:
        end(store, slot, "interrupted", str(exc) or "interrupted")
        log.warning("refresh.interrupted", slot=slot.isoformat())
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"[:500]
        end(store, slot, "failed", message)
        log.error("refresh.failed", slot=slot.isoformat(), error=message)
        raise
    with store.transaction() as session:
        details = {"trigger": trigger.value, "requests": result.request_ids, "skipped": result.skipped}
        record(session, owner, "refresh.queued", f"refresh:{slot.isoformat()}", details)
    end(store, slot, "succeeded", f"{len(result.request_ids)} syncs queued")
    log.info(
        "refresh.queued", slot=slot.isoformat(), requests=len(result.request_ids), skipped=result.skipped
    )
    return result
