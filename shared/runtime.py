"""Wiring shared by every consumer service: store, publisher, runner, signals, metrics port.

A service's ``bootstrap`` supplies its handler and topics; this module owns the rest once.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from dataclasses import dataclass

from shared.bus.consumer import ConsumerRunner, Handler, RunnerConfig, install_stop_signals
from shared.bus.producer import Publisher
from shared.config import Settings
from shared.log import get_logger
from shared.store.db import Store
from shared.store.messages import SqlDeadLetterSink, SqlSeenMessages

log = get_logger(__name__)


BACKGROUND_JOIN_SECONDS = 10.0  # a worker in a long platform wait is abandoned (daemon) after this


# Python collects its youngest generation every 700 new container objects by default: a
# process writing ingest batches allocates millions of short-lived rows while holding a poll's
# records, and the collections re-walked them all (40k generic rows on PostgreSQL, handler
# alone: writer CPU 5.5 -> 4.3 s). Cyclic garbage is rare there; it still goes, just later.
BATCH_GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc_for_batches() -> None:
    """Collect cyclic garbage less often, for a process that handles large batches."""
    gc.set_threshold(*BATCH_GC_THRESHOLDS)


def serve_metrics(settings: Settings, service: str) -> Callable[[], None]:
    """Serve this process's Prometheus metrics on ``METRICS_PORT`` (0.0.0.0); returns how to stop.

    The api has its own ``/metrics``; the workers (consumers, scheduler) have no HTTP server, so
    their counters (rows synced, messages dead-lettered, platform calls) reach a scraper only
    through this one. Off (a no-op) when ``METRICS_PORT`` is 0, as in the embedded stack.
    """
    if not settings.metrics_port:
        return lambda: None
    from prometheus_client import start_http_server

    server, thread = start_http_server(settings.metrics_port)
    log.info("metrics.serving", service=service, port=settings.metrics_port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


def _start_background(
    service: ConsumerService, store: Store, stop: threading.Event
) -> threading.Thread | None:
    """Start the service's background work; if it dies, the whole consumer stops loudly."""
    work = service.background
    if work is None:
        return None

    def guarded() -> None:
        try:
            work(store, stop)
        except BaseException:
            log.exception("service.background_failed", service=service.name)
            stop.set()  # the supervisor (or the orchestrator) restarts the process
            raise

    thread = threading.Thread(target=guarded, name=f"{service.name}-worker", daemon=True)
    thread.start()
    return thread


class StartupError(RuntimeError):
    """The service cannot start (no broker configured, database not migrated)."""


@dataclass
class ConsumerService:
    """What a consumer service declares: its group, input topics, next hop and handler factory."""

    name: str
    topics: tuple[str, ...]
    heartbeat_forward_to: str | None
    make_handler: Callable[[Store, Publisher], Handler]
    batch_size: int = 500
    make_on_idle: Callable[[Store, Publisher], Callable[[], None]] | None = None
    # Work beside the poll loop (a syncer's platform calls, which can outlast max_poll_interval_ms):
    # run in a thread with the runner's stop event; the process stops if it dies.
    background: Callable[[Store, threading.Event], None] | None = None
    max_poll_interval_ms: int = 300_000  # kafka-python's default: polls further apart leave the group


def run_consumer_service(
    service: ConsumerService,
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    install_signals: bool = True,
) -> None:
    """Run ``service`` in the foreground until SIGTERM/SIGINT (or ``stop`` is set)."""
    if not settings.kafka_bootstrap:
        raise StartupError(
            "KAFKA_BOOTSTRAP_SERVERS is not set (use `audiencesync up` for the embedded stack)"
        )
    store = Store(settings.database_url)
    publisher = Publisher(settings.kafka_bootstrap, client_id=service.name)
    runner = ConsumerRunner(
        RunnerConfig(
            name=service.name,
            topics=service.topics,
            bootstrap=settings.kafka_bootstrap,
            batch_size=service.batch_size,
            heartbeat_forward_to=service.heartbeat_forward_to,
            max_poll_interval_ms=service.max_poll_interval_ms,
            session_timeout_ms=settings.kafka_session_timeout_ms,
        ),
        service.make_handler(store, publisher),
        publisher=publisher,
        seen=SqlSeenMessages(store),
        dead_letters=SqlDeadLetterSink(store),
        on_idle=service.make_on_idle(store, publisher) if service.make_on_idle else None,
        service=service.name,
    )
    if stop is not None:
        runner.stop = stop
    if install_signals:
        install_stop_signals(runner.stop)
    log.info("service.started", service=service.name)
    stop_metrics = serve_metrics(settings, service.name)
    worker = _start_background(service, store, runner.stop)
    try:
        runner.run()
    finally:
        stop_metrics()
        runner.stop.set()
        if worker is not None:
            worker.join(timeout=BACKGROUND_JOIN_SECONDS)
        publisher.close()
        store.dispose()
        log.info("service.stopped", service=service.name)
