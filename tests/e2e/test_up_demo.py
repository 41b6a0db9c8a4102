"""``audiencesync up --demo`` (what ``make run`` runs): summary, exit 0, nothing left running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def processes_with_env(needle: str) -> list[int]:
    """Pids whose environment contains ``needle`` (children inherit the test's var dir)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle.encode() in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_up_demo_runs_the_pipeline_and_leaves_no_process_behind(tmp_path: Path) -> None:
    env = {**os.environ, "AUDIENCESYNC_VAR_DIR": str(tmp_path / "var"), "LOG_FORMAT": "console"}
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "up", "--demo"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pipeline OK" in done.stdout
    assert str(tmp_path / "var" / "logs") in done.stdout
    assert (tmp_path / "var" / "audiencesync.db").exists()
    logs = {p.stem for p in (tmp_path / "var" / "logs").glob("*.log")}
    assert {"ingestor", "scorer", "syncer_meta", "syncer_google", "api", "scheduler"} <= logs
    for name in ("ingestor", "scorer", "syncer_meta", "syncer_google", "scheduler", "api"):
        assert "service.stopped" in (tmp_path / "var" / "logs" / f"{name}.log").read_text(), name
    # the broker and every service inherited our var dir in their environment: none may survive
    assert processes_with_env(f"AUDIENCESYNC_VAR_DIR={tmp_path}") == []
