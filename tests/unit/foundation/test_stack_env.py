"""A command beside a running ``up`` adopts the broker and sandboxes it recorded, and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli import stack_env

SANDBOXES = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
    "META_GRAPH_URL": "http://127.0.0.1:8",
    "META_ACCOUNTS": "act_sandbox",
    "META_ACCESS_TOKEN": "sandbox-token",
    "GOOGLE_CUSTOMERS": "1234567890",
}


def _record(var: Path, mode: int = 0o600, **fields: object) -> Path:
    (var / "run").mkdir(parents=True, exist_ok=True)
    path = var / "run" / stack_env.FILE
    path.write_text(json.dumps(fields))
    path.chmod(mode)
    return path


def _live(var: Path, environ: dict[str, str]) -> Path:
    started = stack_env._started(os.getpid())
    return _record(var, pid=os.getpid(), started=started, environ=environ)


def test_a_live_stack_is_adopted_by_group_where_the_user_set_nothing_of_it(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    stack_env.write(tmp_path / "run", SANDBOXES)
    assert (tmp_path / "run" / stack_env.FILE).stat().st_mode & 0o777 == 0o600
    environ = {"KAFKA_SESSION_TIMEOUT_MS": "4000", "META_CONSENT": "strict"}  # not claims of a group
    assert stack_env.adopt(tmp_path, environ) == (sorted(SANDBOXES), [])
    assert environ["META_ACCESS_TOKEN"] == "sandbox-token"
    # A user with their own Meta token file gets no Meta sandbox setting at all (their token must
    # never go to a sandbox address), but still the broker and Google.
    mine = {"META_ACCESS_TOKEN_FILE": "/run/secrets/meta", "META_ACCOUNTS": "act_1"}
    adopted, skipped = stack_env.adoptable(tmp_path, mine)
    assert set(adopted) == {"KAFKA_BOOTSTRAP_SERVERS", "GOOGLE_CUSTOMERS"} and skipped == ["Meta"]
    # The stack's own children already run with these values: nothing to adopt, nothing to say.
    assert stack_env.adoptable(tmp_path, dict(SANDBOXES)) == ({}, [])
    stack_env.remove(tmp_path / "run")
    assert stack_env.running(tmp_path) == {}


def test_only_the_names_up_writes_are_written_or_adopted(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    with pytest.raises(ValueError, match="PYTHONPATH"):
        stack_env.write(tmp_path / "run", {"PYTHONPATH": "/tmp/evil"})
    _live(
        tmp_path, {"PYTHONPATH": "/tmp/evil", "DATABASE_URL": "sqlite:///x", "KAFKA_BOOTSTRAP_SERVERS": "h:1"}
    )
    assert stack_env.running(tmp_path) == {"KAFKA_BOOTSTRAP_SERVERS": "h:1"}


def test_a_record_others_could_write_or_a_symlink_is_not_trusted(tmp_path: Path) -> None:
    path = _live(tmp_path, {"KAFKA_BOOTSTRAP_SERVERS": "h:1"})
    assert stack_env.running(tmp_path) == {"KAFKA_BOOTSTRAP_SERVERS": "h:1"}
    path.chmod(0o644)
    assert stack_env.running(tmp_path) == {}
    path.chmod(0o600)
    target = tmp_path / "elsewhere.json"
    path.rename(target)
    path.symlink_to(target)
    assert stack_env.running(tmp_path) == {}
    # writing replaces the link with a file of its own, and leaves the link's target alone
    stack_env.write(tmp_path / "run", {"KAFKA_BOOTSTRAP_SERVERS": "h:2"})
    assert not path.is_symlink() and json.loads(target.read_text())["environ"] == {
        "KAFKA_BOOTSTRAP_SERVERS": "h:1"
    }


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
        path = tmp_path / "run" / stack_env.FILE
        path.write_text(body)
        path.chmod(0o600)
        assert stack_env.running(tmp_path) == {}, body
    assert stack_env.running(tmp_path / "nowhere") == {}
