"""An in-memory platform that records what it holds and what it was sent: the engine's test fake.

It behaves like a customer-list API with the caps it is given: lists found by name or created,
members added, removed and (with ``Caps.replace``) swapped in at a replace's last batch, every
request counted, rows it cannot read reported invalid, faults and a slow answer on demand. The
contract suite (tests/contract) runs the same cases against it and the real adapters.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.sync.batching import Batch
from shared.sync.diff import Direction
from shared.sync.errors import Failure, Kind, error_for
from shared.sync.ports import (
    AudienceSpec,
    Caps,
    InvalidEntry,
    Readback,
    Receipt,
    SentBatch,
    check_batch,
)
from shared.sync.rows import RowFormat

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass
class FakeList:
    """One list as the fake holds it: members keyed by their first strong identifier."""

    id: str
    name: str
    value_based: bool
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    staged: dict[str, tuple[str, ...]] | None = None  # a replace in progress


@dataclass(frozen=True)
class FakeRequest:
    """One ``send`` as the fake saw it."""

    audience_id: str
    direction: Direction
    rows: int
    last: bool


class RecordingPlatform:
    """``AudiencePlatform`` in memory; ``hashed`` rows must be SHA-256 hex or are reported invalid."""

    def __init__(
        self,
        account_id: str,
        *,
        caps: Caps,
        rows: RowFormat,
        platform: str = "fake",
        hashed: bool = True,
        delay: float = 0.0,
    ) -> None:
        self.account_id, self.caps, self.rows, self.platform = account_id, caps, rows, platform
        self.hashed, self.delay = hashed, delay
        self.lists: dict[str, FakeList] = {}
        self.requests: list[FakeRequest] = []
        self.created = 0
        self.calls = 0
        self._failures: list[Failure] = []
        self._lock = threading.Lock()

    # --- test controls ------------------------------------------------------------------------

    def fail_next(self, kind: Kind = Kind.TRANSIENT, times: int = 1) -> None:
        """The next ``times`` sends fail with a failure of this kind (after any retries)."""
        self._failures.extend(Failure(kind, "FAKE", None, f"injected {kind}") for _ in range(times))

    def clear_failures(self) -> None:
        """Sends work again."""
        self._failures.clear()

    def members(self, audience_id: str) -> set[str]:
        """The identities (first strong identifier) the list holds."""
        return set(self.lists[audience_id].members)

    def find(self, name: str) -> FakeList | None:
        """The list with this name, if any."""
        return next((found for found in self.lists.values() if found.name == name), None)

    # --- the port ----------------------------------------------------------------------------

    def ensure_audience(self, spec: AudienceSpec) -> str:
        """Find by name, else create."""
        self.calls += 1
        found = self.find(spec.name)
        if found is not None:
            return found.id
        self.created += 1
        self.calls += 1
        created = FakeList(f"fake-{len(self.lists) + 1}", spec.name, spec.value_based)
        self.lists[created.id] = created
        return created.id

    def resume(self, audience_id: str, history: Sequence[SentBatch]) -> None:
        """Nothing to continue: every request stands alone."""

    def reference(self, audience_id: str, direction: Direction) -> str | None:
        """The request number the next batch will be."""
        return str(len(self.requests) + 1)

    def send(self, audience_id: str, batch: Batch) -> Receipt:
        """Apply one batch after checking it against the caps; invalid rows are skipped and reported."""
        check_batch(self.caps, self.rows, batch)
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.calls += 1
            if self._failures:
                raise error_for(self._failures.pop(0))
            target = self.lists[audience_id]
            self.requests.append(FakeRequest(audience_id, batch.direction, len(batch), batch.last))
            invalid: list[InvalidEntry] = []
            if batch.direction is Direction.REPLACE and target.staged is None:
                target.staged = {}
            for change in batch.changes:
                bad = self._invalid_cell(change.member.row)
                if bad is not None:
                    invalid.append(InvalidEntry(change.member.key, f"{bad}: not a SHA-256 digest"))
                    continue
                identity = self._identity(change.member.row)
                if batch.direction is Direction.ADD:
                    target.members[identity] = change.member.row
                elif batch.direction is Direction.REMOVE:
                    target.members.pop(identity, None)
                else:
                    assert target.staged is not None
                    target.staged[identity] = change.member.row
            if batch.direction is Direction.REPLACE and batch.last:
                target.members, target.staged = target.staged or {}, None
            return Receipt(
                reference=str(len(self.requests)),
                received=len(batch) - len(invalid),
                invalid_count=len(invalid),
                invalid=tuple(invalid),
            )

    def read_audience(self, audience_id: str) -> Readback:
        """The exact size (a fake matches everyone)."""
        self.calls += 1
        size = len(self.lists[audience_id].members)
        return Readback(size, size, details={"match_rate": 1.0 if size else None})

    def close(self) -> None:
        """Nothing to release."""

    # --- helpers -----------------------------------------------------------------------------

    def _identity(self, row: tuple[str, ...]) -> str:
        cells = dict(zip(self.rows.columns, row, strict=False))
        return next(cells[c] for c in self.rows.columns if c in self.rows.strong and cells.get(c))

    def _invalid_cell(self, row: tuple[str, ...]) -> str | None:
        if not self.hashed:
            return None
        for column, cell in zip(self.rows.columns, row, strict=False):
            if cell and not _SHA256.fullmatch(cell) and column in self.rows.strong | _HASHED_EXTRA:
                return column
        return None


# Columns every platform takes hashed besides the strong ones (Meta's names and Google's).
_HASHED_EXTRA = frozenset({"FN", "LN", "CT", "ST", "ZIP", "first_name", "last_name"})
