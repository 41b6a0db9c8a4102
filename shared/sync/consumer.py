"""A syncer's consumer: ``labels.changed`` in, micro-batched incremental syncs out.

Changed customer keys gather until the flush size (``META_FLUSH_SIZE``) or the flush age
(``META_FLUSH_SECONDS``) after the first one (checked on every batch and when a poll comes back
empty), then every destination is synced for just those customers. Offsets are committed as
messages are gathered, so keys still pending at a crash are not redelivered: the full sync at
start (``META_SYNC_ON_START``) and the nightly full sync compare everyone against the ledger and pick them up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from prometheus_client import Counter
from sqlalchemy.exc import OperationalError

from shared.bus.consumer import DeadLetter, Delivery, is_infrastructure
from shared.bus.envelope import InvalidMessage
from shared.log import get_logger
from shared.messages import LabelChanged
from shared.sync.outcome import RunReport
from shared.sync.status import KEEP_PENDING

log = get_logger(__name__)
FLUSHES = Counter("audiencesync_sync_flushes_total", "Micro-batch flushes", ["platform", "outcome"])


class MicroBatch:
    """Customer keys waiting for an incremental sync; flushed on size or age."""

    def __init__(
        self,
        sync: Callable[[frozenset[str]], list[RunReport]],
        *,
        size: int,
        seconds: float,
        platform: str = "meta",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sync, self.size, self.seconds, self.clock = sync, size, seconds, clock
        self.platform = platform
        self.pending: set[str] = set()
        self.since: float | None = None

    def add(self, keys: Sequence[str]) -> None:
        """Gather keys; the age counts from the first pending key."""
        if keys and self.since is None:
            self.since = self.clock()
        self.pending.update(keys)

    def due(self) -> bool:
        """Whether enough keys have gathered, or the oldest has waited long enough."""
        if not self.pending or self.since is None:
            return False
        return len(self.pending) >= self.size or self.clock() - self.since >= self.seconds

    def flush(self) -> list[RunReport]:
        """Sync the pending keys; keep them when a destination could not finish for now."""
        keys = frozenset(self.pending)
        reports = self.sync(keys)
        if any(r.status in KEEP_PENDING for r in reports):
            # Throttled, unavailable or locked by another run: the keys wait one more interval
            # rather than be dropped (a permanent error is recorded on its run and not retried).
            FLUSHES.labels(self.platform, "deferred").inc()
            self.since = self.clock()
            return reports
        FLUSHES.labels(self.platform, "done").inc()
        self.pending.difference_update(keys)
        self.since = self.clock() if self.pending else None
        return reports

    def try_flush(self) -> None:
        """Flush for the consumer; a failure that is no one message's fault keeps the keys."""
        try:
            self.flush()
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            # The flush syncs every pending key, not one batch's messages: handing the error
            # to the runner would dead-letter innocent messages. The keys wait one interval,
            # like a throttled destination's, and the error is logged with its traceback.
            FLUSHES.labels(self.platform, "failed").inc()
            log.error("sync.flush_failed", platform=self.platform, error=type(exc).__name__, exc_info=exc)
            self.since = self.clock()

    def on_idle(self) -> None:
        """Called by the runner when a poll returns nothing: flush if the interval has passed."""
        if not self.due():
            return
        try:
            self.try_flush()
        except OperationalError as exc:
            # Database busy or failing over: keep the keys and try at the next idle poll.
            FLUSHES.labels(self.platform, "database_error").inc()
            log.warning("sync.flush_deferred", platform=self.platform, error=str(exc.orig))


def make_handler(batch: MicroBatch) -> Callable[[Sequence[Delivery]], list[DeadLetter]]:
    """The runner's handler: decode, gather, flush when due."""

    def handle(deliveries: Sequence[Delivery]) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        keys: list[str] = []
        for delivery in deliveries:
            if delivery.envelope.type != LabelChanged.TYPE:
                letters.append(
                    DeadLetter.of(
                        delivery, f"syncer-{batch.platform} does not handle {delivery.envelope.type!r}"
                    )
                )
                continue
            try:
                keys.append(LabelChanged.from_envelope(delivery.envelope).customer_key)
            except InvalidMessage as exc:
                letters.append(DeadLetter.of(delivery, exc.reason, exc.field_path))
        batch.add(keys)
        if batch.due():
            batch.try_flush()  # database errors go to the runner, which retries the batch
        return letters

    return handle
