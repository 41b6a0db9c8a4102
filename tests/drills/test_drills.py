"""Failure drills: the embedded stack under a webhook burst while its parts are killed.

Each drill ends the same way: every order the stack acknowledged (200) is stored, nothing is
lost, what was refused is acknowledged once Shopify retries, and every Meta audience in the
sandbox equals what the labels say. Counts are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.drills.harness import (
    Burst,
    UpProcess,
    burst,
    meta_sandbox_url,
    retry_refused,
    wait_audiences_match,
    wait_stored,
)
from tests.e2e.test_up_demo import processes_with_env

pytestmark = pytest.mark.drill
BURST = 2000


def _report(name: str, accepted: set[int], stored: set[int], refused_first: int) -> None:
    lost = accepted - stored
    print(
        f"\ndrill {name}: accepted {len(accepted)}, stored {len(stored & accepted)}, lost {len(lost)}"
        f" (refused during the fault, then accepted on retry: {refused_first})"
    )


def _burst_in_background(up: UpProcess, numbers: range) -> tuple[threading.Thread, dict[str, Burst]]:
    result: dict[str, Burst] = {}
    thread = threading.Thread(target=lambda: result.setdefault("burst", burst(up.url, numbers)))
    thread.start()
    return thread, result


def _settle(up: UpProcess, name: str, sent: range, first: Burst) -> None:
    """Shopify's retries, then the two promises: nothing accepted is lost; audiences equal labels."""
    retried = retry_refused(up.url, set(sent) - first.accepted)
    accepted = first.accepted | retried
    stored = wait_stored(up.database_url, accepted)
    _report(name, accepted, stored, first.refused)
    assert accepted - stored == set(), f"{len(accepted - stored)} acknowledged orders were lost"
    assert accepted == set(sent), "some deliveries were never acknowledged, even on retry"
    assert wait_audiences_match(up) == {}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[UpProcess]:
    up = UpProcess(tmp_path / "var")
    yield up
    if up.process is not None and up.process.poll() is None:
        assert up.stop() == 0
    assert processes_with_env(f"AUDIENCESYNC_VAR_DIR={up.var}") == [], "up left processes behind"


def test_platform_answering_5xx_for_a_minute_then_recovering(stack: UpProcess) -> None:
    # First in the file: the longest drill (a minute of waiting). `make test` runs the drills in
    # two processes, each taking half of them in file order, then stealing from the other's.
    stack.start()
    faults = f"{meta_sandbox_url(stack)}/_sandbox/faults"

    def set_error_rate(rate: float) -> None:
        body = f'{{"transient_error_rate": {rate}, "seed": 1}}'.encode()
        request = urllib.request.Request(faults, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10):
            pass

    set_error_rate(1.0)  # every Graph call fails with a transient error (HTTP 5xx)
    first = burst(stack.url, range(BURST))
    wait_stored(stack.database_url, first.accepted)
    time.sleep(60)
    set_error_rate(0.0)
    _settle(stack, "Meta 5xx for 60 s", range(BURST), first)


def test_sigkill_of_up_itself_then_restart_loses_nothing(stack: UpProcess) -> None:
    stack.start()
    sent = range(BURST)
    thread, result = _burst_in_background(stack, sent)
    time.sleep(1.5)
    stack.kill("up")
    assert stack.process is not None and stack.process.wait(30) == -signal.SIGKILL
    thread.join()
    deadline = time.monotonic() + 10  # PDEATHSIG: every child goes with it
    while processes_with_env(f"AUDIENCESYNC_VAR_DIR={stack.var}") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with_env(f"AUDIENCESYNC_VAR_DIR={stack.var}") == []
    stack.start()  # same var dir and port: the outbox refills the new (empty) broker
    _settle(stack, "SIGKILL up, restart", sent, result["burst"])


def test_sigterm_of_up_under_load_stops_in_bounded_time_and_loses_nothing(stack: UpProcess) -> None:
    stack.start()
    sent = range(BURST)
    thread, result = _burst_in_background(stack, sent)
    time.sleep(1.5)
    started = time.monotonic()
    assert stack.stop(signal.SIGTERM, timeout=45) == 0
    stopped_in = time.monotonic() - started
    thread.join()
    print(f"\nup stopped {stopped_in:.1f}s after SIGTERM under load")
    stack.start()
    _settle(stack, "SIGTERM up, restart", sent, result["burst"])


def test_sigkill_of_each_service_in_a_burst_loses_nothing(stack: UpProcess) -> None:
    """One stack, one 2,000-webhook burst per victim, each SIGKILLed in the middle of its burst."""
    stack.start()
    first = Burst()
    for round_, victim in enumerate(("ingestor", "api", "broker", "syncer_meta", "scorer")):
        sent = range(round_ * BURST, (round_ + 1) * BURST)
        thread, result = _burst_in_background(stack, sent)
        time.sleep(1.5)  # mid-burst
        killed = stack.kill(victim)
        thread.join()
        got = result["burst"]
        print(f"\nSIGKILL {victim}: {len(got.accepted)} acknowledged during the burst, {got.refused} refused")
        first.accepted |= got.accepted
        first.refused += got.refused
        stack.wait_restarted(victim, killed)
        # Shopify's retries of this burst, once the victim is back.
        first.accepted |= retry_refused(stack.url, set(sent) - got.accepted)
    _settle(stack, "SIGKILL ingestor, api, broker, syncer_meta, scorer", range(5 * BURST), first)


def test_ten_thousand_webhooks_in_one_burst(stack: UpProcess) -> None:
    stack.start()
    sent = range(10_000)
    started = time.monotonic()
    first = burst(stack.url, sent, threads=32)
    seconds = time.monotonic() - started
    print(f"\n10,000 webhooks acknowledged in {seconds:.1f}s ({len(first.accepted) / seconds:.0f}/s)")
    _settle(stack, "10k burst", sent, first)


@pytest.mark.postgres
def test_postgresql_restarted_mid_burst(tmp_path: Path, postgres_server: str) -> None:
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        pytest.skip("restarting PostgreSQL needs pg_ctlcluster and root (this machine and CI have both)")
    import psycopg

    schema = f"drill_{uuid.uuid4().hex[:10]}"
    plain = postgres_server.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in postgres_server else "?"
    up = UpProcess(
        tmp_path / "var",
        extra_env={"DATABASE_URL": f"{postgres_server}{sep}options=-csearch_path%3D{schema}"},
    )
    try:
        up.start()
        sent = range(BURST)
        thread, result = _burst_in_background(up, sent)
        time.sleep(1.5)
        version = next(iter(os.listdir("/etc/postgresql")))
        subprocess.run(["pg_ctlcluster", version, "main", "restart"], check=True, timeout=60)
        thread.join()
        _settle(up, "PostgreSQL restarted", sent, result["burst"])
        assert up.stop() == 0
    finally:
        if up.process is not None and up.process.poll() is None:
            up.stop(signal.SIGKILL)
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
