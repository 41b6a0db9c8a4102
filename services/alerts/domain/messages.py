"""The webhook body: Slack's incoming-webhook JSON (``text`` plus ``blocks``), readable anywhere.

``text`` alone carries the whole alert (Slack uses it for notifications and as the fallback; a
generic receiver reads just that); ``blocks`` lay it out in Slack. Nothing here holds personal
data: audiences, accounts, statuses and counts only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.alerts.domain.incidents import Incident, Message

_ICON = {Message.OPENED: ":rotating_light:", Message.RESOLVED: ":white_check_mark:"}


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "?"


def incident_body(incident: Incident, message: Message, shop: str) -> dict[str, Any]:
    """The post for an incident opening or resolving."""
    if message is Message.OPENED:
        headline = f"{_ICON[message]} [audiencesync {shop}] {incident.text}"
        context = f"incident `{incident.key}` opened {_at(incident.opened_at)}"
    else:
        headline = f"{_ICON[message]} [audiencesync {shop}] Resolved: {incident.text}"
        context = (
            f"incident `{incident.key}` opened {_at(incident.opened_at)}, "
            f"resolved {_at(incident.resolved_at)}"
        )
    return {
        "text": f"{headline} ({context})",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


def test_body(shop: str, now: datetime) -> dict[str, Any]:
    """The post ``audiencesync alerts test`` sends."""
    text = f":wave: [audiencesync {shop}] Test alert sent {_at(now)}: alerts reach this channel."
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
