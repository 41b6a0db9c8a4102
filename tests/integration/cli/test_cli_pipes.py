"""The ``audiencesync`` command as a shell pipeline sees it (a real process, its stdout a pipe)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    """``audiencesync hash ... | head -1``: the command stops quietly once nobody reads."""
    lines = tmp_path / "in.jsonl"
    lines.write_text("".join(f'{{"field": "email", "value": "a{i}@example.com"}}\n' for i in range(20_000)))
    env = {**os.environ, "AUDIENCESYNC_VAR_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "services.cli.main", "hash", "--platform", "meta"]
    with lines.open() as stdin:
        process = subprocess.Popen(
            command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().startswith("{")
        process.stdout.close()  # the reader is gone
        code = process.wait(60)
        stderr = process.stderr.read()
        process.stderr.close()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert code == 1
