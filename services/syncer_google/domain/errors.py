"""Google API failures classified once: what the syncer does about each.

Both Google paths fail the same way on the wire: a gRPC status, plus structured details that
name the reason (Data Manager: ``google.rpc.ErrorInfo`` with ``reason`` and ``metadata``;
Google Ads API: a ``GoogleAdsFailure`` whose errors carry ``<category>:<ENUM>`` codes and, for
quota, a ``retry_delay``). The adapters reduce an exception to a ``GoogleFailure`` of plain data;
``classify`` decides (AD_APIS.md 2.6, 2.8):

- UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL: transient, retried with backoff;
- RESOURCE_EXHAUSTED: a quota, waited out (for ``retry_delay`` when Google gives one);
- CONCURRENT_MODIFICATION (usually ABORTED): the list is busy, retried with backoff;
- UNAUTHENTICATED: the token is bad or expired, the run stops at once;
- CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE / NOT_ALLOWLISTED: this developer token may not use
  Customer Match through the Google Ads API, the run stops and says to switch to the Data
  Manager API;
- PERMISSION_DENIED and terms not accepted: the account is not set up, the run stops;
- REQUEST_TOO_LARGE: split and send again; anything else is a rejected request.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

TRANSIENT_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNKNOWN"})
NOT_ALLOWLISTED = frozenset(
    {"not_allowlisted_error:CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE", "NOT_ALLOWLISTED"}
)
TERMS = frozenset(
    {
        "offline_user_data_job_error:CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS",
        "TERMS_AND_CONDITIONS_NOT_SIGNED",
    }
)
BUSY = frozenset({"database_error:CONCURRENT_MODIFICATION", "CONCURRENT_MODIFICATION"})
TOO_LARGE = frozenset(
    {"database_error:REQUEST_TOO_LARGE", "offline_user_data_job_error:TOO_MANY_USER_IDENTIFIERS"}
)


class GoogleKind(enum.StrEnum):
    """What a Google failure means for the run."""

    TRANSIENT = "transient"
    THROTTLED = "throttled"
    BUSY = "busy"
    AUTH = "auth"
    NOT_ALLOWLISTED = "not_allowlisted"
    PERMISSION = "permission"
    TOO_LARGE = "too_large"
    REJECTED = "rejected"


RETRIED = frozenset({GoogleKind.TRANSIENT, GoogleKind.THROTTLED, GoogleKind.BUSY})


@dataclass(frozen=True)
class GoogleFailure:
    """One failed call as plain data (never the request: it holds the payload)."""

    code: str  # gRPC status name, e.g. "RESOURCE_EXHAUSTED"
    reasons: tuple[str, ...] = ()  # "quota_error:RESOURCE_EXHAUSTED", ErrorInfo reasons, ...
    message: str = ""
    retry_after: float | None = None  # seconds, from quota details when Google sent them
    quota_limit: str | None = None  # ErrorInfo metadata["quota_limit"]
    request_id: str | None = None

    @property
    def kind(self) -> GoogleKind:
        """The classified kind (see the module docstring)."""
        return classify(self)


def classify(failure: GoogleFailure) -> GoogleKind:
    """The kind of a failure from its status code and reasons."""
    reasons = frozenset(failure.reasons)
    if reasons & NOT_ALLOWLISTED:
        return GoogleKind.NOT_ALLOWLISTED
    if failure.code == "RESOURCE_EXHAUSTED" or any(r.startswith("quota_error:") for r in reasons):
        return GoogleKind.THROTTLED
    if reasons & BUSY:
        return GoogleKind.BUSY
    if failure.code == "UNAUTHENTICATED" or any(r.startswith("authentication_error:") for r in reasons):
        return GoogleKind.AUTH
    if reasons & TERMS or failure.code == "PERMISSION_DENIED":
        return GoogleKind.PERMISSION
    if any(r.startswith("authorization_error:") for r in reasons):
        return GoogleKind.PERMISSION
    if reasons & TOO_LARGE:
        return GoogleKind.TOO_LARGE
    if failure.code in TRANSIENT_CODES or any(r.startswith("internal_error:") for r in reasons):
        return GoogleKind.TRANSIENT
    return GoogleKind.REJECTED


def operator_message(failure: GoogleFailure, *, api: str, account: str) -> str:
    """What happened and what to do, for the run record and the CLI (no payload, no token)."""
    kind = failure.kind
    advice = {
        GoogleKind.AUTH: "Google rejected the access token: issue a new OAuth token for the "
        f"{'Data Manager' if api == 'datamanager' else 'Google Ads'} API and set GOOGLE_ACCESS_TOKEN "
        "(or GOOGLE_ACCESS_TOKEN_FILE), then run `audiencesync sync google` again; acknowledged batches "
        "are not resent.",
        GoogleKind.NOT_ALLOWLISTED: "This developer token is not allowlisted for Customer Match in the "
        "Google Ads API (closed to new adopters since 2026-04-01). Switch this destination to the Data "
        "Manager API: `destinations: {google: {api: datamanager}}` in the audience definition.",
        GoogleKind.PERMISSION: f"Account {account} may not receive Customer Match uploads with these "
        "credentials: check the login (manager) account links to it, the Customer Match terms are "
        "accepted and the token's user has access.",
        GoogleKind.THROTTLED: "Google's quota stayed exhausted longer than GOOGLE_MAX_QUOTA_WAIT allows; the "
        "run stopped and resumes where it stopped on the next sync.",
        GoogleKind.TRANSIENT: "Google stayed unavailable through every retry; the next sync resumes the run.",
        GoogleKind.BUSY: "Another job kept changing this list; the next sync resumes the run.",
    }.get(kind, "Google rejected the request; see the error. Nothing after it was sent.")
    reason = f" ({', '.join(failure.reasons)})" if failure.reasons else ""
    return f"Google {failure.code}{reason}: {failure.message} — {advice}"
