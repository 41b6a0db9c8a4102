"""State that survives restarts (``--state``), the real CLI as a subprocess, member resolution."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.customaudience import CustomAudience

from services.sandbox_meta.adapters.store import SandboxStore
from services.sandbox_meta.domain.payload import Row
from services.sandbox_meta.server import run_meta_sandbox
from tests.integration.sandbox_meta.conftest import (
    ACCOUNT,
    SECRET,
    TOKEN,
    config,
    emails,
    make_api,
    new_audience,
)

pytestmark = pytest.mark.integration

EMAIL = CustomAudience.Schema.email_hash
REPO = Path(__file__).resolve().parents[3]


def test_state_survives_a_restart_with_a_state_file(tmp_path: Path) -> None:
    state = tmp_path / "meta.sqlite"
    with run_meta_sandbox(config(state_path=state)) as first:
        account = AdAccount(ACCOUNT, api=make_api(first.url))
        audience = new_audience(account, value_based=True)
        rows = [[h, 2.5] for h in emails(120)]
        audience.add_users(["EMAIL", "LOOKALIKE_VALUE"], rows, is_raw=True, pre_hashed=True)
        audience.create_users_replace(
            params={
                "payload": {"schema": ["EMAIL", "LOOKALIKE_VALUE"], "data": rows[:100]},
                "session": {"session_id": 5, "batch_seq": 1, "last_batch_flag": False},
            }
        )
    with run_meta_sandbox(config(state_path=state)) as second:
        account = AdAccount(ACCOUNT, api=make_api(second.url))
        again = CustomAudience(audience["id"], api=account.get_api())
        read = again.api_get(fields=["name", "is_value_based", "operation_status"])
        assert (read["name"], read["is_value_based"]) == ("buyers", True)
        assert read["operation_status"]["code"] == 414  # the open replace survived too
        assert second.state.counts(audience["id"]) == (120, 120)
        assert set(second.state.values(audience["id"]).values()) == {2.5}
        assert int(new_audience(account)["id"]) > int(audience["id"])  # ids are never reused


def _start_cli(state: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    argv = [
        sys.executable, "-m", "services.cli.main", "sandbox", "meta", "--port", "0",
        "--access-token", TOKEN, "--app-secret", SECRET, "--ad-account", ACCOUNT, "--state", str(state),
    ]  # fmt: skip
    with log.open("a") as err:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on" not in line:
        _stop(process)
        pytest.fail(f"sandbox did not start: {line!r}\n{log.read_text()}")
    return process, line.split("listening on ", 1)[1].split()[0]


def _stop(process: subprocess.Popen[Any]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_cli_serves_the_sdk_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    state, log = tmp_path / "cli.sqlite", tmp_path / "cli.log"
    process, url = _start_cli(state, log)
    try:
        account = AdAccount(ACCOUNT, api=make_api(url))
        audience = new_audience(account)
        answer = audience.add_users(EMAIL, emails(25), pre_hashed=True).json()
        assert answer["num_received"] == 25
    finally:
        code = _stop(process)
    assert code == 0, log.read_text()
    assert TOKEN not in log.read_text() and SECRET not in log.read_text()  # never log credentials

    process, url = _start_cli(state, log)
    try:
        members = requests.get(f"{url}/_sandbox/audiences/{audience['id']}/members", timeout=5).json()
    finally:
        _stop(process)
    assert members["count"] == 25


def test_cli_rejects_bad_flags_with_exit_code_2(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "services.cli.main", "sandbox", "meta", "--ad-account", "acct-7"]
    finished = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
    assert finished.returncode == 2
    assert "act_<digits>" in finished.stderr


def test_rows_sharing_an_identifier_are_one_member_and_removals_match_any_identifier() -> None:
    store = SandboxStore()
    table = store.members

    def row(**fields: str) -> Row:
        return Row(identifiers=tuple(f"{k}:{v}" for k, v in sorted(fields.items())), fields=fields)

    with store.transaction():
        table.upsert("1", 0, [row(EMAIL="e1"), row(PHONE="p2")], lambda _: True)
        table.upsert("1", 0, [row(EMAIL="e1", PHONE="p2")], lambda _: True)  # links both: merge
        assert [m.fields for m in table.of("1", 0)] == [{"EMAIL": "e1", "PHONE": "p2"}]
        table.upsert("1", 0, [row(EMAIL="e3")], lambda idents: "EMAIL:e3" not in idents)
        assert table.counts("1", 0) == (2, 1)
        assert table.remove("1", 0, [row(PHONE="p2")]) == 1
        assert [m.fields for m in table.of("1", 0)] == [{"EMAIL": "e3"}]
        assert table.counts("2", 0) == (0, 0)  # audiences never share members
    store.close()
