"""The nightly refresh under an injected clock, its database lock across replicas, and the sync worker."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.scheduler import refresh
from services.scheduler.bootstrap import Scheduler
from services.scheduler.child import STOPPED, run_beating
from services.scheduler.refresh import Trigger
from services.scheduler.worker import Worker
from shared.config import Settings
from shared.store import sync_requests
from shared.store.db import Store
from shared.store.models import ScheduledRefresh, SyncRequest

pytestmark = pytest.mark.integration


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _scheduler(store: Store, clock: Clock, owner: str, rescored: list[str] | None = None) -> Scheduler:
    settings = Settings(database_url=store.url, refresh_cron="0 2 * * *", refresh_timezone="UTC")
    seen = rescored if rescored is not None else []
    return Scheduler(settings, store, clock=clock, owner=owner, rescore_stage=lambda *_: seen.append(owner))


def _refreshes(store: Store) -> list[tuple[datetime, str, str]]:
    with store.session() as session:
        rows = session.scalars(select(ScheduledRefresh).order_by(ScheduledRefresh.slot)).all()
        return [(r.slot, r.trigger, r.status) for r in rows]


def test_the_refresh_fires_at_its_cron_time_and_queues_every_audience(store: Store) -> None:
    clock, rescored = Clock(datetime(2026, 3, 1, 1, 50, tzinfo=UTC)), []
    scheduler = _scheduler(store, clock, "replica-a", rescored)
    assert scheduler.tick() is None
    clock.now = datetime(2026, 3, 1, 2, 0, 20, tzinfo=UTC)
    result = scheduler.tick()
    assert result is not None and rescored == ["replica-a"]
    with store.session() as session:
        slots = {(r.audiences[0], r.destinations[0], r.mode) for r in session.scalars(select(SyncRequest))}
    # The packaged definitions: icp_seed (meta, google), abandoned_checkout_retarget (meta), exclusion (both).
    assert slots == {
        ("icp_seed", "meta", "delta"),
        ("icp_seed", "google", "delta"),
        ("abandoned_checkout_retarget", "meta", "delta"),
        ("negative_icp_exclusion", "meta", "delta"),
        ("negative_icp_exclusion", "google", "delta"),
    }
    assert _refreshes(store) == [(datetime(2026, 3, 1, 2, tzinfo=UTC), Trigger.CRON, "succeeded")]
    clock.now += timedelta(minutes=10)
    assert scheduler.tick() is None  # the slot is served


def test_two_replicas_never_run_the_same_refresh(store: Store) -> None:
    clock, rescored = Clock(datetime(2026, 3, 1, 1, 0, tzinfo=UTC)), []
    replicas = [_scheduler(store, clock, f"replica-{n}", rescored) for n in range(4)]
    clock.now = datetime(2026, 3, 1, 2, 0, 5, tzinfo=UTC)
    barrier, results = threading.Barrier(len(replicas)), []

    def tick(replica: Scheduler) -> None:
        barrier.wait()
        results.append(replica.tick())

    threads = [threading.Thread(target=tick, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1 and len(rescored) == 1
    assert len(_refreshes(store)) == 1


def test_a_refresh_missed_during_downtime_is_caught_up_once(store: Store) -> None:
    clock = Clock(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    first = _scheduler(store, clock, "before-downtime")
    clock.now = datetime(2026, 3, 1, 2, 1, tzinfo=UTC)
    assert first.tick() is not None
    # Down for three nights; back at 09:30 on the 4th.
    clock.now = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    rescored: list[str] = []
    back = _scheduler(store, clock, "after-downtime", rescored)
    assert back.tick() is not None and back.tick() is None
    assert rescored == ["after-downtime"]
    assert [(slot.day, trigger) for slot, trigger, _ in _refreshes(store)] == [
        (1, Trigger.CRON),
        (4, Trigger.CATCH_UP),
    ]


def _fake_sync(outputs: dict[tuple[str, str], tuple[int, str, str]]) -> Callable[..., tuple[int, str, str]]:
    """Stands in for the syncer processes (an external command): answers by platform and audience."""

    def run(argv: list[str], go_on: Callable[[], bool]) -> tuple[int, str, str]:
        platform, audience = argv[argv.index("sync") + 1], argv[argv.index("--audience") + 1]
        return outputs[(platform, audience)]

    return run


def test_the_worker_records_runs_and_reports_a_platform_without_a_syncer(store: Store) -> None:
    run = {"audience": "icp_seed", "account": "act_1", "status": "succeeded", "run_id": 41, "message": None}
    fake = _fake_sync(
        {
            ("meta", "icp_seed"): (0, "progress line\n" + json.dumps(run) + "\n", ""),
            ("google", "icp_seed"): (
                2,
                "",
                "audiencesync sync: error: argument ACTION: invalid choice: 'google'",
            ),
        }
    )
    request_id = sync_requests.create(store, [("icp_seed", "meta"), ("icp_seed", "google")], "delta", "ops")
    worker = Worker(Settings(database_url=store.url), store, name="w1", run=fake)
    assert worker.step() == request_id and worker.step() is None
    done = sync_requests.get(store, request_id)
    assert done is not None and done["status"] == "succeeded" and done["run_ids"] == [41]
    assert [(r["platform"], r["status"]) for r in done["results"]] == [
        ("meta", "succeeded"),
        ("google", "unavailable"),
    ]
    # The audience is free again, and only the ended request counts as finished.
    later = sync_requests.create(store, [("icp_seed", "meta")], "delta", "ops")
    assert later > request_id
    assert sync_requests.finished(store, [request_id, later]) == 1
    assert sync_requests.finished(store, []) == 0


def test_a_cancel_stops_the_running_command(store: Store) -> None:
    request_id = sync_requests.create(store, [("icp_seed", "meta")], "full", "ops")
    seen: list[list[str]] = []

    def slow(argv: list[str], go_on: Callable[[], bool]) -> tuple[int, str, str]:
        seen.append(argv)
        sync_requests.cancel(store, request_id, "ops")  # an operator cancels while it runs
        assert go_on() is False
        return -15, "", ""

    Worker(Settings(database_url=store.url), store, name="w1", run=slow).step()
    done = sync_requests.get(store, request_id)
    assert done is not None and done["status"] == "cancelled" and "--repair" in seen[0]


def test_the_worker_runs_the_real_sync_command(store: Store, tmp_path: Any) -> None:
    # No Meta account configured: the real command refuses with its own message, which is recorded.
    request_id = sync_requests.create(store, [("icp_seed", "meta")], "dry_run", "ops")
    settings = Settings(database_url=store.url, var_dir=tmp_path)
    Worker(settings, store, name="w1").step()
    done = sync_requests.get(store, request_id)
    assert done is not None and done["status"] == "failed"
    (result,) = done["results"]
    assert result["status"] == "error" and "META_ACCOUNTS" in result["message"]
    assert list((tmp_path / "run").glob("definitions-*.yaml")) == []  # kept only while the command ran


def test_commands_read_the_definitions_in_force_api_versions_included(store: Store, tmp_path: Any) -> None:
    from services.api.adapters import definitions
    from shared.definitions import load_definitions
    from shared.definitions.stored import write_effective

    definitions.put(
        store, "icp_seed", {"select": {"label": "icp", "min_value": 500}, "destinations": {"meta": {}}}, "a"
    )
    definitions.put(store, "vip_only", {"select": {"stage": "repeat"}, "destinations": {"google": {}}}, "a")
    written = load_definitions(write_effective(store, None, tmp_path / "run" / "definitions.yaml"))
    keys = [a.key for a in written.audiences]
    assert keys == ["icp_seed", "abandoned_checkout_retarget", "negative_icp_exclusion", "vip_only"]
    assert (
        written.audience("icp_seed").select.min_value == 500 and written.audience("icp_seed").google is None
    )
    assert written.audience("vip_only").google is not None


def test_a_refresh_whose_process_died_is_taken_over_and_one_stopped_is_caught_up(store: Store) -> None:
    clock = Clock(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    stop = threading.Event()
    beats: list[bool] = []

    def stopped_midway(_settings: Settings, go_on: Callable[[], bool]) -> None:
        beats.append(go_on())  # the rescore beats while it runs ...
        stop.set()  # ... until SIGTERM reaches the scheduler
        if not go_on():
            raise refresh.RefreshInterruptedError("the scheduler stopped during the rescore")

    first = Scheduler(
        Settings(database_url=store.url, refresh_cron="0 2 * * *", refresh_timezone="UTC"),
        store,
        clock=clock,
        owner="stopping",
        rescore_stage=stopped_midway,
        stop=stop,
    )
    clock.now = datetime(2026, 3, 1, 2, 0, 5, tzinfo=UTC)
    assert first.tick() is None and beats == [True]
    assert _refreshes(store) == [(datetime(2026, 3, 1, 2, tzinfo=UTC), Trigger.CRON, "interrupted")]
    with store.session() as session:
        row = session.get(ScheduledRefresh, datetime(2026, 3, 1, 2, tzinfo=UTC))
        assert row is not None and row.heartbeat_at > row.started_at  # the beat was recorded

    # A scheduler started after the slot still owes it (the only attempt was interrupted) ...
    clock.now = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    rescored: list[str] = []
    back = _scheduler(store, clock, "restarted", rescored)
    assert back.tick() is not None and rescored == ["restarted"]
    assert _refreshes(store) == [(datetime(2026, 3, 1, 2, tzinfo=UTC), Trigger.CATCH_UP, "succeeded")]

    # ... and a refresh whose process died mid-rescore (running, no beat since) stops blocking.
    clock.now = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    with store.transaction() as session:
        row = session.get(ScheduledRefresh, datetime(2026, 3, 1, 2, tzinfo=UTC))
        assert row is not None
        row.status, row.heartbeat_at = "running", clock.now - refresh.STALE_AFTER * 2
    assert _scheduler(store, clock, "survivor", rescored).tick() is not None
    assert rescored == ["restarted", "survivor"]
    assert [status for *_, status in _refreshes(store)] == ["succeeded"]


def test_a_worker_told_to_stop_puts_its_request_back_for_another(store: Store) -> None:
    request_id = sync_requests.create(store, [("icp_seed", "meta")], "delta", "ops")
    stop = threading.Event()

    def stopped(argv: list[str], go_on: Callable[[], bool]) -> tuple[int, str, str]:
        stop.set()  # the scheduler's SIGTERM while the command runs
        assert go_on() is False
        return STOPPED, "", ""

    Worker(Settings(database_url=store.url), store, name="w1", run=stopped, stop=stop).step()
    back = sync_requests.get(store, request_id)
    assert back is not None and back["status"] == "queued" and back["finished_at"] is None
    run = {"audience": "icp_seed", "account": "act_1", "status": "succeeded", "run_id": 7, "message": None}
    other = Worker(
        Settings(database_url=store.url),
        store,
        name="w2",
        run=_fake_sync({("meta", "icp_seed"): (0, json.dumps(run), "")}),
    )
    assert other.step() == request_id
    done = sync_requests.get(store, request_id)
    assert done is not None and done["status"] == "succeeded" and done["run_ids"] == [7]


def test_a_stopped_command_gets_sigterm_and_its_exit_is_reported() -> None:
    import sys
    import time

    calls: list[float] = []

    def go_on() -> bool:
        calls.append(time.monotonic())
        return len(calls) < 2

    argv = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"]
    code, stdout, _ = run_beating(argv, {}, go_on, beat=0.2)
    assert code == STOPPED and stdout.startswith("started") and len(calls) == 2
