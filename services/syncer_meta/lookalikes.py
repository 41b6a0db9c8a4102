"""Meta lookalikes, kept in place after each run of a seed (the engine's ``FollowUp`` for Meta).

Lookalikes are created once per country from the definition's spec, when the seed is big
enough; a failed creation never fails the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from shared.log import get_logger
from shared.sync.errors import Kind, PlatformError
from shared.sync.membership import Destination
from shared.sync.runs import DestinationRecord, Runs
from shared.sync.status import DestinationStatus

if TYPE_CHECKING:
    from services.syncer_meta.adapters.meta_platform import MetaPlatform

log = get_logger(__name__)
LOOKALIKE_FAILURES = Counter(
    "audiencesync_platform_lookalike_failures_total",
    "Lookalike creations the platform refused",
    ["platform", "account"],
)


@dataclass(frozen=True)
class LookalikeSpec:
    """A lookalike of a seed audience for one country."""

    country: str
    ratio: float
    starting_ratio: float | None = None

    def to_graph(self) -> dict[str, Any]:
        """``lookalike_spec``; ``custom_ratio`` works for every seed and value-based ones need it."""
        spec: dict[str, Any] = {"type": "custom_ratio", "ratio": self.ratio, "country": self.country}
        if self.starting_ratio is not None:
            spec["starting_ratio"] = self.starting_ratio
        return spec


class Lookalikes:
    """Creates and snapshots a seed's lookalikes on one ad account."""

    def __init__(self, runs: Runs, platform: MetaPlatform, *, min_seed: int) -> None:
        self.runs, self.platform, self.min_seed = runs, platform, min_seed

    def __call__(
        self, destination: Destination, record: DestinationRecord, *, changed: bool, desired: int, read: bool
    ) -> dict[str, Any]:
        """Each country's lookalike of the seed: read back, waiting for the seed, or created."""
        feedback: dict[str, Any] = {}
        lookalike = destination.audience.meta.lookalike if destination.audience.meta else None
        if lookalike and record.platform_audience_id:
            for country in lookalike.countries:
                spec = LookalikeSpec(country, lookalike.ratio, lookalike.starting_ratio)
                note = self._lookalike(destination, record, spec, changed=changed, desired=desired, read=read)
                if note:
                    feedback.setdefault("lookalikes", {})[country] = note
        return feedback

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
            self.runs.set_platform_audience(record.id, None, status=DestinationStatus.WAITING_FOR_SEED)
            return f"seed has {desired} people; a lookalike needs at least {self.min_seed}"
        if record.status == DestinationStatus.CREATE_FAILED and not changed:
            return None  # retried when the seed next changes, not on every idle run
        assert seed.platform_audience_id is not None
        name = f"{_seed_name(seed)} lookalike {spec.country} {spec.ratio:.0%}"
        try:
            found = (
                self.platform.find_lookalike(seed.platform_audience_id, spec)
                if record.status == DestinationStatus.CREATING
                else None
            )
            self.runs.set_platform_audience(record.id, None, status=DestinationStatus.CREATING)
            audience_id = found or self.platform.create_lookalike(seed.platform_audience_id, name, spec)
        except PlatformError as exc:
            if exc.failure.kind is not Kind.CREATE_FAILED:
                raise
            # Seed too small after matching, a duplicate, or the account's limit: the seed's own
            # sync stands; the lookalike is tried again when the seed next changes.
            LOOKALIKE_FAILURES.labels("meta", self.platform.account_id).inc()
            existing = self.platform.find_lookalike(seed.platform_audience_id, spec)
            if existing is None:
                self.runs.set_platform_audience(record.id, None, status=DestinationStatus.CREATE_FAILED)
                log.warning(
                    "sync.lookalike_failed", platform="meta", country=spec.country, code=exc.failure.code
                )
                return exc.failure.message
            audience_id = existing
        self.runs.set_platform_audience(
            record.id, audience_id, status=DestinationStatus.ACTIVE, spec=spec.to_graph()
        )
        return None


def _seed_name(seed: DestinationRecord) -> str:
    return f"audiencesync {seed.audience_key}"
