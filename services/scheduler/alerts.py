"""Alerts: which incidents are open now (pure), and sending each once to a Slack-compatible webhook.

``signals(facts, settings)`` turns plain facts about destinations and dead letters into signals,
each with a stable key naming its incident. ``Alerts.check()`` opens an incident for a new key and
sends its text once, keeps it open while the signal lasts, and resolves it when the signal goes;
the same problem coming back later is a new incident and alerts again. Signals:

- a destination's latest run failed (anything but succeeded, dry_run, refused, busy);
- a platform token refused (auth or permission error): one incident per platform account;
- the match rate dropped by ``ALERT_MATCH_RATE_DROP`` against the previous successful run;
- the platform's audience size fell by ``ALERT_SHRINK_SHARE`` against the largest recent size;
- a Meta audience flagged (``operation_status`` other than 200, e.g. 471) or a flagged destination;
- ``ALERT_DEAD_LETTER_GROWTH`` or more unresolved dead letters within the last hour.

Token expiry is not known to the store (the platforms do not report it on a sync), so only a
refused token alerts.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from services.scheduler.config import AlertSettings
from shared.log import get_logger
from shared.store.db import Store
from shared.store.models import (
    AlertIncident,
    AudienceSnapshot,
    DeadLetterRecord,
    DestinationAudience,
    SyncRun,
)

log = get_logger(__name__)

QUIET = frozenset({"succeeded", "dry_run", "refused", "busy", "running"})  # not a failure to alert on
TOKEN = frozenset({"auth_error", "permission_error"})
SEND_TIMEOUT = 10.0
RUNS_READ = 5  # latest runs read per destination
SNAPSHOTS_READ = 30


@dataclass(frozen=True)
class Destination:
    """What the checks need of one destination (plain data, newest first)."""

    id: int
    audience: str
    platform: str
    account: str
    status: str
    runs: Sequence[tuple[str, float | None, str | None]] = ()  # (status, match rate, message)
    sizes: Sequence[tuple[int | None, int | None]] = ()  # (operation_status, size_upper)


@dataclass(frozen=True)
class Facts:
    """Everything one check looks at."""

    destinations: Sequence[Destination] = ()
    dead_letters_last_hour: int = 0


@dataclass(frozen=True)
class Signal:
    """One open problem: ``key`` names its incident."""

    key: str
    kind: str
    text: str


def signals(facts: Facts, settings: AlertSettings) -> list[Signal]:
    """The problems open now, one per incident key."""
    found: dict[str, Signal] = {}
    for d in facts.destinations:
        where = f"{d.audience} on {d.platform} {d.account}"
        if d.runs:
            status, _, message = d.runs[0]
            if status in TOKEN:
                key = f"token:{d.platform}:{d.account}"
                found.setdefault(
                    key, Signal(key, "token", f"{d.platform} refused the token of {d.account}: {status}")
                )
            elif status not in QUIET:
                text = f"sync of {where} failed: {status}" + (f" ({message})" if message else "")
                found[f"run_failed:{d.id}"] = Signal(f"run_failed:{d.id}", "run_failed", text)
        rates = [rate for status, rate, _ in d.runs if status == "succeeded" and rate is not None]
        if len(rates) >= 2 and rates[1] - rates[0] >= settings.match_rate_drop:
            text = f"match rate of {where} dropped from {rates[1]:.0%} to {rates[0]:.0%}"
            found[f"match_drop:{d.id}"] = Signal(f"match_drop:{d.id}", "match_drop", text)
        sizes = [size for _, size in d.sizes if size is not None]
        if (
            len(sizes) >= 2
            and max(sizes[1:]) > 0
            and sizes[0] <= max(sizes[1:]) * (1 - settings.shrink_share)
        ):
            text = f"{where} shrank to {sizes[0]:,} from {max(sizes[1:]):,} on the platform"
            found[f"shrink:{d.id}"] = Signal(f"shrink:{d.id}", "shrink", text)
        operation = d.sizes[0][0] if d.sizes else None
        if d.status == "flagged" or operation not in (None, 200):
            text = f"{where} is flagged by the platform (operation_status {operation}); it does not deliver"
            found[f"flagged:{d.id}"] = Signal(f"flagged:{d.id}", "flagged", text)
    if facts.dead_letters_last_hour >= settings.dead_letter_growth:
        text = f"{facts.dead_letters_last_hour} messages dead-lettered in the last hour (GET /dead-letters)"
        found["dead_letters"] = Signal("dead_letters", "dead_letters", text)
    return list(found.values())


def read_facts(store: Store, now: datetime) -> Facts:
    """The latest runs and snapshots of every destination, and the last hour's dead letters."""
    with store.session() as session:
        destinations = []
        for dest in session.scalars(select(DestinationAudience).order_by(DestinationAudience.id)):
            runs = session.execute(
                select(SyncRun.status, SyncRun.feedback, SyncRun.message)
                .where(SyncRun.destination_audience_id == dest.id, SyncRun.status != "running")
                .order_by(SyncRun.id.desc())
                .limit(RUNS_READ)
            ).all()
            sizes = session.execute(
                select(AudienceSnapshot.operation_status, AudienceSnapshot.size_upper)
                .where(AudienceSnapshot.destination_audience_id == dest.id)
                .order_by(AudienceSnapshot.id.desc())
                .limit(SNAPSHOTS_READ)
            ).all()
            destinations.append(
                Destination(
                    dest.id,
                    dest.audience_key,
                    dest.platform,
                    dest.account_id,
                    dest.status,
                    [(s, (f or {}).get("match_rate"), m) for s, f, m in runs],
                    [(op, size) for op, size in sizes],
                )
            )
        letters = session.scalar(
            select(func.count())
            .select_from(DeadLetterRecord)
            .where(
                DeadLetterRecord.resolved_at.is_(None),
                DeadLetterRecord.created_at >= now - timedelta(hours=1),
            )
        )
    return Facts(destinations, int(letters or 0))


