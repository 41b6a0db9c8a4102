"""Graph API failures classified once, into the engine's failure kinds, with Meta's advice.

The table follows Meta's error reference (AD_APIS.md 1.7): transient errors are retried with
backoff, throttling is waited out, an expired token or a missing permission stops the run at
once with a message telling the operator what to do; nothing permanent is retried.
"""

from __future__ import annotations

from shared.sync.errors import Failure, Kind

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


FIRST_BATCH_NEVER_SEEN = 1870147  # 2650 subcode: a replace batch whose batch_seq=1 Meta never got


def meta_failure(
    kind: Kind, code: int | None, subcode: int | None, message: str, trace_id: str | None = None
) -> Failure:
    """A failure carrying Meta's operator advice."""
    return Failure(kind, code, subcode, message, trace_id, explain=advice)


def advice(failure: Failure, account: str) -> str:
    """What happened and what to do, for the sync-run record and the CLI."""
    code = f"{failure.code}/{failure.subcode}" if failure.subcode else str(failure.code)
    suffix = account.upper()
    what = {
        Kind.AUTH: f"Meta rejected the access token for {account}. Issue a new system-user token with "
        f"ads_management and set META_ACCESS_TOKEN_{suffix} (or META_ACCESS_TOKEN, or their _FILE), "
        "then run `audiencesync sync meta` again; acknowledged batches are not resent.",
        Kind.PERMISSION: f"The token may not manage custom audiences of {account}: check the ad account "
        "is in META_ACCOUNTS and assigned to the system user, the custom audience terms are accepted "
        "(value-based terms too for value-based seeds) and the token has ads_management.",
        Kind.FLAGGED: "Meta restricted this audience for integrity; resolve it in Ads Manager, then rerun.",
        Kind.THROTTLED: f"Meta kept {account} throttled longer than META_MAX_THROTTLE_WAIT allows; "
        "the run stopped and resumes where it stopped on the next sync.",
        Kind.TRANSIENT: "Meta stayed unavailable through every retry; the next sync resumes the run.",
        Kind.REPLACE_BUSY: "Meta is still applying an earlier update or replace; the next sync resumes.",
        Kind.BLOCKED: f"Meta temporarily blocked {account} for policy (368); wait before syncing again.",
    }.get(failure.kind, "Meta rejected the request; see the error message. Nothing after it was sent.")
    return f"Graph error {code}: {failure.message} — {what}"
