"""One command run by the scheduler, beating while it runs and stopped when told to.

Both the refresh's rescore (``score --all``) and the sync worker's commands can run for minutes:
while they do, the caller's ``go_on`` is asked every ``BEAT`` seconds. It records the caller's
heartbeat (so another replica can tell a live holder from a dead one) and answers whether to go
on; once it says no (a cancel through the API, or the scheduler itself stopping on SIGTERM), the
command gets SIGTERM and ``STOP_GRACE`` seconds to end its current batch before SIGKILL.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

BEAT = 1.0  # seconds between heartbeats (and stop checks) while a command runs
STOP_GRACE = 10.0  # seconds a stopped command gets to end after SIGTERM
STOPPED = -15  # the exit code reported for a command stopped by ``go_on``


def run_beating(
    argv: list[str], env: dict[str, str], go_on: Callable[[], bool], *, beat: float = BEAT
) -> tuple[int, str, str]:
    """Run ``argv``; its exit code (``STOPPED`` when ``go_on`` stopped it), stdout and stderr."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while True:
        try:
            stdout, stderr = proc.communicate(timeout=beat)
            return proc.returncode, stdout, stderr
        except subprocess.TimeoutExpired:
            if go_on():
                continue
            proc.terminate()
            try:
                stdout, stderr = proc.communicate(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate()
            return STOPPED, stdout, stderr
