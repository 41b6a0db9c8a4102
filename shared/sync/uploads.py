"""Sending batches: write-ahead records, the platform's answer, acknowledgements.

A batch is recorded ``sent`` (with the adapter's reference, Meta's session id) before the
request and ``acknowledged`` with its ledger rows in one transaction after the platform's
answer, before the next batch goes. A crash therefore loses at most the batch in flight, whose
rows are still in the next diff; acknowledged batches never go again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from prometheus_client import Counter

from shared.log import get_logger
from shared.sync.batching import Batch
from shared.sync.diff import Direction
from shared.sync.ledger import Ledger
from shared.sync.ports import AudiencePlatform

log = get_logger(__name__)
ROWS = Counter(
    "audiencesync_sync_rows_total", "Rows the platform acknowledged", ["platform", "account", "direction"]
)
INVALID = Counter(
    "audiencesync_sync_invalid_entries_total", "Rows the platform reported invalid", ["platform", "account"]
)


@dataclass(frozen=True)
class Progress:
    """Reported after each acknowledged batch (CLI progress, tests watching a run)."""

    run_id: int
    seq: int
    direction: Direction
    rows: int
    last: bool


@dataclass
class RunContext:
    """One run's state while it sends: where, and its counters."""

    run_id: int
    destination_id: int
    audience_id: str
    seq: int = 0
    prior_calls: int = 0  # calls made before a resume
    calls_at_start: int = 0
    planned: dict[Direction, int] = field(default_factory=dict)  # rows per direction, when known
    acknowledged: int = 0  # batches acknowledged by this process


class Uploader:
    """Sends batches of one run to the platform and records them in the ledger."""

    def __init__(
        self, ledger: Ledger, platform: AudiencePlatform, on_batch: Callable[[Progress], None] | None = None
    ) -> None:
        self.ledger, self.platform, self.on_batch = ledger, platform, on_batch

    def api_calls(self, ctx: RunContext) -> int:
        """Calls this run has made, across resumes."""
        return ctx.prior_calls + self.platform.calls - ctx.calls_at_start

    def send(self, ctx: RunContext, batch: Batch) -> None:
        """Record, send, acknowledge one batch."""
        ctx.seq += 1
        reference = self.platform.reference(ctx.audience_id, batch.direction)
        batch_id = self.ledger.record_sent(ctx.run_id, ctx.seq, batch, reference)
        receipt = self.platform.send(
            ctx.audience_id, replace(batch, planned=ctx.planned.get(batch.direction))
        )
        platform, account = self.platform.platform, self.platform.account_id
        if receipt.invalid_count:
            # One bad row never fails a batch: the platform applied the valid rows; the invalid
            # ones are mapped to their customers and kept on the run for ad-ops to fix at the source.
            INVALID.labels(platform, account).inc(receipt.invalid_count)
            log.warning(
                "sync.invalid_entries",
                platform=platform,
                run=ctx.run_id,
                batch=ctx.seq,
                invalid=receipt.invalid_count,
            )
        self.ledger.acknowledge(
            run_id=ctx.run_id,
            batch_id=batch_id,
            destination_id=ctx.destination_id,
            batch=batch,
            receipt=receipt,
            api_calls=self.api_calls(ctx),
        )
        ctx.acknowledged += 1
        ROWS.labels(platform, account, batch.direction.value).inc(len(batch))
        if self.on_batch is not None:
            self.on_batch(Progress(ctx.run_id, ctx.seq, batch.direction, len(batch), batch.last))
