"""After a run: read the audience back (size bounds, statuses) and keep its lookalikes in place.

The snapshots are the time series that tells ad-ops whether an upload matched: Meta reports a
size range around the matched people, not our count. Lookalikes are created once per country
from the definition's spec, when the seed is big enough; a failed creation never fails the seed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter

from services.syncer_meta.adapters.runs import DestinationRecord, Runs
from services.syncer_meta.domain.errors import Kind, PlatformError
from services.syncer_meta.domain.membership import Destination
from services.syncer_meta.domain.ports import AudiencePlatform, LookalikeSpec, Readback
from shared.log import get_logger

log = get_logger(__name__)
LOOKALIKE_FAILURES = Counter(
    "audiencesync_meta_lookalike_failures_total", "Lookalike creations Meta refused", ["account"]
)
FLAGGED = 471  # operation_status: restricted for integrity


class Reconciler:
    """Snapshots and lookalikes for one ad account."""

    def __init__(self, runs: Runs, platform: AudiencePlatform, *, max_age: float, min_seed: int) -> None:
        self.runs, self.platform = runs, platform
        self.max_age = timedelta(seconds=max_age)
        self.min_seed = min_seed

    def due(self, record: DestinationRecord) -> bool:
        """Whether a run that changed nothing should still read the audience back (stale snapshot)."""
        if record.platform_audience_id is None:
            return False
        last = self.runs.last_snapshot_at(record.id)
        return last is None or datetime.now(UTC) - last >= self.max_age

    def after_run(
        self, destination: Destination, record: DestinationRecord, *, changed: bool, desired: int
    ) -> tuple[Readback | None, dict[str, Any]]:
        """Snapshot the audience (when it changed or the last snapshot is stale) and its lookalikes."""
        feedback: dict[str, Any] = {}
        readback = None
        snapshot = record.platform_audience_id is not None and (changed or self.due(record))
        if snapshot:
            assert record.platform_audience_id is not None
            readback = self.platform.read_audience(record.platform_audience_id)
            self.runs.snapshot(record.id, readback)
            if readback.operation_status == FLAGGED:
                self.runs.set_platform_audience(record.id, None, status="flagged")
        lookalike = destination.audience.meta.lookalike if destination.audience.meta else None
        if lookalike and record.platform_audience_id:
            for country in lookalike.countries:
                spec = LookalikeSpec(country, lookalike.ratio, lookalike.starting_ratio)
                note = self._lookalike(
                    destination, record, spec, changed=changed, desired=desired, read=snapshot
                )
                if note:
                    feedback.setdefault("lookalikes", {})[country] = note
        return readback, feedback

    def _lookalike(
        self,
        destination: Destination,
        seed: DestinationRecord,
        spec: LookalikeSpec,
        *,
        changed: bool,
        desired: int,
        read: bool,
    ) -> str | None:
        record = self.runs.destination(
            destination.audience, destination.account, kind="lookalike", variant=spec.country
        )
        if record.platform_audience_id:
            if read:
                self.runs.snapshot(record.id, self.platform.read_audience(record.platform_audience_id))
            return None
        if desired < self.min_seed:
            # Meta needs about 100 matched people in the seed; asking earlier only earns a 2654.
            self.runs.set_platform_audience(record.id, None, status="waiting_for_seed")
            return f"seed has {desired} people; a lookalike needs at least {self.min_seed}"
        if record.status == "create_failed" and not changed:
            return None  # retried when the seed next changes, not on every idle run
        assert seed.platform_audience_id is not None
        name = f"{_seed_name(seed)} lookalike {spec.country} {spec.ratio:.0%}"
        try:
            found = (
                self.platform.find_lookalike(seed.platform_audience_id, spec)
                if record.status == "creating"
                else None
            )
            self.runs.set_platform_audience(record.id, None, status="creating")
            audience_id = found or self.platform.create_lookalike(seed.platform_audience_id, name, spec)
        except PlatformError as exc:
            if exc.failure.kind is not Kind.CREATE_FAILED:
                raise
            # Seed too small after matching, a duplicate, or the account's limit: the seed's own
            # sync stands; the lookalike is tried again when the seed next changes.
            LOOKALIKE_FAILURES.labels(self.platform.account_id).inc()
            existing = self.platform.find_lookalike(seed.platform_audience_id, spec)
            if existing is None:
                self.runs.set_platform_audience(record.id, None, status="create_failed")
                log.warning("meta.lookalike_failed", country=spec.country, code=exc.failure.code)
                return exc.failure.message
            audience_id = existing
        self.runs.set_platform_audience(record.id, audience_id, status="active", spec=spec.to_graph())
        return None


def _seed_name(seed: DestinationRecord) -> str:
    return f"audiencesync {seed.audience_key}"
