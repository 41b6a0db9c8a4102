"""Meta syncer: an initial sync of 1,000,000 members and a 1% delta against the Meta sandbox.

The database (SQLite, in a temporary folder) is seeded directly with bulk inserts: customers,
``icp`` labels with a predicted value, and one hashed email each. The sandbox runs as its own
process (``audiencesync sandbox meta --state FILE``) and so does each sync (the real
``audiencesync sync meta`` command), so the figures are the syncer's own: wall time, the
upload calls the sandbox received against the minimum ceil(n / 10,000) per direction, and the
sync process's peak RSS (``wait4``). The delta relabels 0.5% of the members out of the
audience and adds 0.5% new ones. Prints figures only; asserts nothing.

Run: ``python -m bench meta_sync`` (``BENCH_SCALE=0.1`` for a 100,000-member run).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import yaml

from shared.store.migrate import upgrade

MEMBERS = 1_000_000
ROWS_PER_CALL = 10_000
ACCOUNT, TOKEN = "act_1000", "bench-token"
USERS = ("POST /{audience_id}/users", "DELETE /{audience_id}/users")
AUDIENCES = {
    "audiences": [
        {"key": "icp_seed", "select": {"label": "icp"}, "destinations": {"meta": {"value_based": True}}}
    ]
}
STAMP = datetime(2026, 5, 1, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite format


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _seed(path: Path, first: int, count: int, chunk: int = 50_000) -> None:
    """Bulk insert customers ``first..first+count`` with icp labels and a hashed email."""
    with sqlite3.connect(path) as db:
        for start in range(first, first + count, chunk):
            keys = [(i, _sha(f"customer-{i}")) for i in range(start, min(start + chunk, first + count))]
            db.executemany(
                "INSERT INTO customers (customer_key, shop, accepts_email_marketing, first_seen_at, "
                "updated_at) VALUES (?, 'bench', 1, ?, ?)",
                [(k, STAMP, STAMP) for _, k in keys],
            )
            db.executemany(
                "INSERT INTO labels (customer_key, label, stage, reasons, value, as_of, scored_at) "
                "VALUES (?, 'icp', 'repeat', '[]', ?, ?, ?)",
                [(k, (i % 997) / 4, STAMP, STAMP) for i, k in keys],
            )
            db.executemany(
                "INSERT INTO customer_identifiers (customer_key, platform, field, value, added_at) "
                "VALUES (?, 'meta', 'EMAIL', ?, ?)",
                [(k, _sha(f"user{i}@example.com"), STAMP) for i, k in keys],
            )


def _relabel(path: Path, count: int) -> None:
    """Move ``count`` members out of the audience (label icp -> neutral)."""
    with sqlite3.connect(path) as db:
        keys = [(_sha(f"customer-{i}"),) for i in range(0, count * 7, 7)]
        db.executemany("UPDATE labels SET label = 'neutral' WHERE customer_key = ?", keys)


def _start_sandbox(folder: Path) -> tuple[subprocess.Popen[str], str]:
    argv = [
        sys.executable, "-m", "services.cli.main", "sandbox", "meta", "--port", "0",
        "--access-token", TOKEN, "--ad-account", ACCOUNT, "--state", str(folder / "sandbox.sqlite"),
    ]  # fmt: skip
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"the sandbox did not start: {line!r}")
    return process, line.split("listening on ", 1)[1].split()[0]


def _sync(env: dict[str, str]) -> tuple[float, float, list[dict[str, Any]]]:
    """Run ``audiencesync sync meta --json``; returns wall seconds, peak RSS (MiB) and its reports."""
    argv = [sys.executable, "-m", "services.cli.main", "sync", "meta", "--json"]
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if process.returncode != 0:
        raise RuntimeError(f"sync failed ({process.returncode}): {reports}")
    return wall, usage.ru_maxrss / 1024, reports


def _calls(url: str) -> dict[str, int]:
    counts: dict[str, int] = requests.get(f"{url}/_sandbox/calls", timeout=30).json()["counts"]
    requests.delete(f"{url}/_sandbox/calls", timeout=30)
    return counts


def _report(
    label: str, wall: float, rss: float, run: dict[str, Any], counts: dict[str, int], adds: int, removes: int
) -> None:
    minimum = -(-adds // ROWS_PER_CALL) + -(-removes // ROWS_PER_CALL)
    uploads = sum(counts.get(route, 0) for route in USERS)
    rows = run["added"] + run["removed"]
    print(f"{label}:")
    print(f"  wall time                          {wall:8.1f} s   ({rows / wall:,.0f} rows/s)")
    print(f"  rows sent                          {run['added']:,} added, {run['removed']:,} removed")
    print(
        f"  upload calls / minimum             {uploads} / {minimum}"
        + ("   (minimal)" if uploads == minimum else "")
    )
    print(f"  all Graph calls                    {sum(counts.values())}   {dict(sorted(counts.items()))}")
    print(f"  sync process peak RSS              {rss:8.0f} MiB")
    print(f"  Meta size bounds                   {run['size_lower']:,}-{run['size_upper']:,}", flush=True)


def main() -> None:
    """Seed, start the sandbox, then an initial sync, a 1% delta and a no-change sync."""
    members = max(1_000, int(MEMBERS * float(os.environ.get("BENCH_SCALE", "1"))))
    half_percent = members // 200
    print(f"{members:,} members, value-based seed, rows of EMAIL + LOOKALIKE_VALUE", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-meta-") as tmp:
        folder = Path(tmp)
        database = folder / "audiencesync.db"
        upgrade(f"sqlite:///{database}")
        started = time.perf_counter()
        _seed(database, 0, members)
        print(f"  seeded the database (bulk inserts)  {time.perf_counter() - started:8.1f} s", flush=True)
        config = folder / "audiences.yaml"
        config.write_text(yaml.safe_dump(AUDIENCES))
        sandbox, url = _start_sandbox(folder)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{database}",
            "AUDIENCESYNC_CONFIG": str(config),
            "META_GRAPH_URL": url,
            "META_ACCOUNTS": ACCOUNT,
            "META_ACCESS_TOKEN": TOKEN,
            "META_SYNC_ON_START": "false",
            "LOG_LEVEL": "WARNING",
        }
        try:
            wall, rss, (run,) = _sync(env)
            _report("initial sync", wall, rss, run, _calls(url), members, 0)
            _relabel(database, half_percent)
            _seed(database, members, half_percent)
            wall, rss, (run,) = _sync(env)
            _report(
                f"1% delta (+{half_percent:,} / -{half_percent:,})",
                wall,
                rss,
                run,
                _calls(url),
                half_percent,
                half_percent,
            )
            wall, rss, (run,) = _sync(env)
            calls = sum(_calls(url).values())
            print(f"no-change sync:\n  wall time {wall:.1f} s, Graph calls {calls}, peak RSS {rss:.0f} MiB")
            audiences = requests.get(f"{url}/_sandbox/audiences", timeout=60).json()
            listed = audiences.get("audiences", audiences) if isinstance(audiences, dict) else audiences
            print(f"sandbox members at the end: {[a.get('members') for a in listed]} (expected {members:,})")
        finally:
            sandbox.send_signal(signal.SIGTERM)
            sandbox.wait(timeout=60)


if __name__ == "__main__":
    main()
