"""Composition root of the api service: the flask app behind waitress, stopped by a flag.

Server limits (docs/architecture.md, "HTTP server limits"), chosen so idle or slow sockets cannot
starve webhooks and probes:
- ``connection_limit`` 1,000 open sockets (waitress's default of 100 let 120 idle clients block
  every request); the process's open-file limit is raised to fit when the hard limit allows.
- ``channel_timeout`` 15 s: a socket with no request in progress and no activity for that long is
  closed (checked every ``cleanup_interval`` 5 s; waitress's default was 120 s every 30 s).
- ``max_request_body_size`` just above the app's ``MAX_CONTENT_LENGTH``: the app answers 413 in
  its own error shape; anything far larger is refused before waitress buffers it to disk.
- ``max_request_header_size`` 64 KiB; ``threads`` 16 request threads; ``backlog`` 1,024.
- a request still being received 20 s after it began is closed (``ReadDeadlines``): waitress
  has no such limit, and sockets that send a header byte a second are never idle.

Stopping: SIGTERM/SIGINT only set an event. The loop runs waitress's poll in steps of
``LOOP_STEP`` and checks it; then the listening socket closes (new connections are refused),
requests in progress get up to ``DRAIN_SECONDS`` to finish and flush, request threads up to
``THREAD_GRACE`` more, the outbox relay and the producer ``CLOSE_GRACE``: under 10 s in all.
Raising from the handler instead (as before) was caught by waitress's per-socket error handling
whenever the signal landed inside a socket handler, so the server kept serving; and closing the
wake-up pipe while request threads still pulled it could write into whatever file reused its
descriptor number.
"""

from __future__ import annotations

import resource
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from shared.config import Settings
from shared.log import get_logger
from shared.messages import MAX_RAW_BODY_BYTES

log = get_logger(__name__)

CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT = 15  # seconds an idle socket stays open
CLEANUP_INTERVAL = 5  # seconds between idle-socket sweeps
THREADS = 16
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = MAX_RAW_BODY_BYTES + (1 << 20)  # headroom so the app's 413 (JSON) answers first
SPARE_FILES = 256  # descriptors beside the sockets: database, broker, logs, temp files
LOOP_STEP = 0.2  # seconds: the longest the loop waits before it sees the stop flag
DRAIN_SECONDS = 4.0  # requests in progress at SIGTERM get this long to finish
THREAD_GRACE = 1.5  # then request threads get this long to end
CLOSE_GRACE = 2.0  # then the outbox relay's last pass and the producer get this long
REQUEST_READ_SECONDS = 20.0  # a request still arriving after this long is closed (slowloris)


def server_options(connection_limit: int = CONNECTION_LIMIT) -> dict[str, Any]:
    """waitress adjustments (see the module docstring for why each value)."""
    return {
        "threads": THREADS,
        "connection_limit": connection_limit,
        "channel_timeout": CHANNEL_TIMEOUT,
        "cleanup_interval": CLEANUP_INTERVAL,
        "max_request_header_size": MAX_HEADER_BYTES,
        "max_request_body_size": MAX_BODY_BYTES,
        "backlog": 1024,
        "asyncore_use_poll": True,  # select() fails on descriptors above 1,024
        "clear_untrusted_proxy_headers": True,
        "ident": "audiencesync",
    }


def fit_connection_limit(wanted: int = CONNECTION_LIMIT) -> int:
    """Raise the open-file soft limit for ``wanted`` sockets if allowed; return the limit that fits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    fitted = max(100, soft - SPARE_FILES)
    log.warning("api.connection_limit_lowered", wanted=wanted, limit=fitted, open_files=soft)
    return fitted


def install_stop_flag(stop: threading.Event) -> dict[str, int]:
    """Set ``stop`` on SIGTERM/SIGINT; the handler does nothing else (no I/O, no raising).

    Returns where the received signal number is recorded, for logging after the loop ends.
    """
    received: dict[str, int] = {}

    def _handler(signum: int, _frame: Any) -> None:
        received.setdefault("signal", signum)
        if not stop.is_set():
            stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return received


def run_until_stopped(
    server: Any, stop: threading.Event, *, on_stop: Callable[[], None] | None = None
) -> None:
    """Drive waitress's loop until ``stop`` is set, call ``on_stop``, then drain and close."""
    deadlines = ReadDeadlines()
    while not stop.is_set():
        server.asyncore.loop(timeout=LOOP_STEP, map=server._map, use_poll=True, count=1)
        deadlines.sweep(server, time.monotonic())
    if on_stop is not None:
        on_stop()
    shutdown(server)


