"""REST API: ``GET /syncs/{id}`` and ``GET /audiences/{key}/health`` at a fixed request rate.

The api runs as its own process, the way it is deployed (``audiencesync serve api``: waitress,
16 request threads; gunicorn is not a dependency of this project), over a migrated SQLite file
seeded with a finished sync (two destinations, batches, feedback) and 30 platform snapshots. An
open-loop generator sends ``BENCH_RATE`` requests a second (default 500) for ``BENCH_SECONDS``
(default 30), alternating the two endpoints, over 32 keep-alive connections; each latency is
measured from the moment the request was *due*, so a server that falls behind shows it (no
coordinated omission). Prints p50 / p90 / p99 / max, achieved rate and errors; asserts nothing.
The generator shares the machine's cores with the server: on a small machine it is part of the
figure.

Run: ``python -m bench api`` (``BENCH_RATE=200 BENCH_SECONDS=10`` for a quick look).
"""

from __future__ import annotations

import http.client
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.api.auth import create_token
from shared.bus.broker import free_port
from shared.store import sync_requests
from shared.store.db import Store
from shared.store.migrate import upgrade
from shared.store.models import Audience, AudienceSnapshot, DestinationAudience, SyncBatch, SyncRun
from shared.store.sync_requests import RequestStatus

CONNECTIONS = 32


def _seed(store: Store) -> int:
    """A finished sync of icp_seed on Meta and Google, with batches and snapshots; its id."""
    now = datetime.now(UTC)
    run_ids = []
    with store.transaction() as session:
        session.add(
            Audience(
                key="icp_seed", role="include", definition={}, origin="config", created_at=now, updated_at=now
            )
        )
        session.flush()
        for platform in ("meta", "google"):
            dest = DestinationAudience(
                audience_key="icp_seed", platform=platform, account_id="act_1", kind="custom", variant="",
                platform_audience_id="238", spec={"membership_days": 540}, status="active", created_at=now,
            )  # fmt: skip
            session.add(dest)
            session.flush()
            run = SyncRun(
                destination_audience_id=dest.id, mode="incremental", status="succeeded", started_at=now,
                finished_at=now + timedelta(seconds=9), desired=50_000, added=500, removed=20, invalid=3,
                errors=0, api_calls=2, feedback={"match_rate": 0.6, "invalid_samples": [{"reason": "x"}] * 5},
            )  # fmt: skip
            session.add(run)
            session.flush()
            run_ids.append(run.id)
            for seq in range(5):
                session.add(
                    SyncBatch(sync_run_id=run.id, seq=seq, direction="add", size=100, status="acknowledged")
                )
            for day in range(30):
                session.add(
                    AudienceSnapshot(
                        destination_audience_id=dest.id, at=now - timedelta(days=day), size_lower=40_000,
                        size_upper=50_000, operation_status=200, delivery_status=200,
                    )
                )  # fmt: skip
    request_id = sync_requests.create(store, [("icp_seed", "meta"), ("icp_seed", "google")], "delta", "bench")
    sync_requests.claim(store, "bench")
    sync_requests.finish(store, request_id, RequestStatus.SUCCEEDED, run_ids=run_ids, results=[])
    return request_id


def _wait_up(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the api did not start")


def _load(
    port: int, paths: list[str], token: str, rate: float, seconds: float
) -> tuple[list[float], int, float]:
    """Open-loop load: request i is due at start + i / rate. Latencies in ms from the due time."""
    total = int(rate * seconds)
    due: queue.Queue[tuple[int, float] | None] = queue.Queue()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}"}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while (item := due.get()) is not None:
            n, at = item
            pause = at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            try:
                conn.request("GET", paths[n % len(paths)], headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok = False
            elapsed = (time.perf_counter() - at) * 1000
            with lock:
                latencies.append(elapsed)
                errors[0] += not ok

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    start = time.perf_counter() + 0.2
    for n in range(total):
        due.put((n, start + n / rate))
    for _ in threads:
        due.put(None)
    for t in threads:
        t.join()
    return latencies, errors[0], time.perf_counter() - start


def _pct(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]


def main() -> None:
    rate = float(os.environ.get("BENCH_RATE", "500"))
    seconds = float(os.environ.get("BENCH_SECONDS", "30"))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api.db'}"
        upgrade(url)
        store = Store(url)
        sync_id = _seed(store)
        token = create_token(store, "bench", ["read"])
        store.dispose()
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "AUDIENCESYNC_VAR_DIR": tmp, "API_RATE_PER_SECOND": "0"}
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        log = open(Path(tmp) / "api.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve", "api", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_up(port, time.monotonic() + 30)
            paths = [f"/syncs/{sync_id}", "/audiences/icp_seed/health"]
            _load(port, paths, token, min(rate, 100), 2)  # warm-up
            for path in paths:
                latencies, errors, elapsed = _load(port, [path], token, rate, seconds)
                ms = sorted(latencies)
                print(
                    f"GET {path:<28} {len(ms):>6,} requests at {rate:.0f}/s for {seconds:.0f}s: "
                    f"achieved {len(ms) / elapsed:,.0f}/s, p50 {_pct(ms, 0.5):.1f} ms, "
                    f"p90 {_pct(ms, 0.9):.1f} ms, p99 {_pct(ms, 0.99):.1f} ms, "
                    f"max {ms[-1]:.1f} ms, errors {errors}",
                    flush=True,
                )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
            log.close()
