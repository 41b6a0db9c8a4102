"""Composition root of the scheduler: the nightly refresh at its cron time, and the sync worker.

Every ``POLL`` seconds until SIGTERM: if a refresh is due (``REFRESH_CRON`` in
``REFRESH_TIMEZONE``; a slot missed while down is caught up once) it is taken under the database
lock and run; every ``ALERT_CHECK_SECONDS`` the alerts are checked (docs/alerts.md); then
waiting sync requests (``POST /syncs``, the refresh's) are carried out one by one. Any number of
replicas may run: the database decides who refreshes, who syncs what and who sends an alert.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services.alerts.check import check_alerts
from services.scheduler import refresh
from services.scheduler.refresh import RefreshResult, Trigger
from services.scheduler.schedule import due_slot, next_slot
from services.scheduler.worker import Worker
from shared.bus.consumer import install_stop_signals
from shared.config import Settings
from shared.log import get_logger
from shared.runtime import serve_metrics
from shared.store.db import Store

log = get_logger(__name__)

POLL = 5.0  # seconds between looks at the clock and the request queue
ON_TIME = timedelta(minutes=5)  # a slot refreshed later than this after its time was caught up


class Scheduler:
    """Decides when a refresh is due and runs it; the clock is injected for tests."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        owner: str | None = None,
        rescore_stage: Callable[[Settings, Callable[[], bool]], None] = refresh.rescore,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings, self.store, self.clock = settings, store, clock
        self.stop = stop or threading.Event()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.rescore_stage = rescore_stage
        self.started_at = clock()

    def tick(self) -> RefreshResult | None:
        """Refresh if a slot is due (and this replica wins it); what it did, or None."""
        now = self.clock()
        cron, zone = self.settings.refresh_cron, self.settings.refresh_timezone
        slot = due_slot(cron, zone, now, refresh.baseline(self.store, now, self.started_at))
        if slot is None:
            return None
        trigger = Trigger.CRON if now - slot <= ON_TIME else Trigger.CATCH_UP
        return refresh.run_refresh(
            self.settings,
            self.store,
            slot,
            self.owner,
            trigger,
            now=now,
            rescore_stage=self.rescore_stage,
            stopping=self.stop.is_set,
        )

    def next_refresh(self) -> datetime:
        """When the next slot is."""
        return next_slot(self.settings.refresh_cron, self.settings.refresh_timezone, self.clock())


def serve(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Refresh on schedule and carry out sync requests until stopped."""
    stop = stop or threading.Event()
    install_stop_signals(stop)
    store = Store(settings.database_url)
    scheduler = Scheduler(settings, store, stop=stop)
    worker = Worker(settings, store, stop=stop)
    log.info(
        "service.started",
        service="scheduler",
        cron=settings.refresh_cron,
        timezone=settings.refresh_timezone,
        next_refresh=scheduler.next_refresh().isoformat(),
    )
    stop_metrics = serve_metrics(settings, "scheduler")
    try:
        while not stop.is_set():
            try:
                scheduler.tick()
                check_alerts(store, settings, scheduler.clock())  # never raises; once per ALERT_CHECK_SECONDS
                while not stop.is_set() and worker.step() is not None:
                    pass
            except Exception as exc:  # logged; the next poll tries again (the database may be back)
                log.error("scheduler.step_failed", error=f"{type(exc).__name__}: {exc}"[:500])
            stop.wait(POLL)
    finally:
        stop_metrics()
        store.dispose()
        log.info("service.stopped", service="scheduler")
