"""The port every platform adapter implements, and the plain data that crosses it.

The engine (``shared.sync.engine``) plans a run, batches it at the adapter's ``Caps`` and hands
each batch to ``AudiencePlatform.send``; how the platform receives it (Meta's upload sessions,
Data Manager's request ids, the Google Ads API's offline user data jobs) stays inside the
adapter. Implemented by the facebook-business adapter (``services.syncer_meta``), the Google
adapters, ``NullPlatform`` for dry runs and ``RecordingPlatform``, the in-memory fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.definitions.audiences import AudienceDefinition
from shared.sync.batching import Batch
from shared.sync.diff import Direction
from shared.sync.rows import RowFormat


@dataclass(frozen=True)
class Caps:
    """What one request may carry: the adapter's declaration, enforced by the engine's batching.

    ``max_rows``: rows (Meta), members (Data Manager) or operations (Google Ads API) per request.
    ``replace``: the platform can swap a list's whole content in one staged upload
    (``Direction.REPLACE``, Meta's ``/usersreplace``); without it a repair is a normal sync.
    """

    max_rows: int
    replace: bool = False


@dataclass(frozen=True)
class AudienceSpec:
    """The platform list a destination needs: found by ``name`` or created."""

    name: str  # "<installation prefix> <audience key>": unique per installation and account
    description: str
    value_based: bool = False
    role: str = "include"  # "exclusion" lists are suppression lists
    # The whole definition, for per-platform settings (``definition.google.membership_days``).
    definition: AudienceDefinition | None = field(default=None, compare=False)


@dataclass(frozen=True)
class InvalidEntry:
    """One row the platform rejected: whose it was (when known) and the platform's reason."""

    customer_key: str | None
    reason: str


@dataclass(frozen=True)
class Receipt:
    """The platform's answer to one batch, as the ledger records it.

    ``reference``: the platform's handle for what was sent (Meta's session id, a Data Manager
    request id, an Ads API job resource name); ``received``: rows the platform counted (Meta: the
    session's running total); ``invalid``: this batch's rows the platform refused (applied rows
    stand: one bad row never fails a batch), mapped to customers by the adapter where it can.
    """

    reference: str | None
    received: int | None
    invalid_count: int = 0
    invalid: tuple[InvalidEntry, ...] = ()
    response: dict[str, Any] | None = None  # the counts as the platform named them, kept on the batch


@dataclass(frozen=True)
class Readback:
    """What the platform reports about a list after a run (the ``audience_snapshots`` series)."""

    lower: int | None  # list size (Meta: a range around the matched people; Google: one size)
    upper: int | None
    operation_status: int | None = None
    delivery_status: int | None = None
    details: dict[str, Any] = field(default_factory=dict)  # match_rate, platform statuses, ...
    flagged: bool = False  # the platform restricted the list: the destination is marked flagged


@dataclass(frozen=True)
class SentBatch:
    """A batch a run recorded before a crash: what an adapter needs to continue its sessions."""

    seq: int
    direction: str
    reference: str | None
    status: str


class AudiencePlatform(Protocol):
    """One platform account's customer lists; methods raise ``shared.sync.errors.PlatformError``.

    ``platform`` labels metrics and logs and names ``destination_audiences.platform``; ``caps``
    and ``rows`` say how the engine must cut and shape batches for it.
    """

    platform: str
    account_id: str
    caps: Caps
    rows: RowFormat

    @property
    def calls(self) -> int:
        """Platform calls made so far, retries included (a run's ``api_calls``)."""
        ...

    def ensure_audience(self, spec: AudienceSpec) -> str:
        """The id of the list named ``spec.name``: found (one a crash left behind) or created."""
        ...

    def resume(self, audience_id: str, history: Sequence[SentBatch]) -> None:
        """A run starts (history empty) or resumes: continue the sessions/jobs its batches used."""
        ...

    def reference(self, audience_id: str, direction: Direction) -> str | None:
        """The handle the next batch in ``direction`` goes under, recorded before it is sent
        (Meta: its session id; None when the platform assigns one only on receipt)."""
        ...

    def send(self, audience_id: str, batch: Batch) -> Receipt:
        """Deliver one batch (at most ``caps.max_rows`` rows, one direction) and wait for the answer."""
        ...

    def read_audience(self, audience_id: str) -> Readback:
        """Size, match rate and statuses, for the snapshot time series."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def check_batch(caps: Caps, rows: RowFormat, batch: Batch) -> None:
    """Raise ``ValueError`` when a batch breaks the declared caps (adapters and fakes call it)."""
    if len(batch) > caps.max_rows:
        raise ValueError(f"{len(batch)} rows in one request; the cap is {caps.max_rows}")
    for change in batch.changes:
        used = sum(1 for cell in change.member.row if cell) + (change.member.value is not None)
        if used > rows.max_identifiers:
            raise ValueError(f"{used} identifiers in one row; the cap is {rows.max_identifiers}")
    if batch.direction is Direction.REPLACE and not caps.replace:
        raise ValueError("this platform has no replace")


__all__ = [
    "AudiencePlatform",
    "AudienceSpec",
    "Caps",
    "InvalidEntry",
    "Readback",
    "Receipt",
    "SentBatch",
    "check_batch",
]
