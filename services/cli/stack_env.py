"""What a running ``audiencesync up`` tells other commands on its var dir: its broker and sandboxes.

``up`` starts a broker and the platform sandboxes on ports it picks, and gives their settings to
its own services only. A command run beside it (``import``, ``refresh``, ``sync``) on the same
var dir would otherwise publish to a private broker the stack's scorer never reads, or sync
with no platform account at all. So ``up`` writes ``run/stack.json`` and removes it when it
stops. The record is trusted only when this user wrote it (owned by us, no access for others,
not a symlink) and while the ``up`` that wrote it lives (its pid and start time: a reused pid
does not count), and only for the names ``up`` writes (``ADOPTABLE``).

Adoption goes by group, never variable by variable (``GROUPS``): a user who set their own Meta
account, token (or its file) or address gets none of the Meta sandbox's settings, so a real
token is never sent to a sandbox address; likewise Google and the broker. Written are the
broker's address, the sandboxes' addresses, their fixed public test account and token, and
the demo's flush intervals: never a secret from the environment.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

FILE = "stack.json"


@dataclass(frozen=True)
class Group:
    """Settings adopted together: the names ``up`` may write, and the prefixes of the names
    that show the user configured this part themselves (an account, a token or its file, an
    address), in which case none of the group is adopted."""

    names: frozenset[str]
    claims: tuple[str, ...]


GROUPS = {
    "broker": Group(frozenset({"KAFKA_BOOTSTRAP_SERVERS"}), ("KAFKA_BOOTSTRAP_SERVERS",)),
    "Meta": Group(
        frozenset({"META_GRAPH_URL", "META_ACCOUNTS", "META_ACCESS_TOKEN", "META_FLUSH_SECONDS"}),
        ("META_ACCOUNTS", "META_ACCESS_TOKEN", "META_GRAPH_URL", "META_APP_"),  # _FILE, _ACT_N too
    ),
    "Google": Group(
        frozenset(
            {
                "GOOGLE_DATAMANAGER_ENDPOINT",
                "GOOGLE_ADS_ENDPOINT",
                "GOOGLE_CA_FILE",
                "GOOGLE_CUSTOMERS",
                "GOOGLE_ACCESS_TOKEN",
                "GOOGLE_DEVELOPER_TOKEN",
                "GOOGLE_FLUSH_SECONDS",
            }
        ),
        (
            "GOOGLE_CUSTOMERS",
            "GOOGLE_ACCESS_TOKEN",
            "GOOGLE_DEVELOPER_TOKEN",
            "GOOGLE_LOGIN_CUSTOMER",
            "GOOGLE_DATAMANAGER_ENDPOINT",
            "GOOGLE_ADS_ENDPOINT",
            "GOOGLE_CA_FILE",
        ),
    ),
}
ADOPTABLE = frozenset().union(*(group.names for group in GROUPS.values()))


def _started(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, Linux), or None when it is not running."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    return fields.rsplit(")", 1)[1].split()[19]  # field 22; the name before ")" may hold spaces


def write(run_dir: Path, environ: Mapping[str, str]) -> None:
    """Record ``environ`` (names in ``ADOPTABLE`` only) for commands run beside this ``up``.

    Written to a new owner-only file, then renamed over the record: a reader sees the old record
    or the new one, never half of one, and a symlink planted at the record's name is replaced.
    """
    unknown = set(environ) - ADOPTABLE
    if unknown:
        raise ValueError(f"not adoptable: {sorted(unknown)}")
    body = json.dumps({"pid": os.getpid(), "started": _started(os.getpid()), "environ": dict(environ)})
    temporary = run_dir / f".{FILE}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(body)
    os.replace(temporary, run_dir / FILE)


def remove(run_dir: Path) -> None:
    """Forget the record (``up`` is stopping)."""
    (run_dir / FILE).unlink(missing_ok=True)


def _trusted(path: Path) -> bool:
    """Written by this user for this user only: ours, no group or other access, not a symlink."""
    try:
        info = path.lstat()
    except OSError:
        return False
    own = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_ISREG(info.st_mode) and own and info.st_mode & 0o077 == 0


def running(var_dir: Path) -> dict[str, str]:
    """The settings a live ``up`` on ``var_dir`` recorded; empty when there is none to trust."""
    path = var_dir / "run" / FILE
    if not _trusted(path):
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        pid, started, environ = int(record["pid"]), record["started"], record["environ"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if started is None or _started(pid) != started or not isinstance(environ, dict):
        return {}
    return {str(k): str(v) for k, v in environ.items() if k in ADOPTABLE}


def adoptable(var_dir: Path, environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """What to add to ``environ`` from a live ``up``, and the groups left out because the
    environment already sets one of their variables (the user's own settings win whole)."""
    recorded = running(var_dir)
    adopted: dict[str, str] = {}
    skipped = []
    for name, group in GROUPS.items():
        offered = {k: v for k, v in recorded.items() if k in group.names}
        if all(environ.get(k) == v for k, v in offered.items()):
            continue  # nothing offered, or in force already (the stack's own children)
        if any(key.startswith(group.claims) for key in environ):
            skipped.append(name)
        else:
            adopted |= offered
    return adopted, skipped


def adopt(var_dir: Path, environ: MutableMapping[str, str]) -> tuple[list[str], list[str]]:
    """Set in ``environ`` what ``adoptable`` offers; the names set and the groups skipped."""
    adopted, skipped = adoptable(var_dir, environ)
    environ.update(adopted)
    return sorted(adopted), skipped
