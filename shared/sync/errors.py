"""Platform failures as the engine sees them: a kind, the run status it leaves, the exceptions.

Each adapter classifies its own platform's errors (Meta's Graph codes, Google's gRPC statuses
and reasons) into a ``Failure`` of one of these kinds and raises ``error_for(failure)``: the
engine stops the run with the failure's status and operator message; nothing permanent is
retried, and retryable statuses leave the run's keys pending for the next sync.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.sync.status import RETRYABLE, RunStatus


class Kind(enum.StrEnum):
    """What a failure means for the syncer."""

    TRANSIENT = "transient"  # retry with jittered exponential backoff
    THROTTLED = "throttled"  # wait for access (a quota) to come back, then slow down
    AUTH = "auth"  # credentials invalid or expired: nothing works until they are replaced
    PERMISSION = "permission"  # account, terms, allowlisting or scope missing
    FLAGGED = "flagged"  # audience restricted (Meta integrity 471 / 1713230)
    REJECTED = "rejected"  # the request itself is wrong
    SESSION_CLOSED = "session_closed"  # upload session / job finished or timed out: open a new one
    REPLACE_BUSY = "replace_busy"  # another replace or update is running on the list: wait, retry
    TOO_LARGE_TO_REPLACE = "too_large_to_replace"  # a replace is impossible: repair by difference
    BLOCKED = "blocked"  # a policy block, a long wait
    CREATE_FAILED = "create_failed"  # a list or lookalike could not be created (limits, duplicate)


# Sync-run status for a run stopped by each kind.
STATUS: dict[Kind, RunStatus] = {
    Kind.TRANSIENT: RunStatus.UNAVAILABLE,
    Kind.THROTTLED: RunStatus.THROTTLED,
    Kind.AUTH: RunStatus.AUTH_ERROR,
    Kind.PERMISSION: RunStatus.PERMISSION_ERROR,
    Kind.FLAGGED: RunStatus.FLAGGED,
    Kind.REJECTED: RunStatus.REJECTED,
    Kind.SESSION_CLOSED: RunStatus.REJECTED,
    Kind.REPLACE_BUSY: RunStatus.UNAVAILABLE,
    Kind.TOO_LARGE_TO_REPLACE: RunStatus.REJECTED,
    Kind.BLOCKED: RunStatus.BLOCKED,
    Kind.CREATE_FAILED: RunStatus.REJECTED,
}
RETRYABLE_STATUSES = RETRYABLE  # kept under its old name for the consumer


@dataclass(frozen=True)
class Failure:
    """One platform error as the syncer sees it (never the request, which holds the payload).

    ``explain`` is the adapter's advice for the operator (what to fix, which variable); without
    it the message is the platform's own. ``code`` is the platform's code (Graph's number,
    Google's gRPC status or reason).
    """

    kind: Kind
    code: int | str | None
    subcode: int | None
    message: str
    trace_id: str | None = None
    explain: Callable[[Failure, str], str] | None = field(default=None, compare=False, repr=False)

    @property
    def status(self) -> RunStatus:
        """The sync-run status this failure leaves."""
        return STATUS[self.kind]

    def operator_message(self, account: str) -> str:
        """What happened and what to do, for the sync-run record and the CLI."""
        if self.explain is not None:
            return self.explain(self, account)
        return f"{self.kind} error {self.code}: {self.message}"


class PlatformError(Exception):
    """A platform call failed for good (after any retries); carries the classified failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(f"{failure.kind}: {failure.code} {failure.message}")
        self.failure = failure


class PlatformRejected(PlatformError):  # noqa: N818 - names the fact, like the platforms' wording
    """Permanent: the credentials, permissions, audience or request are wrong; retrying cannot help."""

    @classmethod
    def because(cls, message: str) -> PlatformRejected:
        """A rejection decided on our side (an audience unfit to adopt)."""
        return cls(Failure(Kind.REJECTED, None, None, message))


class PlatformUnavailable(PlatformError):  # noqa: N818
    """Retryable later: transient errors or throttling outlasted this run's patience."""


class SessionClosed(PlatformError):  # noqa: N818
    """The platform ended the upload session (or job) early; what it holds is what it received.

    An adapter renews its own session for adds and removes; the engine sees this only for a
    replace, which cannot continue in a new session and is topped up by difference instead.
    """


class ReplaceNotStarted(SessionClosed):
    """A replace whose first batch the platform never saw: the old list is intact; start again.

    The adapter has already opened a fresh session for the replace when it raises this.
    """


def error_for(failure: Failure) -> PlatformError:
    """The exception class a failure raises."""
    if failure.kind is Kind.SESSION_CLOSED:
        return SessionClosed(failure)
    if failure.status in RETRYABLE:
        return PlatformUnavailable(failure)
    return PlatformRejected(failure)
