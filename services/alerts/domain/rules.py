"""Which alert conditions hold now: pure rules over plain facts, each naming a stable incident key.

A condition's key is its kind and what it is about (a destination, an account, a consumer), so
the same problem seen on the next check is the same incident, and a problem that clears and comes
back later is a new one. Every rule reads only the facts it is given; the database adapter
(``adapters/facts.py``) fills them and the thresholds come from ``AlertSettings``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.alerts.config import AlertSettings, TokenExpiry
from shared.sync.status import DestinationStatus, RunStatus

EPSILON = 1e-9  # a drop of exactly the threshold counts (0.60 - 0.50 is 0.0999... in floats)
META_FLAGGED = 471  # Meta operation_status: restricted for integrity (../shared/AD_APIS.md)

# Finished runs that are not a failure: a guardrail hold is a decision, a busy destination or an
# interrupted run resumes on the next sync by itself, and a dry run sent nothing.
QUIET = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.DRY_RUN, RunStatus.REFUSED, RunStatus.BUSY, RunStatus.INTERRUPTED}
)
# Runs that say nothing about the destination's health: still going, or only a plan.
NOT_DECISIVE = frozenset({RunStatus.RUNNING, RunStatus.DRY_RUN, RunStatus.BUSY})


class AlertKind(enum.StrEnum):
    """What an incident is about; the first part of its key."""

    RUN_FAILED = "run_failed"
    TOKEN_FAILED = "token_failed"  # noqa: S105 - a kind, not a secret
    TOKEN_EXPIRING = "token_expiring"  # noqa: S105
    MATCH_RATE_DROP = "match_rate_drop"
    SHRINK = "shrink"
    FLAGGED = "flagged"
    DEAD_LETTERS = "dead_letters"


@dataclass(frozen=True)
class Run:
    """A finished sync run as the rules need it."""

    status: str
    message: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """One read-back of the platform's audience: size, match rate (0..1) and Meta's status code."""

    at: datetime
    size: int | None = None
    match_rate: float | None = None
    operation_status: int | None = None


@dataclass(frozen=True)
class Destination:
    """One audience on one platform account: its status, latest runs and snapshots, newest first."""

    audience: str
    platform: str
    account: str
    kind: str = "custom"
    variant: str = ""
    status: str = DestinationStatus.ACTIVE
    runs: Sequence[Run] = ()
    snapshots: Sequence[Snapshot] = ()

    @property
    def subject(self) -> str:
        """The stable part of its incident keys (the destination's natural key)."""
        parts = [self.platform, self.account, self.audience]
        if self.kind == "lookalike" or self.variant:
            parts += [self.kind, self.variant]
        return ":".join(parts)

    @property
    def name(self) -> str:
        """How an alert names it."""
        extra = f" ({self.kind} {self.variant})".rstrip() if self.variant else ""
        return f"{self.audience}{extra} on {self.platform} {self.account}"

    def last_run(self) -> Run | None:
        """The newest run that tells how the destination is doing."""
        return next((r for r in self.runs if r.status not in NOT_DECISIVE), None)


@dataclass(frozen=True)
class Facts:
    """Everything one check looks at."""

    now: datetime
    destinations: Sequence[Destination] = ()
    dead_letters: Mapping[str, int] | None = None  # consumer -> unresolved within the window


@dataclass(frozen=True)
class Condition:
    """One problem that holds now; ``key`` names its incident."""

    key: str
    kind: AlertKind
    text: str


def _condition(kind: AlertKind, subject: str, text: str) -> Condition:
    return Condition(f"{kind}:{subject}", kind, text)


def run_failed(d: Destination) -> Condition | None:
    """The destination's latest run failed (token and flag failures have incidents of their own)."""
    run = d.last_run()
    if run is None or run.status in QUIET or run.status in {RunStatus.AUTH_ERROR, RunStatus.FLAGGED}:
        return None
    detail = f": {run.message[:300]}" if run.message else ""
    return _condition(AlertKind.RUN_FAILED, d.subject, f"Sync of {d.name} failed ({run.status}){detail}")


def token_failed(destinations: Sequence[Destination]) -> list[Condition]:
    """One incident per account whose latest run on any destination had its credentials refused."""
    found: dict[str, Condition] = {}
    for d in destinations:
        run = d.last_run()
        if run is not None and run.status == RunStatus.AUTH_ERROR:
            subject = f"{d.platform}:{d.account}"
            text = f"The {d.platform} token of {d.account} is refused: every sync of the account stops"
            found.setdefault(subject, _condition(AlertKind.TOKEN_FAILED, subject, text))
    return list(found.values())


def token_expiring(expiries: Sequence[TokenExpiry], now: datetime, warn_days: float) -> list[Condition]:
    """Tokens an operator declared (``ALERT_TOKEN_EXPIRES``) that expire within the warning window."""
    found = []
    for token in expiries:
        if token.expires_at - now > timedelta(days=warn_days):
            continue
        subject = f"{token.platform}:{token.account or '*'}"
        whose = token.account or "every account"
        if token.expires_at <= now:
            text = f"The {token.platform} token of {whose} expired on {token.expires_at:%Y-%m-%d %H:%M} UTC"
        else:
            text = f"The {token.platform} token of {whose} expires on {token.expires_at:%Y-%m-%d %H:%M} UTC"
        found.append(_condition(AlertKind.TOKEN_EXPIRING, subject, text))
    return found


def _latest_pair(values: Sequence[float | int | None]) -> tuple[float, float] | None:
    """The newest two known values, (latest, previous)."""
    known = [v for v in values if v is not None]
    return (float(known[0]), float(known[1])) if len(known) >= 2 else None


def _judged(d: Destination, min_size: int) -> list[Snapshot]:
    """The snapshots worth comparing: all of them unless the older one is below ``min_size``.

    A list of a handful of people moves by tens of percent when one person leaves; those swings
    are noise, not incidents.
    """
    sized = [s for s in d.snapshots if s.size is not None]
    if min_size and len(sized) >= 2 and (sized[1].size or 0) < min_size:
        return []
    return list(d.snapshots)


def match_rate_drop(d: Destination, threshold: float, min_size: int = 0) -> Condition | None:
    """The match rate fell by ``threshold`` (absolute) between the two latest snapshots that have one."""
    pair = _latest_pair([s.match_rate for s in _judged(d, min_size)])
    drop = pair[1] - pair[0] if pair is not None else 0.0
    if pair is None or drop <= 0 or drop < threshold - EPSILON:
        return None
    text = f"Match rate of {d.name} dropped from {pair[1]:.0%} to {pair[0]:.0%}"
    return _condition(AlertKind.MATCH_RATE_DROP, d.subject, text)


def shrink(d: Destination, share: float, min_size: int = 0) -> Condition | None:
    """The platform's size fell by ``share`` or more between the two latest snapshots."""
    pair = _latest_pair([s.size for s in _judged(d, min_size)])
    if pair is None or pair[1] <= 0:
        return None
    latest, previous = pair
    if latest >= previous or (previous - latest) / previous < share - EPSILON:
        return None
    drop = 1 - latest / previous
    text = f"{d.name} shrank on the platform from {previous:,.0f} to {latest:,.0f} (-{drop:.0%})"
    return _condition(AlertKind.SHRINK, d.subject, text)


def flagged(d: Destination) -> Condition | None:
    """The platform restricted the audience: Meta's operation_status 471 or a flagged status."""
    latest = d.snapshots[0].operation_status if d.snapshots else None
    run = d.last_run()
    if not (
        latest == META_FLAGGED
        or d.status == DestinationStatus.FLAGGED
        or (run is not None and run.status == RunStatus.FLAGGED)
    ):
        return None
    code = f" (operation_status {latest})" if latest == META_FLAGGED else ""
    text = f"{d.name} is flagged by the platform{code}: it cannot be edited or deliver until reviewed"
    return _condition(AlertKind.FLAGGED, d.subject, text)


def dead_letters(counts: Mapping[str, int], threshold: int, window: float) -> list[Condition]:
    """A consumer dead-lettered ``threshold`` or more messages within the window (still unresolved)."""
    minutes = f"{window / 60:g} minutes"
    return [
        _condition(
            AlertKind.DEAD_LETTERS,
            consumer,
            f"{count} messages dead-lettered by {consumer} in the last {minutes} (GET /dead-letters)",
        )
        for consumer, count in sorted(counts.items())
        if count >= threshold
    ]


def conditions(facts: Facts, settings: AlertSettings) -> list[Condition]:
    """Every condition that holds now, one per incident key."""
    found: list[Condition | None] = []
    for d in facts.destinations:
        found += [
            run_failed(d),
            match_rate_drop(d, settings.match_rate_drop, settings.min_size),
            shrink(d, settings.shrink_share, settings.min_size),
            flagged(d),
        ]
    found += token_failed(facts.destinations)
    found += token_expiring(settings.token_expiry, facts.now, settings.token_warn_days)
    found += dead_letters(facts.dead_letters or {}, settings.dead_letter_growth, settings.dead_letter_window)
    unique = {c.key: c for c in found if c is not None}
    return list(unique.values())
