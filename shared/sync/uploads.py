"""Sending batches: Meta upload sessions per direction, write-ahead records, acknowledgements.

A batch is recorded ``sent`` before the request and ``acknowledged`` with its ledger rows in one
transaction after Meta's answer, before the next batch goes. A crash therefore loses at most
the batch in flight, whose rows are still in the next diff; acknowledged batches never go again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from prometheus_client import Counter

from services.syncer_meta.adapters.ledger import BatchRecord, Ledger
from services.syncer_meta.domain.batching import Batch
from services.syncer_meta.domain.diff import Direction
from services.syncer_meta.domain.errors import SessionClosed
from services.syncer_meta.domain.invalid import invalid_entries
from services.syncer_meta.domain.ports import AudiencePlatform, SessionRef
from shared.log import get_logger

log = get_logger(__name__)
ROWS = Counter("audiencesync_meta_rows_total", "Rows acknowledged by Meta", ["account", "direction"])
INVALID = Counter("audiencesync_meta_invalid_entries_total", "Rows Meta reported invalid", ["account"])
RENEWED = Counter("audiencesync_meta_sessions_renewed_total", "Upload sessions Meta had closed", ["account"])


class Sessions:
    """The run's upload session per direction (continued after a resume) and its next batch_seq."""

    def __init__(self, recorded: Sequence[BatchRecord] = ()) -> None:
        self._open: dict[str, tuple[int, int]] = {}  # direction -> (session_id, batches in it)
        for batch in recorded:
            if batch.session_id is None or not batch.session_id.isdigit():
                continue
            session_id, count = self._open.get(batch.direction, (0, 0))
            sid = int(batch.session_id)
            self._open[batch.direction] = (sid, count + 1) if sid == session_id else (sid, 1)

    def next(self, direction: Direction) -> tuple[int, int]:
        """``(session_id, batch_seq)`` for the next batch; batch_seq 1 opens a session."""
        session_id, count = self._open.get(direction.value) or self.renew(direction)
        return session_id, count + 1

    def renew(self, direction: Direction) -> tuple[int, int]:
        """A fresh session: a random int64, unique within the ad account in practice."""
        self._open[direction.value] = (secrets.randbits(62) + 1, 0)
        return self._open[direction.value]

    def sent(self, direction: Direction, session_id: int) -> None:
        """One more batch went in this session."""
        sid, count = self._open.get(direction.value, (session_id, 0))
        self._open[direction.value] = (session_id, count + 1 if sid == session_id else 1)


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
    """One run's state while it sends: where, what schema, sessions and counters."""

    run_id: int
    destination_id: int
    audience_id: str
    schema: tuple[str, ...]
    sessions: Sessions
    seq: int = 0
    prior_calls: int = 0  # calls made before a resume
    calls_at_start: int = 0
    estimated: dict[Direction, int] = field(default_factory=dict)
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
        session_id, batch_seq = ctx.sessions.next(batch.direction)
        batch_id = self.ledger.record_sent(ctx.run_id, ctx.seq, batch, session_id)
        rows = [change.member.wire() for change in batch.changes]
        estimated = ctx.estimated.get(batch.direction)
        try:
            receipt = self.platform.upload(
                ctx.audience_id,
                batch.direction,
                ctx.schema,
                rows,
                SessionRef(session_id, batch_seq, batch.last, estimated),
            )
        except SessionClosed:
            if batch.direction is Direction.REPLACE:
                raise  # a replace cannot continue in a new session; the caller tops up instead
            # Meta closed the /users session (90-minute window, or its last batch already went
            # before a crash): the rows are still wanted, so they go again in a fresh session.
            RENEWED.labels(self.platform.account_id).inc()
            session_id, batch_seq = ctx.sessions.renew(batch.direction)[0], 1
            receipt = self.platform.upload(
                ctx.audience_id,
                batch.direction,
                ctx.schema,
                rows,
                SessionRef(session_id, batch_seq, batch.last, estimated),
            )
        invalid = []
        if receipt.num_invalid:
            # One bad row never fails a batch: Meta applied the valid rows; the invalid ones are
            # mapped to their customers and kept on the run for ad-ops to fix at the source.
            INVALID.labels(self.platform.account_id).inc(receipt.num_invalid)
            invalid = invalid_entries(receipt.samples, [change.member for change in batch.changes])
            log.warning("meta.invalid_entries", run=ctx.run_id, batch=ctx.seq, invalid=receipt.num_invalid)
        self.ledger.acknowledge(
            run_id=ctx.run_id,
            batch_id=batch_id,
            destination_id=ctx.destination_id,
            batch=batch,
            receipt=receipt,
            invalid=invalid,
            api_calls=self.api_calls(ctx),
        )
        ctx.sessions.sent(batch.direction, session_id)
        ctx.acknowledged += 1
        ROWS.labels(self.platform.account_id, batch.direction.value).inc(len(batch))
        if self.on_batch is not None:
            self.on_batch(Progress(ctx.run_id, ctx.seq, batch.direction, len(batch), batch.last))
