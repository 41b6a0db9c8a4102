"""A consumer killed with SIGKILL mid-batch: its replacement loses nothing and applies nothing twice."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared.bus.broker import EmbeddedBroker
from shared.bus.envelope import Envelope
from shared.bus.producer import Publisher
from tests.integration.bus.harness import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_sigkill_mid_batch_then_takeover_is_exactly_once_in_effect(
    broker: EmbeddedBroker, new_topic, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    topic, group, db = new_topic("crash"), f"g-{uuid.uuid4().hex[:6]}", tmp_path / "effects.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE attempts(id TEXT); CREATE TABLE effects(id TEXT PRIMARY KEY);"
            "CREATE TABLE balance(total INTEGER); INSERT INTO balance VALUES (0);"
        )
    amounts = list(range(1, 1501))
    with Publisher(broker.bootstrap) as pub:
        pub.publish_many(
            topic,
            [Envelope(type="T", key=f"c{i % 37}", payload={"amount": a}) for i, a in enumerate(amounts)],
        )
        pub.flush()

    def consumer() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.bus.killable_consumer",
                broker.bootstrap,
                topic,
                group,
                str(db),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    first = consumer()
    try:
        wait_for(lambda: _count(db, "SELECT COUNT(*) FROM effects") >= 500, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = _count(db, "SELECT COUNT(*) FROM effects")
        assert killed_at < len(amounts), "the kill must land before the work is done"
        second = consumer()
        try:
            wait_for(lambda: _count(db, "SELECT COUNT(*) FROM effects") == len(amounts), timeout=90)
        finally:
            second.terminate()
            assert second.wait(20) == 0, "SIGTERM must stop the consumer cleanly"
    finally:
        if first.poll() is None:
            first.kill()
    assert _count(db, "SELECT total FROM balance") == sum(amounts)  # each effect applied exactly once
    assert _count(db, "SELECT COUNT(*) FROM attempts") > len(amounts)  # the killed batch really came again
