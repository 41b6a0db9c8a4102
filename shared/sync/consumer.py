"""A syncer's consumer: ``labels.changed`` in, durable pending keys, syncs in a worker thread.

The poll loop only decodes messages and notes their customer keys in ``sync_pending`` (one
transaction, before the runner marks the messages handled and commits their offsets), so it
never waits on a platform. A worker thread beside it syncs the pending keys once the flush size
(``META_FLUSH_SIZE``) has gathered or the oldest key has waited the flush age
(``META_FLUSH_SECONDS``), and forgets them only after a sync that covered them succeeded:

- a crash at any point loses no change: the keys are in the database until synced;
- a platform call that lasts minutes (a throttle wait) runs outside the poll loop, so the
  consumer keeps polling within kafka-python's ``max_poll_interval_ms`` and is never evicted
  from its group (which would redeliver and rebalance while the sync goes on).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from prometheus_client import Counter, Gauge

from shared.bus import topics
from shared.bus.consumer import DeadLetter, Delivery, Handler, is_infrastructure
from shared.bus.envelope import InvalidMessage
from shared.bus.producer import Publisher
from shared.config import Settings
from shared.log import get_logger
from shared.messages import LabelChanged
from shared.runtime import ConsumerService, run_consumer_service
from shared.store.db import Store
from shared.sync.outcome import RunReport, SyncOptions
from shared.sync.pending import PendingKeys, SqlPendingKeys
from shared.sync.service import Syncer
from shared.sync.status import KEEP_PENDING

log = get_logger(__name__)
FLUSHES = Counter("audiencesync_sync_flushes_total", "Pending-key flushes", ["platform", "outcome"])
PENDING = Gauge("audiencesync_sync_pending_keys", "Customer keys noted and not yet synced", ["platform"])
CLAIM = 100_000  # keys synced in one flush at most; the rest stay due for the next one
NS = 1_000_000_000

Sync = Callable[[frozenset[str]], list[RunReport]]


class PendingSyncs:
    """The worker: syncs pending keys when due, drains them when every destination took them."""

    def __init__(
        self,
        sync: Sync,
        pending: PendingKeys,
        *,
        size: int,
        seconds: float,
        platform: str,
        clock_ns: Callable[[], int] = time.time_ns,
        claim: int = CLAIM,
    ) -> None:
        self.sync, self.pending, self.size, self.seconds = sync, pending, size, seconds
        self.platform, self.clock_ns, self.claim = platform, clock_ns, claim
        self.held_until = 0  # after a deferral or failure: no flush before this (ns)

    def due(self) -> bool:
        """Whether enough keys have gathered, or the oldest has waited long enough."""
        now = self.clock_ns()
        if now < self.held_until:
            return False
        count, oldest = self.pending.state()
        PENDING.labels(self.platform).set(count)
        if not count or oldest is None:
            return False
        return count >= self.size or now - oldest >= self.seconds * NS

    def flush(self) -> list[RunReport]:
        """Sync the pending keys; keep them when a destination could not finish for now."""
        claimed = self.pending.claim(self.claim)
        if not claimed:
            return []
        reports = self.sync(frozenset(claimed))
        if any(r.status in KEEP_PENDING for r in reports):
            # Throttled, unavailable or locked by another run: the keys wait one more interval
            # rather than be dropped (a permanent error is recorded on its run and not retried).
            FLUSHES.labels(self.platform, "deferred").inc()
            self._hold()
            return reports
        FLUSHES.labels(self.platform, "done").inc()
        self.pending.drain(claimed)
        return reports

    def tick(self) -> None:
        """Flush if due; a failure keeps the keys for the next interval and never kills the worker."""
        try:
            if self.due():
                self.flush()
        except Exception as exc:
            self._hold()
            if is_infrastructure(exc):
                # Database busy or failing over, broker or network: the keys are safe, try later.
                FLUSHES.labels(self.platform, "database_error").inc()
                log.warning("sync.flush_deferred", platform=self.platform, error=type(exc).__name__)
                return
            # No single message is at fault (the flush syncs every pending key): counted, logged
            # with its traceback, and the keys wait one interval like a throttled destination's.
            FLUSHES.labels(self.platform, "failed").inc()
            log.error("sync.flush_failed", platform=self.platform, error=type(exc).__name__, exc_info=exc)

    def run(self, stop: threading.Event, interval: float = 0.25) -> None:
        """Tick until ``stop`` is set (the consumer's own stop event)."""
        while not stop.is_set():
            self.tick()
            stop.wait(interval)

    def _hold(self) -> None:
        self.held_until = self.clock_ns() + int(self.seconds * NS)


def make_handler(pending: PendingKeys, platform: str) -> Handler:
    """The runner's handler: decode, note the keys durably; never calls a platform."""

    def handle(deliveries: Sequence[Delivery]) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        keys: list[str] = []
        for delivery in deliveries:
            if delivery.envelope.type != LabelChanged.TYPE:
                letters.append(
                    DeadLetter.of(delivery, f"syncer-{platform} does not handle {delivery.envelope.type!r}")
                )
                continue
            try:
                keys.append(LabelChanged.from_envelope(delivery.envelope).customer_key)
            except InvalidMessage as exc:
                letters.append(DeadLetter.of(delivery, exc.reason, exc.field_path))
        pending.note(keys)  # database errors go to the runner, which retries the batch
        return letters

    return handle


def syncer_service(
    *,
    name: str,
    platform: str,
    build: Callable[[Store], Syncer],
    flush_size: int,
    flush_seconds: float,
) -> ConsumerService:
    """A syncer's consumer declaration: ``labels.changed`` noted durably, synced by a worker thread.

    ``build`` makes the platform's ``SyncService`` over the runner's store (called once, in the
    worker thread's set-up); it is closed when the consumer stops.
    """

    def handler(store: Store, _publisher: Publisher) -> Handler:
        return make_handler(SqlPendingKeys(store, platform), platform)

    def worker(store: Store, stop: threading.Event) -> None:
        service = build(store)
        try:

            def sync(keys: frozenset[str]) -> list[RunReport]:
                return service.sync(SyncOptions(scope=keys, record_noop=False))

            syncs = PendingSyncs(
                sync,
                SqlPendingKeys(store, platform),
                size=flush_size,
                seconds=flush_seconds,
                platform=platform,
            )
            syncs.run(stop)
        finally:
            service.close()

    return ConsumerService(
        name=name,
        topics=(topics.LABELS_CHANGED,),
        heartbeat_forward_to=None,
        make_handler=handler,
        background=worker,
    )


def serve_syncer(
    settings: Settings,
    consumer: ConsumerService,
    build: Callable[[Store], Syncer],
    *,
    platform: str,
    configured: bool,
    sync_on_start: bool,
    hint: str,
) -> None:
    """Run a syncer until SIGTERM: first a full sync (drift while no syncer ran), then the consumer.

    Keys noted but not yet synced when the last process died are in ``sync_pending`` and go
    with the consumer's first flush. Without any account configured (``configured``) labels are
    consumed and nothing is sent; ``hint`` says which variables to set.
    """
    if not configured:
        log.warning("sync.no_accounts", platform=platform, hint=hint)
    elif sync_on_start:
        store = Store(settings.database_url)
        syncer = build(store)
        try:
            for report in syncer.sync(SyncOptions(record_noop=False)):
                log.info(
                    "sync.full_sync",
                    platform=platform,
                    audience=report.audience,
                    account=report.account,
                    status=report.status,
                )
        finally:
            syncer.close()
            store.dispose()
    run_consumer_service(consumer, settings)
