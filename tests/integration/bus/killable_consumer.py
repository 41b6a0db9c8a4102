"""A consumer process for the SIGKILL drill: applies each message's effect idempotently.

Effect: add the message's amount to a balance, guarded by the message id in the same SQLite
transaction, so a redelivered message changes nothing. Run: python -m ... BOOTSTRAP TOPIC GROUP DB
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Sequence

from shared.bus.consumer import ConsumerRunner, RunnerConfig, install_stop_signals
from shared.bus.producer import Publisher
from shared.bus.records import Delivery
from tests.integration.bus.harness import SESSION_TIMEOUT_MS


def main(bootstrap: str, topic: str, group: str, db: str) -> None:
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")

    def handle(batch: Sequence[Delivery]) -> None:
        for d in batch:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO attempts(id) VALUES (?)", (d.envelope.id,))
            cur = conn.execute("INSERT OR IGNORE INTO effects(id) VALUES (?)", (d.envelope.id,))
            if cur.rowcount:
                conn.execute("UPDATE balance SET total = total + ?", (d.envelope.payload["amount"],))
            conn.execute("COMMIT")
            time.sleep(0.004)  # make a batch take long enough to be killed in the middle

    config = RunnerConfig(
        name=group,
        topics=(topic,),
        bootstrap=bootstrap,
        batch_size=200,
        poll_timeout_ms=200,
        session_timeout_ms=SESSION_TIMEOUT_MS,
    )
    runner = ConsumerRunner(config, handle, publisher=Publisher(bootstrap))
    install_stop_signals(runner.stop)
    runner.run()


if __name__ == "__main__":
    main(*sys.argv[1:5])
