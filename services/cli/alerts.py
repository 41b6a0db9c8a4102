"""``audiencesync alerts check [--dry-run]`` and ``alerts test``: the alert webhook by hand.

``check`` runs one alert check now (the scheduler runs the same every ``ALERT_CHECK_SECONDS``);
``--dry-run`` prints the incidents that would open or resolve and the messages that would be
posted, writing and sending nothing. ``test`` posts a test message to ``ALERT_WEBHOOK_URL``.
Exit codes: 0 done, 1 a post failed, 2 no webhook configured (``test``) or a settings error.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from shared.config import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``alerts check`` and ``alerts test``."""
    alerts = sub.add_parser("alerts", help="alert webhook: check the alert conditions now, or send a test")
    commands = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    check = commands.add_parser("check", help="check the alert conditions now and post new alerts")
    check.add_argument("--dry-run", action="store_true", help="print what would be sent; change nothing")
    check.add_argument("--json", action="store_true", help="print the messages as JSON bodies")
    check.set_defaults(func=_check)
    test = commands.add_parser("test", help="post a test message to ALERT_WEBHOOK_URL")
    test.set_defaults(func=_test)


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from services.alerts.check import run_check
    from services.alerts.config import AlertSettings
    from shared.store.db import Store
    from shared.store.migrate import upgrade

    alerts = AlertSettings.from_env()
    upgrade(settings.database_url)
    store = Store(settings.database_url)
    try:
        report = run_check(store, alerts, datetime.now(UTC), shop=settings.shop, dry_run=args.dry_run)
    finally:
        store.dispose()
    would = "would " if args.dry_run else ""
    for condition in report.opened:
        print(f"{would}open    {condition.key}")
    for key in report.still_open:
        print(f"still open   {key}")
    for key in report.resolved:
        print(f"{would}resolve {key}")
    if not alerts.webhook_url:
        print("no ALERT_WEBHOOK_URL: incidents are recorded, nothing is posted")
    for key, message, body in report.posts:
        shown = json.dumps(body) if args.json else body["text"]
        print(f"{would}post ({message}, {key}): {shown}")
    for key, reason in report.failed:
        print(f"post failed ({key}): {reason}; retried on a later check")
    if not (report.opened or report.still_open or report.resolved):
        print("no alert conditions hold")
    return 1 if report.failed else 0


def _test(args: argparse.Namespace, settings: Settings) -> int:
    from services.alerts.adapters.webhook import DeliveryFailed, post
    from services.alerts.config import AlertSettings
    from services.alerts.domain.messages import test_body

    alerts = AlertSettings.from_env()
    if not alerts.webhook_url:
        print("audiencesync: ALERT_WEBHOOK_URL (or ALERT_WEBHOOK_URL_FILE) is not set")
        return 2
    try:
        post(alerts.webhook_url, test_body(settings.shop, datetime.now(UTC)), alerts.timeout_seconds)
    except DeliveryFailed as exc:
        print(f"test alert not delivered: {exc}")
        return 1
    print("test alert delivered")
    return 0
