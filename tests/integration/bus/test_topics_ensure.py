"""``audiencesync topics ensure``: every topic created as asked, idempotently, or a one-line failure."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.bus.broker import EmbeddedBroker, free_port, topic_partitions
from shared.bus.topics import ALL_TOPICS, ORDERS_RAW, RAW_RETENTION_MS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def fresh_broker() -> Iterator[EmbeddedBroker]:
    """A broker of its own: the session broker may already hold these topic names."""
    with EmbeddedBroker() as running:
        yield running


def _ensure(*flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", "topics", "ensure", *flags],
        cwd=ROOT,
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _topic_settings(bootstrap: str, topic: str) -> dict[str, str]:
    """The settings the broker reports for ``topic`` (DescribeConfigs)."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        (response,) = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    (resource,) = response.resources
    return {entry[0]: entry[1] for entry in resource[4]}


def test_creates_every_topic_with_the_partitions_asked_and_is_idempotent(
    fresh_broker: EmbeddedBroker,
) -> None:
    first = _ensure("--bootstrap", fresh_broker.bootstrap, "--partitions", "3")
    assert first.returncode == 0, first.stderr
    assert topic_partitions(fresh_broker.bootstrap, ALL_TOPICS) == dict.fromkeys(ALL_TOPICS, 3)
    assert f"({len(ALL_TOPICS)} created)" in first.stdout
    # The raw webhooks, which an erasure cannot reach on the broker, are kept a bounded time.
    assert _topic_settings(fresh_broker.bootstrap, ORDERS_RAW)["retention.ms"] == str(RAW_RETENTION_MS)

    again = _ensure("--bootstrap", fresh_broker.bootstrap, "--partitions", "5")
    assert again.returncode == 0, again.stderr
    assert "(0 created)" in again.stdout
    assert "partitions are never added" in again.stdout  # asked 5, has 3: said, not changed
    assert topic_partitions(fresh_broker.bootstrap, ALL_TOPICS) == dict.fromkeys(ALL_TOPICS, 3)


def test_reads_the_broker_and_partitions_from_the_environment(fresh_broker: EmbeddedBroker) -> None:
    done = _ensure(env={"KAFKA_BOOTSTRAP_SERVERS": fresh_broker.bootstrap, "KAFKA_PARTITIONS": "2"})
    assert done.returncode == 0, done.stderr
    assert topic_partitions(fresh_broker.bootstrap, ALL_TOPICS) == dict.fromkeys(ALL_TOPICS, 2)


def test_unreachable_broker_fails_in_one_line_after_a_bounded_wait() -> None:
    nobody = f"127.0.0.1:{free_port()}"
    failed = _ensure("--bootstrap", nobody, "--wait", "2")
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and nobody in lines[0] and "did not answer" in lines[0]


def test_without_a_broker_configured_it_says_which_variable_to_set() -> None:
    failed = _ensure()
    assert failed.returncode == 2
    assert "KAFKA_BOOTSTRAP_SERVERS" in failed.stderr
