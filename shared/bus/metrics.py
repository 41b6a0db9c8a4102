"""Prometheus metrics of the consumer runner, defined once for every service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES = Counter("audiencesync_messages_total", "Messages handled", ["consumer", "topic"])
DUPLICATES = Counter("audiencesync_duplicates_total", "Redelivered messages skipped by id", ["consumer"])
DEAD_LETTERS = Counter("audiencesync_dead_letters_total", "Messages dead-lettered", ["consumer", "topic"])
RETRIES = Counter(
    "audiencesync_handler_retries_total", "Batches retried after a transient error", ["consumer"]
)
COMMIT_REFUSED = Counter(
    "audiencesync_commit_refused_total", "Offset commits refused during a rebalance", ["consumer"]
)
BATCH_SECONDS = Histogram("audiencesync_batch_seconds", "Time to handle one batch", ["consumer"])
HANDLER_FAILURES = Counter(
    "audiencesync_handler_failures_total",
    "Messages dead-lettered because the handler raised on them alone",
    ["consumer", "error"],
)
