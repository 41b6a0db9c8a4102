"""After a run: read the list back (size, match rate, statuses) into the snapshot time series.

The snapshots tell ad-ops whether an upload matched: platforms report matched sizes (Meta a
range, Google a size and a match rate), not our count. A platform may add its own follow-up
(Meta keeps lookalikes in place) through ``FollowUp``; a failed follow-up never fails the run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared.sync.membership import Destination
from shared.sync.ports import AudiencePlatform, Readback
from shared.sync.runs import DestinationRecord, Runs
from shared.sync.status import DestinationStatus


class FollowUp(Protocol):
    """Platform-specific work after a destination's read-back (Meta: its lookalikes)."""

    def __call__(
        self, destination: Destination, record: DestinationRecord, *, changed: bool, desired: int, read: bool
    ) -> dict[str, Any]:
        """Feedback to keep on the run (empty: nothing to say)."""
        ...


class Reconciler:
    """Snapshots (and the platform's follow-up) for one platform account."""

    def __init__(
        self,
        runs: Runs,
        platform: AudiencePlatform,
        *,
        max_age: float,
        follow_up: FollowUp | None = None,
    ) -> None:
        self.runs, self.platform = runs, platform
        self.max_age = timedelta(seconds=max_age)
        self.follow_up = follow_up

    def due(self, record: DestinationRecord) -> bool:
        """Whether a run that changed nothing should still read the audience back (stale snapshot)."""
        if record.platform_audience_id is None:
            return False
        last = self.runs.last_snapshot_at(record.id)
        return last is None or datetime.now(UTC) - last >= self.max_age

    def after_run(
        self, destination: Destination, record: DestinationRecord, *, changed: bool, desired: int
    ) -> tuple[Readback | None, dict[str, Any]]:
        """Snapshot the audience (when it changed or the last snapshot is stale), then the follow-up."""
        readback = None
        snapshot = record.platform_audience_id is not None and (changed or self.due(record))
        if snapshot:
            assert record.platform_audience_id is not None
            readback = self.platform.read_audience(record.platform_audience_id)
            self.runs.snapshot(record.id, readback)
            if readback.flagged:
                self.runs.set_platform_audience(record.id, None, status=DestinationStatus.FLAGGED)
        feedback: dict[str, Any] = {}
        if self.follow_up is not None:
            feedback = self.follow_up(destination, record, changed=changed, desired=desired, read=snapshot)
        return readback, feedback
