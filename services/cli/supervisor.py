"""Supervision of the embedded stack's processes: a crashed one comes back, with backoff.

A deployment has an orchestrator (Kubernetes, compose's ``restart:``) for this; ``audiencesync
up`` is its own. The policy is pure (``Backoff``); ``Child`` is the thin process adapter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.bus.broker import spawn_tied


@dataclass
class Backoff:
    """Delay before restarting a process that exited: doubling per crash, reset by a stable run.

    A process that keeps crashing at start (a poison configuration, a port taken) waits up to
    ``cap`` seconds between attempts instead of spinning; one that ran ``stable_after`` seconds
    before dying is treated as a first crash.
    """

    base: float = 1.0
    cap: float = 30.0
    stable_after: float = 60.0
    crashes: int = 0
    started_at: float = 0.0

    def started(self, now: float) -> None:
        """Record a start."""
        self.started_at = now

    def delay_after_exit(self, now: float) -> float:
        """Seconds to wait before the next start, given the process exited at ``now``."""
        if now - self.started_at >= self.stable_after:
            self.crashes = 0
        delay = min(self.cap, self.base * 2.0**self.crashes)
        self.crashes += 1
        return delay


@dataclass
class Child:
    """One supervised process of the stack: how to start it, and its state."""

    name: str
    argv: list[str]
    env: Mapping[str, str]
    log_file: Path
    pid_file: Path
    backoff: Backoff = field(default_factory=Backoff)
    process: subprocess.Popen[bytes] | None = None
    restart_at: float | None = None  # set while waiting to restart after an exit
    restarts: int = 0

    def spawn(self, now: float) -> None:
        """Start the process (tied to ours by PDEATHSIG), logging to its file; write its pid file."""
        self._kill_group()  # a restart: nothing the previous process started may linger
        with open(self.log_file, "ab") as out:
            self.process = spawn_tied(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.pid_file.write_text(f"{self.process.pid}\n")
        self.backoff.started(now)
        self.restart_at = None

    @property
    def exit_code(self) -> int | None:
        """The exit code once it exited, else None."""
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        """Send SIGTERM if it runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def wait(self, timeout: float) -> bool:
        """Wait for the exit; SIGKILL after ``timeout``. Returns whether it stopped in time.

        Then SIGKILL whatever is left of its process group (``spawn_tied`` makes it the leader),
        so nothing it started outlives the stack.
        """
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=max(0.1, timeout))
            return True
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return False
        finally:
            self._kill_group()
            self.pid_file.unlink(missing_ok=True)

    def _kill_group(self) -> None:
        """SIGKILL what is left of the last process's group (anything it started)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
