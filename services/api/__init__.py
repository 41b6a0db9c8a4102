"""Api: webhooks in, and the ad-ops REST API (sync triggers, status, audiences); health and metrics."""
