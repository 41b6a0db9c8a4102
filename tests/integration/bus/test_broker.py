"""The embedded broker: runs in the foreground, stops on SIGTERM, dies with its parent."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shared.bus.broker import free_port, free_ports, list_topics
from tests.integration.bus.harness import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def _line_with(proc: subprocess.Popen[str], marker: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker in line:
            return line
    raise AssertionError(f"{marker!r} never printed")


def test_broker_command_serves_until_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "broker", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        _line_with(proc, "listening on")
        assert "orders.raw" in list_topics(f"127.0.0.1:{port}")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]


def test_broker_dies_with_a_parent_killed_by_sigkill() -> None:
    script = (
        "from shared.bus.broker import EmbeddedBroker; import time, sys\n"
        "b = EmbeddedBroker().start(); print('PID', b._process.pid, flush=True); time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        broker_pid = int(_line_with(parent, "PID ").split()[-1])
        assert _alive(broker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_for(lambda: not _alive(broker_pid), timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()  # type: ignore[union-attr]


def test_free_ports_are_distinct_and_bindable() -> None:
    """A stack picks several ports before binding them: none may be handed out twice."""
    ports = free_ports(64)
    assert len(set(ports)) == 64
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))
