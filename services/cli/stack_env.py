"""What a running ``audiencesync up`` tells other commands on its var dir: its broker and sandboxes.

``up`` starts a broker and the platform sandboxes on ports it picks, and gives their addresses to
its own services only. A command run beside it (``import``, ``refresh``, ``sync``) on the same
var dir would otherwise publish to a private broker the stack's scorer never reads, or sync
with no platform account at all. So ``up`` writes ``run/stack.json`` (owner-only) with those
settings and removes it when it stops; a command reads it only while that ``up`` process is
alive (its pid and start time, so a reused pid does not count) and only for variables the
environment leaves unset: what the user sets always wins. Only addresses and the sandboxes'
fixed tokens are written, never a secret from the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

FILE = "stack.json"


def _started(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, Linux), or None when it is not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name before ")" may hold spaces


def write(run_dir: Path, environ: Mapping[str, str]) -> None:
    """Record ``environ`` for commands run beside this process (``up``)."""
    path = run_dir / FILE
    body = json.dumps({"pid": os.getpid(), "started": _started(os.getpid()), "environ": dict(environ)})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(body)


def remove(run_dir: Path) -> None:
    """Forget the record (``up`` is stopping)."""
    (run_dir / FILE).unlink(missing_ok=True)


def running(var_dir: Path) -> dict[str, str]:
    """The settings a live ``up`` on ``var_dir`` recorded; empty when there is none."""
    try:
        record = json.loads((var_dir / "run" / FILE).read_text(encoding="utf-8"))
        pid, started, environ = int(record["pid"]), record["started"], record["environ"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if started is None or _started(pid) != started or not isinstance(environ, dict):
        return {}
    return {str(k): str(v) for k, v in environ.items()}


def adopt(var_dir: Path, environ: MutableMapping[str, str]) -> list[str]:
    """Set in ``environ`` what a live ``up`` recorded and ``environ`` leaves unset; their names."""
    recorded = running(var_dir)
    adopted = [name for name in recorded if name not in environ]
    for name in adopted:
        environ[name] = recorded[name]
    return adopted
