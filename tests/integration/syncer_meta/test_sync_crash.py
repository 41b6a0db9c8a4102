"""SIGKILL in the middle of a 50,000-member upload; the restarted syncer finishes the same run.

The syncer runs as the real CLI in a subprocess against an in-process sandbox (whose call log
and sessions are the evidence). Killed after at least two acknowledged batches, restarted: no
member is missing and no acknowledged batch is sent again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from services.sandbox_meta.server import run_meta_sandbox
from shared.store.db import Store
from shared.store.models import DestinationAudience, SyncBatch, SyncRun
from tests.integration.syncer_meta.conftest import AUDIENCES, sandbox_config, settings_env
from tests.integration.syncer_meta.seed import Person, email_hash, seed

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
MEMBERS = 50_000
USERS = "POST /{audience_id}/users"


def _batches(store: Store) -> list[SyncBatch]:
    with store.session() as session:
        return list(session.scalars(select(SyncBatch).order_by(SyncBatch.seq)))


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "services.cli.main", "sync", "meta", "--audience", "icp_seed"]
    with log.open("ab") as out:
        return subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_a_killed_sync_resumes_without_losing_or_resending_batches(store: Store, tmp_path: Path) -> None:
    seed(store, (Person(i, value=Decimal(i % 500), phone=False) for i in range(MEMBERS)), chunk=10_000)
    config = tmp_path / "audiences.yaml"
    config.write_text(yaml.safe_dump({"audiences": AUDIENCES}))
    log = tmp_path / "syncer.log"
    with run_meta_sandbox(sandbox_config(latency_ms=250)) as sandbox:
        env = {**os.environ, **settings_env(sandbox.url, store.url, AUDIENCESYNC_CONFIG=str(config))}
        first = _start(env, log)
        deadline = time.monotonic() + 120
        while sum(b.status == "acknowledged" for b in _batches(store)) < 2:
            assert first.poll() is None, f"the syncer ended before the kill:\n{log.read_text()}"
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        at_kill = _batches(store)
        acked = [b for b in at_kill if b.status == "acknowledged"]
        in_flight = [b for b in at_kill if b.status == "sent"]
        with store.session() as session:
            (run,) = session.scalars(select(SyncRun)).all()
            audience_id = session.scalars(select(DestinationAudience.platform_audience_id)).one()
        assert run.status == "running" and 2 <= len(acked) < 5 and len(in_flight) <= 1
        calls_at_kill = sandbox.calls[USERS]
        received_at_kill = sum(s.num_received for s in sandbox.state.sessions(audience_id))
        acked_rows = sum(b.size for b in acked)
        # The sandbox saw every acknowledged batch, plus perhaps the one in flight.
        assert received_at_kill - acked_rows in (0, *(b.size for b in in_flight))

        second = _start(env, log)
        assert second.wait(timeout=120) == 0, log.read_text()

        members = sandbox.state.members(audience_id)
        assert len(members) == MEMBERS
        assert members == {email_hash(i): float(i % 500) for i in range(MEMBERS)}
        after = _batches(store)
        with store.session() as session:
            (resumed,) = session.scalars(select(SyncRun)).all()
        assert resumed.id == run.id and resumed.status == "succeeded" and resumed.added == MEMBERS
        # Acknowledged batches kept their records; only the rest was sent, once each.
        assert [(b.id, b.status) for b in after[: len(acked)]] == [(b.id, "acknowledged") for b in acked]
        assert sum(b.size for b in after if b.status == "acknowledged") == MEMBERS
        assert all(b.status == "unconfirmed" for b in after if b.id in {f.id for f in in_flight})
        remaining_batches = -(-(MEMBERS - acked_rows) // 10_000)
        assert sandbox.calls[USERS] - calls_at_kill == remaining_batches
        sessions = sandbox.state.sessions(audience_id)
        received = sum(s.num_received for s in sessions)
        assert received == MEMBERS + (received_at_kill - acked_rows)
        assert {b.session_id for b in after if b.status == "acknowledged"} == {s.session_id for s in sessions}
        assert all(s.closed for s in sessions)