class ReadDeadlines:
    """Close sockets whose request is still being *received* ``REQUEST_READ_SECONDS`` after it began.

    waitress's ``channel_timeout`` closes only idle sockets; a client that sends a header byte a
    second is never idle, and 1,000 of them held every connection slot for minutes (a slowloris).
    A webhook of 5 MiB arrives in well under a second on any real link, so a request that takes
    longer than this to arrive is not one we want.
    """

    def __init__(self, seconds: float = REQUEST_READ_SECONDS) -> None:
        self.seconds = seconds
        self.started: dict[int, tuple[Any, float]] = {}  # channel fileno -> (request, first seen)
        self.last_sweep = 0.0

    def sweep(self, server: Any, now: float) -> None:
        """Once a second: note requests in progress, close the channels of those past the deadline."""
        if now - self.last_sweep < 1.0:
            return
        self.last_sweep = now
        seen: dict[int, tuple[Any, float]] = {}
        for fileno, channel in list(server.active_channels.items()):
            request = getattr(channel, "request", None)
            if request is None or request.completed:
                continue
            first = self.started.get(fileno)
            since = first[1] if first is not None and first[0] is request else now
            seen[fileno] = (request, since)
            if now - since > self.seconds and not channel.will_close:
                log.warning("api.slow_request_closed", seconds=round(now - since, 1))
                channel.will_close = True  # closed by waitress at its next write pass
        self.started = seen


def shutdown(server: Any, *, drain: float = DRAIN_SECONDS, thread_grace: float = THREAD_GRACE) -> None:
    """Refuse new connections, let requests in progress finish for ``drain`` seconds, then close.

    Idle keep-alive sockets are closed once their output is flushed, so clients cannot keep a
    draining server busy with new requests on old connections.
    """
    wasyncore = server.asyncore
    wasyncore.dispatcher.close(server)  # the listening socket only; the wake-up pipe stays open
    deadline = time.monotonic() + drain
    while server.active_channels and time.monotonic() < deadline:
        for channel in list(server.active_channels.values()):
            if not channel.requests:  # nothing being served: close once flushed, read no more
                channel.close_when_flushed = True
        wasyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
    cut = len(server.active_channels)
    dispatcher = server.task_dispatcher
    dispatcher.shutdown(cancel_pending=True, timeout=thread_grace)
    running = len(dispatcher.threads)
    if running:
        # A request thread still running may write to its socket or pull the wake-up pipe:
        # closing them now would let their descriptor numbers be reused by another file and
        # written to. Leave them to the process exit, which follows.
        log.warning("api.drain_incomplete", connections=len(server.active_channels), threads=running)
        return
    wasyncore.close_all(server._map)
    log.info("api.drained", connections_cut=cut)


def _within(seconds: float, close: Callable[[], None], what: str) -> None:
    """Run ``close`` in a daemon thread and wait for it at most ``seconds``."""
    thread = threading.Thread(target=close, name=f"close-{what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        log.warning("api.close_incomplete", what=what, waited=seconds)


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Serve the api in the foreground until SIGTERM/SIGINT; readiness is checked meanwhile."""
    from waitress import create_server

    from services.api import health
    from services.api.app import create_app

    app = create_app(settings)
    readiness = health.Readiness(settings)
    health.attach(app, readiness)
    server: Any = create_server(
        app, host=host, port=port or settings.api_port, **server_options(fit_connection_limit())
    )
    stop = threading.Event()
    received = install_stop_flag(stop)
    readiness.start()
    if settings.kafka_bootstrap:
        # Deliveries accepted before a crash go out now, not when the next webhook arrives.
        app.extensions["audiencesync"].relay.wake()
    log.info("service.started", service="api", url=f"http://{host}:{server.effective_port}")
    try:
        run_until_stopped(server, stop, on_stop=readiness.stop)  # /readyz says 503 while draining
    finally:
        readiness.stop()
        # Accepted deliveries are already committed; what the relay does not publish now it
        # publishes after the next start, so its last pass gets a bounded wait, not a blocking one.
        _within(CLOSE_GRACE, app.extensions["audiencesync"].close, "resources")
        readiness.join(timeout=1.0)
        name = signal.Signals(received["signal"]).name if "signal" in received else None
        log.info("service.stopped", service="api", signal=name)
