"""One alert check: read the facts, open and resolve incidents, post each due message once.

``check_alerts(store, settings, now)`` is what the scheduler calls on every loop; it runs at most
once per ``ALERT_CHECK_SECONDS`` in a process and never raises (a broken database, a bad
``ALERT_*`` value or a dead receiver is logged and tried again on a later check). The CLI's
``audiencesync alerts check`` calls ``run_check`` directly, ``--dry-run`` writing and sending nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from services.alerts.adapters import incidents
from services.alerts.adapters.facts import read_facts
from services.alerts.adapters.webhook import DeliveryFailed, post
from services.alerts.config import AlertSettings
from services.alerts.domain.incidents import Incident, Message, due_message, plan
from services.alerts.domain.messages import incident_body
from services.alerts.domain.rules import Condition, conditions
from shared.config import Settings
from shared.log import get_logger
from shared.store.db import Store

log = get_logger(__name__)

Send = Callable[[dict[str, Any]], None]


@dataclass
class CheckReport:
    """What one check found and did (or, in a dry run, would do)."""

    opened: list[Condition] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    posts: list[tuple[str, Message, dict[str, Any]]] = field(default_factory=list)  # sent / would send
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    error: str | None = None


def webhook_sender(settings: AlertSettings) -> Send | None:
    """A sender for the configured webhook; None when no URL is set."""
    url, timeout = settings.webhook_url, settings.timeout_seconds
    if not url:
        return None
    return lambda body: post(url, body, timeout)


def _deliver(store: Store, send: Send, shop: str, now: datetime, report: CheckReport) -> None:
    """Post every due message once; the first failure ends this round (the receiver is down)."""
    for incident in incidents.undelivered(store):
        message = due_message(incident, now)
        if message is None or not incidents.lease(store, incident, now):
            continue
        body = incident_body(incident, message, shop)
        try:
            send(body)
        except DeliveryFailed as exc:
            _failed(store, incident, now, str(exc), report)
            return
        except Exception as exc:  # a sender bug must not stop the check; the message waits
            _failed(store, incident, now, type(exc).__name__, report)
            return
        incidents.delivered(store, incident, message, now)
        report.posts.append((incident.key, message, body))
        log.info("alert.sent", key=incident.key, message=message.value)


def _failed(store: Store, incident: Incident, now: datetime, reason: str, report: CheckReport) -> None:
    # Failure policy: the message stays due and is retried on a later check after a doubling
    # backoff; the caller never sees the failure. The reason never holds the webhook URL.
    retry_at = incidents.failed(store, incident, now)
    report.failed.append((incident.key, reason))
    log.warning(
        "alert.delivery_failed",
        key=incident.key,
        reason=reason,
        attempts=incident.attempts + 1,
        retry_at=retry_at.isoformat(),
    )


def _dry_run(store: Store, current: list[Condition], shop: str, now: datetime, report: CheckReport) -> None:
    """What a check would post now, changing nothing."""
    known = incidents.open_incidents(store)
    change = plan(known.keys(), current)
    report.opened, report.still_open = list(change.open), list(change.keep)
    report.resolved = list(change.resolve)
    for condition in change.open:
        fresh = Incident(0, condition.key, condition.kind.value, condition.text, now)
        report.posts.append((condition.key, Message.OPENED, incident_body(fresh, Message.OPENED, shop)))
    for key in change.resolve:
        old = known[key]
        if old.notified_at is not None:
            closed = Incident(old.id, key, old.kind, old.text, old.opened_at, now, old.notified_at)
            report.posts.append((key, Message.RESOLVED, incident_body(closed, Message.RESOLVED, shop)))
    for incident in known.values():  # open incidents whose alert has not got through yet
        if incident.key in change.keep and due_message(incident, now) is Message.OPENED:
            report.posts.append((incident.key, Message.OPENED, incident_body(incident, Message.OPENED, shop)))


def run_check(
    store: Store,
    alerts: AlertSettings,
    now: datetime,
    *,
    shop: str = "default",
    send: Send | None = None,
    dry_run: bool = False,
) -> CheckReport:
    """One check; raises only on a database failure (``check_alerts`` catches it)."""
    report = CheckReport()
    current = conditions(read_facts(store, now, alerts.dead_letter_window), alerts)
    if dry_run:
        _dry_run(store, current, shop, now, report)
        return report
    change = plan(incidents.open_incidents(store).keys(), current)
    opened = set(incidents.apply(store, change, now))
    report.opened = [c for c in change.open if c.key in opened]
    report.still_open, report.resolved = list(change.keep), list(change.resolve)
    for condition in report.opened:
        log.warning("alert.incident_opened", key=condition.key)
    for key in change.resolve:
        log.info("alert.incident_resolved", key=key)
    send = send or webhook_sender(alerts)
    if send is not None:  # no webhook configured: incidents are recorded, nothing is sent
        _deliver(store, send, shop, now, report)
    return report


@cache
def _settings_from_env() -> AlertSettings:
    return AlertSettings.from_env()


_last_check: dict[str, datetime] = {}  # database URL -> last check in this process
_lock = threading.Lock()


def check_alerts(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    alerts: AlertSettings | None = None,
    send: Send | None = None,
) -> CheckReport | None:
    """The scheduler's hook: a check if ``ALERT_CHECK_SECONDS`` have passed here; never raises.

    None when no check was due. ``alerts`` defaults to the ``ALERT_*`` environment (read once).
    """
    try:
        alerts = alerts or _settings_from_env()
        with _lock:
            last = _last_check.get(store.url)
            if last is not None and (now - last).total_seconds() < alerts.check_seconds:
                return None
            _last_check[store.url] = now
        return run_check(store, alerts, now, shop=settings.shop, send=send)
    except Exception as exc:  # the caller's loop must go on; the next check tries again
        error = f"{type(exc).__name__}: {exc}"[:300]
        url = alerts.webhook_url if alerts is not None else None
        error = error.replace(url, "<ALERT_WEBHOOK_URL>") if url else error
        log.error("alerts.check_failed", error=error)
        return CheckReport(error=error)
