"""Graph API failures classified once, into the exceptions and sync-run statuses the syncer acts on.

The table follows Meta's error reference (AD_APIS.md 1.7): transient errors are retried with
backoff, throttling is waited out, an expired token or a missing permission stops the run at
once with a message telling the operator what to do; nothing permanent is retried.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    """What a failure means for the syncer."""

    TRANSIENT = "transient"  # retry with jittered exponential backoff
    THROTTLED = "throttled"  # wait for access to come back, then slow down
    AUTH = "auth"  # token invalid or expired: nothing works until it is replaced
    PERMISSION = "permission"  # account, terms or ads_management missing
    FLAGGED = "flagged"  # audience restricted for integrity (471 / 1713230)
    REJECTED = "rejected"  # the request itself is wrong
    SESSION_CLOSED = "session_closed"  # upload session finished or timed out: open a new one
    REPLACE_BUSY = "replace_busy"  # another replace or update is running: wait, retry
    TOO_LARGE_TO_REPLACE = "too_large_to_replace"  # 100M+: repair with add/remove instead
    BLOCKED = "blocked"  # 368: policy block, a long wait
    CREATE_FAILED = "create_failed"  # 2654: limits, seed too small, duplicate lookalike


THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
AUTH_CODES = frozenset({102, 190})
PERMISSION_CODES = frozenset({10, 294, *range(200, 300)})
# Timed out, already finished, or its batch_seq=1 never arrived: continue in a fresh session.
SESSION_CLOSED_SUBCODES = frozenset({1870147, 1870158, 1870159})
BUSY_SUBCODES = frozenset({1870145, 1870148})


def classify(code: int | None, subcode: int | None, is_transient: bool) -> Kind:
    """The kind of a Graph error from its code, subcode and ``is_transient`` flag."""
    if code in THROTTLE_CODES:
        return Kind.THROTTLED
    if code in AUTH_CODES:
        return Kind.AUTH
    if code in PERMISSION_CODES:
        return Kind.PERMISSION
    if code == 368:
        return Kind.BLOCKED
    if code == 2654:
        return Kind.CREATE_FAILED
    if code == 100 and subcode == 1713230:
        return Kind.FLAGGED
    if code == 2650:
        if subcode in SESSION_CLOSED_SUBCODES:
            return Kind.SESSION_CLOSED
        if subcode in BUSY_SUBCODES:
            return Kind.REPLACE_BUSY
        if subcode == 1870144:
            return Kind.TOO_LARGE_TO_REPLACE
        return Kind.REJECTED
    if code in (1, 2) or is_transient:
        return Kind.TRANSIENT
    return Kind.REJECTED


# Sync-run status for a run stopped by each kind.
STATUS: dict[Kind, str] = {
    Kind.TRANSIENT: "unavailable",
    Kind.THROTTLED: "throttled",
    Kind.AUTH: "auth_error",
    Kind.PERMISSION: "permission_error",
    Kind.FLAGGED: "flagged",
    Kind.REJECTED: "rejected",
    Kind.SESSION_CLOSED: "rejected",
    Kind.REPLACE_BUSY: "unavailable",
    Kind.TOO_LARGE_TO_REPLACE: "rejected",
    Kind.BLOCKED: "blocked",
    Kind.CREATE_FAILED: "rejected",
}
RETRYABLE_STATUSES = frozenset({"unavailable", "throttled", "blocked", "interrupted"})


@dataclass(frozen=True)
class Failure:
    """One Graph error as the syncer sees it (never the request, which holds the payload)."""

    kind: Kind
    code: int | None
    subcode: int | None
    message: str
    trace_id: str | None = None

    @property
    def status(self) -> str:
        """The sync-run status this failure leaves."""
        return STATUS[self.kind]

    def operator_message(self, account: str) -> str:
        """What happened and what to do, for the sync-run record and the CLI."""
        code = f"{self.code}/{self.subcode}" if self.subcode else str(self.code)
        suffix = account.upper()
        advice = {
            Kind.AUTH: f"Meta rejected the access token for {account}. Issue a new system-user token with "
            f"ads_management and set META_ACCESS_TOKEN_{suffix} (or META_ACCESS_TOKEN, or their _FILE), "
            "then run `audiencesync sync meta` again; acknowledged batches are not resent.",
            Kind.PERMISSION: f"The token may not manage custom audiences of {account}: check the ad account "
            "is in META_ACCOUNTS and assigned to the system user, the custom audience terms are accepted "
            "(value-based terms too for value-based seeds) and the token has ads_management.",
            Kind.FLAGGED: "Meta restricted this audience for integrity; resolve it in Ads Manager, "
            "then rerun.",
            Kind.THROTTLED: f"Meta kept {account} throttled longer than META_MAX_THROTTLE_WAIT allows; "
            "the run stopped and resumes where it stopped on the next sync.",
            Kind.TRANSIENT: "Meta stayed unavailable through every retry; the next sync resumes the run.",
            Kind.REPLACE_BUSY: "Meta is still applying an earlier update or replace; the next sync resumes.",
            Kind.BLOCKED: f"Meta temporarily blocked {account} for policy (368); wait before syncing again.",
        }.get(self.kind, "Meta rejected the request; see the error message. Nothing after it was sent.")
        return f"Graph error {code}: {self.message} — {advice}"


class PlatformError(Exception):
    """A Graph call failed for good (after any retries); carries the classified failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(f"{failure.kind}: {failure.code} {failure.message}")
        self.failure = failure


class PlatformRejected(PlatformError):  # noqa: N818 - names the fact, like Meta's own wording
    """Permanent: the token, permissions, audience or request are wrong; retrying cannot help."""

    @classmethod
    def because(cls, message: str) -> PlatformRejected:
        """A rejection decided on our side (an audience unfit to adopt)."""
        return cls(Failure(Kind.REJECTED, None, None, message))


class PlatformUnavailable(PlatformError):  # noqa: N818
    """Retryable later: transient errors or throttling outlasted this run's patience."""


class SessionClosed(PlatformError):  # noqa: N818
    """The upload session is closed or timed out on Meta's side; continue in a new session."""


def error_for(failure: Failure) -> PlatformError:
    """The exception class a failure raises."""
    if failure.kind is Kind.SESSION_CLOSED:
        return SessionClosed(failure)
    if failure.status in RETRYABLE_STATUSES:
        return PlatformUnavailable(failure)
    return PlatformRejected(failure)
