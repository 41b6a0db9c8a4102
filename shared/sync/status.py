"""Statuses of sync runs, batches and destinations: one vocabulary for every platform.

``StrEnum`` members are stored as their values in ``sync_runs.status``, ``sync_batches.status``
and ``destination_audiences.status``, and compare equal to those strings.
"""

from __future__ import annotations

import enum


class RunStatus(enum.StrEnum):
    """How a sync run of one destination ended (or that it is still going)."""

    RUNNING = "running"  # in progress, or left by a process that died (resumed under the lock)
    SUCCEEDED = "succeeded"
    DRY_RUN = "dry_run"  # a plan only; nothing was sent
    REFUSED = "refused"  # a guardrail held the changes back (erasures still went)
    BUSY = "busy"  # another process holds the destination's lock; no run was recorded
    UNAVAILABLE = "unavailable"  # transient errors outlasted the retries
    THROTTLED = "throttled"  # rate limits outlasted the allowed wait
    BLOCKED = "blocked"  # a temporary policy block
    INTERRUPTED = "interrupted"
    AUTH_ERROR = "auth_error"  # the credentials are refused: nothing works until replaced
    PERMISSION_ERROR = "permission_error"
    FLAGGED = "flagged"  # the platform restricted the audience
    REJECTED = "rejected"  # the request itself is wrong


# A run stopped with one of these resumes by itself on the next sync; the keys it was given wait.
RETRYABLE = frozenset({RunStatus.UNAVAILABLE, RunStatus.THROTTLED, RunStatus.BLOCKED, RunStatus.INTERRUPTED})
KEEP_PENDING = RETRYABLE | {RunStatus.BUSY}
# Statuses that stop every other destination of the same account in one sync (one call each would fail).
ACCOUNT_DEAD = frozenset({RunStatus.AUTH_ERROR, RunStatus.PERMISSION_ERROR})
FINE = frozenset({RunStatus.SUCCEEDED, RunStatus.DRY_RUN})


class BatchStatus(enum.StrEnum):
    """Where one recorded batch stands (``sync_batches.status``)."""

    SENT = "sent"  # write-ahead: recorded before the request
    ACKNOWLEDGED = "acknowledged"  # the platform answered; its ledger rows are written
    FAILED = "failed"  # the platform answered with an error
    UNCONFIRMED = "unconfirmed"  # the process died waiting; its rows are simply in the next diff


class DestinationStatus(enum.StrEnum):
    """The state of a destination's platform audience (``destination_audiences.status``)."""

    PENDING = "pending"  # no platform audience yet
    ACTIVE = "active"
    ADOPTED = "adopted"  # an existing platform audience an operator chose
    FLAGGED = "flagged"
    WAITING_FOR_SEED = "waiting_for_seed"  # a lookalike whose seed is still too small
    CREATING = "creating"
    CREATE_FAILED = "create_failed"
