"""The port the syncer talks to: one Meta ad account's custom audiences.

Implemented by the facebook-business adapter (real Graph or the sandbox), by a null platform
for dry runs, and by fakes in unit tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.syncer_meta.domain.diff import Direction


@dataclass(frozen=True)
class SessionRef:
    """The ``session`` parameter of one upload batch."""

    session_id: int
    batch_seq: int
    last: bool
    estimated_total: int | None = None


@dataclass(frozen=True)
class Receipt:
    """Meta's answer to one upload batch."""

    session_id: str
    num_received: int | None  # the session's running total
    num_invalid: int  # this batch's invalid rows
    samples: Any = None  # invalid_entry_samples as Meta sent them (map or list)


@dataclass(frozen=True)
class Readback:
    """What Meta reports about an audience: size range and statuses (reconciliation)."""

    lower: int | None
    upper: int | None
    operation_status: int | None
    delivery_status: int | None
    details: dict[str, Any] = field(default_factory=dict)


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


class AudiencePlatform(Protocol):
    """One ad account's customer-file audiences; methods raise ``PlatformError`` subclasses."""

    account_id: str

    @property
    def calls(self) -> int:
        """Graph calls made so far, retries included (a run's ``api_calls``)."""

    def find_audience(self, name: str) -> str | None:
        """The id of a customer-file audience with this exact name, if one exists."""

    def create_audience(self, name: str, description: str, *, value_based: bool) -> str:
        """Create a customer-file custom audience; returns its id."""

    def read_audience(self, audience_id: str) -> Readback:
        """Size bounds and statuses."""

    def describe(self, audience_id: str) -> dict[str, Any]:
        """Subtype and value-basedness, to check an audience before adopting it."""

    def upload(
        self,
        audience_id: str,
        direction: Direction,
        schema: Sequence[str],
        rows: Sequence[Sequence[str | float]],
        session: SessionRef,
    ) -> Receipt:
        """Send one batch to /users (add, remove) or /usersreplace."""

    def create_lookalike(self, seed_id: str, name: str, spec: LookalikeSpec) -> str:
        """Create a lookalike of ``seed_id``; returns its id."""

    def find_lookalike(self, seed_id: str, spec: LookalikeSpec) -> str | None:
        """The id of the seed's existing lookalike with this spec, if any."""

    def close(self) -> None:
        """Release connections."""
