"""A platform that sends nothing: dry runs are wired to it so no code path can reach a platform."""

from __future__ import annotations

from collections.abc import Sequence

from shared.sync.batching import Batch
from shared.sync.diff import Direction
from shared.sync.ports import AudienceSpec, Caps, Readback, Receipt, SentBatch
from shared.sync.rows import RowFormat


class NullPlatform:
    """``AudiencePlatform`` that answers like an empty account and counts what would be sent.

    It borrows the real adapter's ``platform``, ``caps`` and ``rows`` so a dry run plans exactly
    what the real one would send.
    """

    def __init__(self, account_id: str, *, platform: str, caps: Caps, rows: RowFormat) -> None:
        self.account_id, self.platform, self.caps, self.rows = account_id, platform, caps, rows
        self.calls = 0  # a dry run reports its calls from the plan; this stays 0 unless misused
        self.would_send: dict[Direction, int] = {}

    def ensure_audience(self, spec: AudienceSpec) -> str:
        """A placeholder id; never stored by a dry run."""
        return f"dry-run:{spec.name}"

    def resume(self, audience_id: str, history: Sequence[SentBatch]) -> None:
        """Nothing to continue."""

    def reference(self, audience_id: str, direction: Direction) -> str | None:
        """No sessions here."""
        return None

    def send(self, audience_id: str, batch: Batch) -> Receipt:
        """Count the rows as if the platform had received them all."""
        self.would_send[batch.direction] = self.would_send.get(batch.direction, 0) + len(batch)
        return Receipt(None, len(batch))

    def read_audience(self, audience_id: str) -> Readback:
        """Nothing is known."""
        return Readback(None, None)

    def close(self) -> None:
        """Nothing to release."""