def post_json(url: str, body: dict[str, str]) -> None:
    """POST ``body`` as JSON (Slack's incoming-webhook shape is ``{"text": ...}``)."""
    request = urllib.request.Request(  # noqa: S310 - the operator's configured http(s) URL
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:  # noqa: S310
        response.read()


@dataclass
class Alerts:
    """Opens, keeps and resolves incidents; sends each new one once."""

    store: Store
    settings: AlertSettings
    shop: str = "default"
    send: Callable[[str, dict[str, str]], None] = post_json
    sent: list[str] = field(default_factory=list)  # keys sent by this process (for the log)

    def check(self, now: datetime | None = None) -> list[Signal]:
        """One round: record the open signals and send the alerts not yet delivered; the new ones."""
        now = now or datetime.now(UTC)
        current = {s.key: s for s in signals(read_facts(self.store, now), self.settings)}
        opened = self._record(current, now)
        self._deliver(now)
        return opened

    def _record(self, current: dict[str, Signal], now: datetime) -> list[Signal]:
        opened = []
        with self.store.transaction() as session:
            open_rows = {
                r.key: r
                for r in session.scalars(select(AlertIncident).where(AlertIncident.resolved_at.is_(None)))
            }
            for key, row in open_rows.items():
                if key in current:
                    row.last_seen_at = now
                else:
                    row.resolved_at = now  # the signal went: the same problem later is a new incident
        for key, signal in current.items():
            if key in open_rows:
                continue
            try:
                with self.store.transaction() as session:
                    session.add(
                        AlertIncident(
                            key=key, kind=signal.kind, text=signal.text, opened_at=now, last_seen_at=now
                        )
                    )
                opened.append(signal)
            except IntegrityError:
                continue  # another replica opened it a moment ago; it sends the alert
        return opened

    def _deliver(self, now: datetime) -> None:
        if not self.settings.webhook_url:
            return
        with self.store.session() as session:
            pending = session.scalars(
                select(AlertIncident).where(
                    AlertIncident.resolved_at.is_(None), AlertIncident.notified_at.is_(None)
                )
            ).all()
            waiting = [(row.id, row.key, row.text) for row in pending]
        for incident_id, key, text in waiting:
            # Claim before sending, so two replicas do not both send it; a failed send un-claims.
            with self.store.transaction() as session:
                claimed = session.execute(
                    update(AlertIncident)
                    .where(AlertIncident.id == incident_id, AlertIncident.notified_at.is_(None))
                    .values(notified_at=now)
                ).rowcount  # type: ignore[attr-defined]
            if not claimed:
                continue
            try:
                self.send(self.settings.webhook_url, {"text": f"audiencesync ({self.shop}): {text}"})
                self.sent.append(key)
                log.info("alert.sent", key=key)
            except Exception as exc:  # the webhook is down: retried at the next check
                with self.store.transaction() as session:
                    session.execute(
                        update(AlertIncident).where(AlertIncident.id == incident_id).values(notified_at=None)
                    )
                log.warning("alert.send_failed", key=key, error=f"{type(exc).__name__}: {exc}"[:300])
