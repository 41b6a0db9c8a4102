"""The sync engine both syncers run on: desired membership minus the ledger, sent in batches.

Platform-neutral: membership and consent, rows, diff, batching, guardrails, failure kinds and
statuses, the ledger, runs, locks, resumable uploads, read-back, the consumer with durable
pending keys. A platform is an adapter implementing ``ports.AudiencePlatform`` (its ``Caps``
and ``RowFormat`` declared on it) wired with ``wiring.assemble``; see docs/architecture.md.
"""

from shared.sync.batching import Batch
from shared.sync.diff import Change, Direction, Reason
from shared.sync.errors import (
    Failure,
    Kind,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    ReplaceNotStarted,
    SessionClosed,
    error_for,
)
from shared.sync.membership import ConsentRule, CustomerView, Destination, Target, Targets
from shared.sync.outcome import RunReport, SyncOptions
from shared.sync.ports import (
    AudiencePlatform,
    AudienceSpec,
    Caps,
    InvalidEntry,
    Readback,
    Receipt,
    SentBatch,
    check_batch,
)
from shared.sync.rows import Member, RowFormat
from shared.sync.status import BatchStatus, DestinationStatus, RunStatus

__all__ = [
    "AudiencePlatform",
    "AudienceSpec",
    "Batch",
    "BatchStatus",
    "Caps",
    "Change",
    "ConsentRule",
    "CustomerView",
    "Destination",
    "DestinationStatus",
    "Direction",
    "Failure",
    "InvalidEntry",
    "Kind",
    "Member",
    "PlatformError",
    "PlatformRejected",
    "PlatformUnavailable",
    "Readback",
    "Reason",
    "Receipt",
    "ReplaceNotStarted",
    "RowFormat",
    "RunReport",
    "RunStatus",
    "SentBatch",
    "SessionClosed",
    "SyncOptions",
    "Target",
    "Targets",
    "check_batch",
    "error_for",
]
