"""The command line: every documented command is there, and the scheduler keeps time."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.cli.main import build_parser, main
from services.scheduler.schedule import next_slot


def test_version_prints_the_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith("audiencesync 0.")


@pytest.mark.parametrize(
    "argv",
    [["broker"], ["db", "upgrade"], ["serve", "ingestor"], ["serve", "api", "--port", "1"], ["up"]],
)
def test_documented_commands_parse(argv: list[str]) -> None:
    assert callable(build_parser().parse_args(argv).func)


def test_unknown_service_is_refused() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "nope"])


def test_nightly_refresh_is_the_next_two_am_utc() -> None:
    # The default REFRESH_CRON; services/scheduler has the cron and time-zone cases.
    assert next_slot("0 2 * * *", "UTC", datetime(2026, 1, 1, 1, 0, tzinfo=UTC)) == datetime(
        2026, 1, 1, 2, 0, tzinfo=UTC
    )
    assert next_slot("0 2 * * *", "UTC", datetime(2026, 1, 1, 2, 0, tzinfo=UTC)) == datetime(
        2026, 1, 2, 2, 0, tzinfo=UTC
    )


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
