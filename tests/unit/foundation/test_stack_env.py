"""A command beside a running ``up`` adopts the broker and sandboxes it recorded, and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from services.cli import stack_env


def _record(var: Path, **fields: object) -> None:
    (var / "run").mkdir(parents=True, exist_ok=True)
    (var / "run" / stack_env.FILE).write_text(json.dumps(fields))


def test_a_live_stack_is_adopted_where_the_environment_is_silent(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    stack_env.write(tmp_path / "run", {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "META_ACCOUNTS": "act_1"})
    assert (tmp_path / "run" / stack_env.FILE).stat().st_mode & 0o777 == 0o600
    environ = {"META_ACCOUNTS": "act_mine"}
    assert stack_env.adopt(tmp_path, environ) == ["KAFKA_BOOTSTRAP_SERVERS"]
    assert environ == {"META_ACCOUNTS": "act_mine", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    stack_env.remove(tmp_path / "run")
    assert stack_env.running(tmp_path) == {}


def test_a_stack_that_is_gone_or_a_reused_pid_is_not_adopted(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import os; print(os.getpid())"]
    gone = subprocess.run(argv, capture_output=True, text=True, check=True)
    _record(tmp_path, pid=int(gone.stdout), started="1", environ={"KAFKA_BOOTSTRAP_SERVERS": "x:1"})
    assert stack_env.running(tmp_path) == {}
    # this process is alive, but it is not the process that wrote the record (another start time)
    _record(tmp_path, pid=os.getpid(), started="0", environ={"KAFKA_BOOTSTRAP_SERVERS": "x:1"})
    assert stack_env.running(tmp_path) == {}


def test_a_damaged_record_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    for body in ("", "{", "[]", '{"pid": "x"}', '{"pid": 1, "started": null, "environ": {}}'):
        (tmp_path / "run" / stack_env.FILE).write_text(body)
        assert stack_env.running(tmp_path) == {}, body
    assert stack_env.running(tmp_path / "nowhere") == {}
