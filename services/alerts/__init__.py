"""Alerts: Slack-compatible webhook notifications, one per incident (docs/alerts.md)."""
