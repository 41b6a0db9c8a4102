"""Google syncer: an initial sync of 1,000,000 members and a 1% delta on each Google path.

Like ``meta_sync``: the database (SQLite, temporary) is seeded with bulk inserts (customers in
the US with marketing consent, ``icp`` labels, one hashed email each for both Google identifier
sets); the Google sandbox runs as its own process (``audiencesync sandbox google --state FILE``,
asynchronous processing shortened to 50 ms, quotas lifted so the figures are the syncer's own)
and so does each sync (the real ``audiencesync sync google --json``). Printed per path: wall
time, upload requests against the minimum for the path's caps (Data Manager: ceil(n / 10,000)
ingest or remove requests; Google Ads API: ceil(n / 33,333) Add requests, 3 identifiers at most
per member and 100,000 per request), every call by method, and the sync process's peak RSS.
Asserts nothing.

Run: ``python -m bench google_sync`` (``BENCH_SCALE=0.1`` for 100,000 members).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from shared.store.migrate import upgrade

MEMBERS = 1_000_000
CUSTOMER, TOKEN, DEV = "1234567890", "bench-token", "bench-dev-token"
CAPS = {"datamanager": 10_000, "google_ads": 100_000 // 3}
SENDS = {
    "datamanager": ("IngestionService/IngestAudienceMembers", "IngestionService/RemoveAudienceMembers"),
    "google_ads": ("OfflineUserDataJobService/AddOfflineUserDataJobOperations",),
}
STAMP = datetime(2026, 5, 1, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(path: Path, first: int, count: int, chunk: int = 50_000) -> None:
    with sqlite3.connect(path) as db:
        for start in range(first, first + count, chunk):
            keys = [(i, _sha(f"customer-{i}")) for i in range(start, min(start + chunk, first + count))]
            db.executemany(
                "INSERT INTO customers (customer_key, shop, country, accepts_email_marketing, first_seen_at, "
                "updated_at) VALUES (?, 'bench', 'US', 1, ?, ?)",
                [(k, STAMP, STAMP) for _, k in keys],
            )
            db.executemany(
                "INSERT INTO labels (customer_key, label, stage, reasons, value, as_of, scored_at) "
                "VALUES (?, 'icp', 'repeat', '[]', 10, ?, ?)",
                [(k, STAMP, STAMP) for _, k in keys],
            )
            db.executemany(
                "INSERT INTO customer_identifiers (customer_key, platform, field, value, added_at) "
                "VALUES (?, ?, 'email', ?, ?)",
                [
                    (k, platform, _sha(f"user{i}@example.com"), STAMP)
                    for i, k in keys
                    for platform in ("google-dm", "google-ads")
                ],
            )


def _relabel(path: Path, count: int) -> None:
    with sqlite3.connect(path) as db:
        keys = [(_sha(f"customer-{i}"),) for i in range(0, count * 7, 7)]
        db.executemany("UPDATE labels SET label = 'neutral' WHERE customer_key = ?", keys)


def _admin(url: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - loopback sandbox
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        return json.loads(response.read())


def _start_sandbox(folder: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    port, admin = _free_port(), _free_port()
    argv = [
        sys.executable, "-m", "services.cli.main", "sandbox", "google", "--port", str(port),
        "--admin-port", str(admin), "--cert-dir", str(folder / "certs"), "--access-token", TOKEN,
        "--allowlisted-developer-token", DEV, "--customer", CUSTOMER, "--state", str(folder / "sandbox.db"),
        "--processing-seconds", "0.05", "--job-seconds", "0.05", "--quota-per-minute", "1000000",
        "--quota-per-day", "100000000", "--ads-operations-per-day", "100000000",
    ]  # fmt: skip
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{admin}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _admin(f"{url}/health")
            return process, port, url
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the Google sandbox did not start") from None
            time.sleep(0.2)


def _sync(env: dict[str, str]) -> tuple[float, float, list[dict[str, Any]]]:
    argv = [sys.executable, "-m", "services.cli.main", "sync", "google", "--json"]
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
    counts: dict[str, int] = _admin(f"{url}/calls")["counts"]
    _admin(f"{url}/calls", "DELETE")
    return counts


def _report(
    label: str, api: str, wall: float, rss: float, run: dict[str, Any], counts: dict[str, int]
) -> None:
    cap = CAPS[api]
    minimum = -(-run["added"] // cap) + -(-run["removed"] // cap)
    sends = sum(counts.get(method, 0) for method in SENDS[api])
    rows = run["added"] + run["removed"]
    print(f"{label}:")
    print(f"  wall time                          {wall:8.1f} s   ({rows / max(wall, 1e-9):,.0f} rows/s)")
    print(f"  rows sent                          {run['added']:,} added, {run['removed']:,} removed")
    print(
        f"  upload requests / minimum          {sends} / {minimum}"
        + ("   (minimal)" if sends == minimum else "")
    )
    print(f"  all Google calls                   {sum(counts.values())}   {dict(sorted(counts.items()))}")
    print(f"  sync process peak RSS              {rss:8.0f} MiB", flush=True)


def _path(api: str, members: int) -> None:
    half_percent = members // 200
    print(f"\n--- {api}: {members:,} members, email identifiers ---", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"bench-google-{api}-") as tmp:
        folder = Path(tmp)
        database = folder / "audiencesync.db"
        upgrade(f"sqlite:///{database}")
        started = time.perf_counter()
        _seed(database, 0, members)
        print(f"  seeded the database (bulk inserts)  {time.perf_counter() - started:8.1f} s", flush=True)
        config = folder / "audiences.yaml"
        audience = {"key": "icp_seed", "select": {"label": "icp"}, "destinations": {"google": {"api": api}}}
        config.write_text(yaml.safe_dump({"audiences": [audience]}))
        sandbox, port, url = _start_sandbox(folder)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{database}",
            "AUDIENCESYNC_CONFIG": str(config),
            "GOOGLE_CUSTOMERS": CUSTOMER,
            "GOOGLE_ACCESS_TOKEN": TOKEN,
            "GOOGLE_DEVELOPER_TOKEN": DEV,
            "GOOGLE_DATAMANAGER_ENDPOINT": f"localhost:{port}",
            "GOOGLE_ADS_ENDPOINT": f"localhost:{port}",
            "GOOGLE_CA_FILE": str(folder / "certs" / "ca.pem"),
            "GOOGLE_REQUESTS_PER_MINUTE": "1000000",
            "GOOGLE_REQUESTS_PER_DAY": "100000000",
            "GOOGLE_ADS_OPERATIONS_PER_DAY": "100000000",
            "LOG_LEVEL": "WARNING",
        }
        try:
            wall, rss, (run,) = _sync(env)
            _report("initial sync", api, wall, rss, run, _calls(url))
            _relabel(database, half_percent)
            _seed(database, members, half_percent)
            wall, rss, (run,) = _sync(env)
            _report(f"1% delta (+{half_percent:,} / -{half_percent:,})", api, wall, rss, run, _calls(url))
            wall, rss, (run,) = _sync(env)
            calls = sum(_calls(url).values())
            print(f"no-change sync:\n  wall time {wall:.1f} s, Google calls {calls}, peak RSS {rss:.0f} MiB")
            lists = _admin(f"{url}/lists")["lists"]
            print(f"sandbox members at the end: {[lst['members'] for lst in lists]} (expected {members:,})")
        finally:
            sandbox.send_signal(signal.SIGTERM)
            sandbox.wait(timeout=60)


def main() -> None:
    """Both paths: seed, sandbox, initial sync, 1% delta, no-change sync."""
    members = max(1_000, int(MEMBERS * float(os.environ.get("BENCH_SCALE", "1"))))
    for api in os.environ.get("BENCH_GOOGLE_APIS", "datamanager,google_ads").split(","):
        _path(api, members)


if __name__ == "__main__":
    main()
