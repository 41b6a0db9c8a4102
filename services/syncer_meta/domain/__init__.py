"""The Meta syncer's pure core: membership, rows, diff, batching, guardrails, errors, pacing."""

from services.syncer_meta.domain.batching import MAX_ROWS, Batch, batches
from services.syncer_meta.domain.diff import (
    Change,
    Changes,
    Direction,
    Reason,
    Synced,
    count_changes,
    diff,
    replace_set,
)
from services.syncer_meta.domain.errors import (
    Failure,
    Kind,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    SessionClosed,
    classify,
)
from services.syncer_meta.domain.guardrails import Guardrails
from services.syncer_meta.domain.membership import Consent, CustomerView, Destination, destinations
from services.syncer_meta.domain.rows import Member, schema, to_member, upload_value

__all__ = [
    "MAX_ROWS",
    "Batch",
    "Change",
    "Changes",
    "Consent",
    "CustomerView",
    "Destination",
    "Direction",
    "Failure",
    "Guardrails",
    "Kind",
    "Member",
    "PlatformError",
    "PlatformRejected",
    "PlatformUnavailable",
    "Reason",
    "SessionClosed",
    "Synced",
    "batches",
    "classify",
    "count_changes",
    "destinations",
    "diff",
    "replace_set",
    "schema",
    "to_member",
    "upload_value",
]
