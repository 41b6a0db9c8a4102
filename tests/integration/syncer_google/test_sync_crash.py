"""SIGKILL in the middle of an upload on each Google path; the restarted syncer finishes the run.

The syncer runs as the real CLI in a subprocess against an in-process sandbox (its call log and
lists are the evidence). Killed after at least two acknowledged batches, restarted: no member
is missing, and only the batch in flight at the kill is sent again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from services.sandbox_google.config import GoogleSandboxConfig
from services.sandbox_google.server import run_google_sandbox
from services.sandbox_google.testing import session_identity
from shared.store.db import Store
from shared.store.models import SyncBatch, SyncRun
from tests.integration.syncer_google.seed import Person, email_hash, seed

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
MEMBERS, BATCH = 120, 20
SENDS = {
    "datamanager": "IngestionService/IngestAudienceMembers",
    "google_ads": "OfflineUserDataJobService/AddOfflineUserDataJobOperations",
}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A crash is about the process and the platform: one database kind here."""
    return f"sqlite:///{tmp_path / 'audiencesync.db'}"


def _batches(store: Store) -> list[SyncBatch]:
    with store.session() as session:
        return list(session.scalars(select(SyncBatch).order_by(SyncBatch.seq)))


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "services.cli.main", "sync", "google"]
    with log.open("ab") as out:
        return subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("api", ["datamanager", "google_ads"])
def test_a_killed_sync_resumes_without_losing_or_resending_batches(
    store: Store, tmp_path: Path, api: str
) -> None:
    seed(store, (Person(i, country="DE") for i in range(MEMBERS)))
    config = tmp_path / "audiences.yaml"
    audience = {"key": "icp", "select": {"label": "icp"}, "destinations": {"google": {"api": api}}}
    config.write_text(yaml.safe_dump({"audiences": [audience]}))
    log = tmp_path / "syncer.log"
    sandbox_config = GoogleSandboxConfig(
        processing_seconds=0.1, job_seconds=0.1, tls_identity=session_identity()
    )
    with run_google_sandbox(sandbox_config) as sandbox:
        env: dict[str, Any] = {
            **os.environ,
            "DATABASE_URL": store.url,
            "AUDIENCESYNC_CONFIG": str(config),
            "GOOGLE_CUSTOMERS": "1234567890",
            "GOOGLE_ACCESS_TOKEN": "sandbox-token",
            "GOOGLE_DEVELOPER_TOKEN": "sandbox-dev-token",
            "GOOGLE_DATAMANAGER_ENDPOINT": sandbox.endpoint,
            "GOOGLE_ADS_ENDPOINT": sandbox.endpoint,
            "GOOGLE_CA_FILE": str(sandbox.ca_pem_path),
            "GOOGLE_BATCH_SIZE": str(BATCH),
            "GOOGLE_MIN_AUDIENCE_SIZE": "0",
        }
        first = _start(env, log)
        deadline = time.monotonic() + 120
        while sum(b.status == "acknowledged" for b in _batches(store)) < 2:
            assert first.poll() is None, f"the syncer ended before the kill:\n{log.read_text()}"
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        acked = [b for b in _batches(store) if b.status == "acknowledged"]
        sends_at_kill = sandbox.calls[SENDS[api]]
        assert len(acked) <= sends_at_kill <= len(acked) + 1  # at most the batch in flight is extra

        second = _start(env, log)
        assert second.wait(timeout=120) == 0, log.read_text()

        (found,) = sandbox.state.user_lists()
        assert set(sandbox.state.members(found.id)) == {f"email:{email_hash(i)}" for i in range(MEMBERS)}
        with store.session() as session:
            (run,) = session.scalars(select(SyncRun)).all()
        assert run.status == "succeeded" and run.added == MEMBERS
        after = _batches(store)
        assert [(b.id, b.status) for b in after[: len(acked)]] == [(b.id, "acknowledged") for b in acked]
        # Only what was not acknowledged went again: the rest of the batches, once each.
        remaining = -(-(MEMBERS - sum(b.size for b in acked)) // BATCH)
        assert sandbox.calls[SENDS[api]] - sends_at_kill == remaining
        if api == "google_ads":
            jobs = sandbox.state.jobs()
            assert all(job.status in ("SUCCESS", "PENDING") for job in jobs), jobs
