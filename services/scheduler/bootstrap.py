"""Composition root of the scheduler: waits for the nightly refresh time until SIGTERM.

The refresh itself (rescore, resync) arrives with the scorer and syncers; until then the
scheduler only keeps time and logs when the next refresh is due.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

from shared.bus.consumer import install_stop_signals
from shared.config import Settings
from shared.log import get_logger

log = get_logger(__name__)

NIGHTLY_AT = time(2, 0, tzinfo=UTC)


def next_run(now: datetime, at: time = NIGHTLY_AT) -> datetime:
    """The next time ``at`` strictly after ``now``."""
    candidate = datetime.combine(now.date(), at)
    return candidate if candidate > now else candidate + timedelta(days=1)


def serve(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Wait for the next nightly refresh until stopped."""
    stop = stop or threading.Event()
    install_stop_signals(stop)
    log.info("service.started", service="scheduler", next_refresh=next_run(datetime.now(UTC)).isoformat())
    while not stop.wait(timeout=60):
        pass
    log.info("service.stopped", service="scheduler")
