"""The nightly refresh: rescore everyone, then sync every audience on every platform it declares.

At most one refresh runs at a time across replicas: a refresh is a ``scheduled_refreshes`` row
keyed by the cron slot it serves, so two replicas reaching the same slot race on one primary key
and exactly one inserts it; and a refresh is not started while another is still running with a
recent beat. The sync stage queues one sync request per audience and platform (the same requests
``POST /syncs`` writes); an audience already syncing is skipped and said so, not waited for.
"""

from __future__ import annotations

import enum
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

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
STALE_AFTER = timedelta(hours=6)  # a running refresh that has not beaten for this long is dead


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


def last_served(store: Store) -> datetime | None:
    """The newest slot any refresh served (or is serving)."""
    with store.session() as session:
        found: datetime | None = session.scalar(select(func.max(ScheduledRefresh.slot)))
        return found


def take(store: Store, slot: datetime, owner: str, trigger: Trigger, now: datetime) -> bool:
    """Claim ``slot`` for ``owner``; False when another refresh has it or is still running."""
    try:
        with store.transaction() as session:
            running = session.scalar(
                select(func.count())
                .select_from(ScheduledRefresh)
                .where(
                    ScheduledRefresh.status == "running", ScheduledRefresh.heartbeat_at > now - STALE_AFTER
                )
            )
            if running:
                return False
            session.add(
                ScheduledRefresh(
                    slot=slot,
                    owner=owner,
                    trigger=trigger,
                    started_at=now,
                    heartbeat_at=now,
                    status="running",
                )
            )
    except IntegrityError:
        return False  # another replica took this slot first
    return True


def end(store: Store, slot: datetime, status: str, message: str | None = None) -> None:
    """Record how the refresh of ``slot`` ended."""
    now = datetime.now(UTC)
    with store.transaction() as session:
        session.execute(
            update(ScheduledRefresh)
            .where(ScheduledRefresh.slot == slot)
            .values(status=status, finished_at=now, heartbeat_at=now, message=message)
        )


def rescore(settings: Settings) -> None:
    """Stage 1: ``audiencesync score --all`` (the scorer's own command; it announces changes)."""
    subprocess.run(
        [sys.executable, "-m", "services.cli.main", "score", "--all"],
        env=settings.child_environ(),
        check=True,
        capture_output=True,
        text=True,
    )


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


def run_refresh(
    settings: Settings,
    store: Store,
    slot: datetime,
    owner: str,
    trigger: Trigger,
    *,
    now: datetime | None = None,
    rescore_stage: Callable[[Settings], None] = rescore,
    on_stage: Callable[[str], None] | None = None,
    mode: str = "delta",
) -> RefreshResult | None:
    """Take ``slot`` and refresh: None when another refresh has it."""
    now = now or datetime.now(UTC)
    if not take(store, slot, owner, trigger, now):
        log.info("refresh.skipped", slot=slot.isoformat(), reason="taken or another refresh running")
        return None
    result = RefreshResult(slot)
    log.info("refresh.started", slot=slot.isoformat(), trigger=trigger.value, owner=owner)
    try:
        if on_stage:
            on_stage("rescore")
        rescore_stage(settings)
        result.rescored = True
        if on_stage:
            on_stage("sync")
        result.request_ids, result.skipped = queue_syncs(settings, store, mode)
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
