"""``audiencesync up --demo`` (``make run``): the summary, serving until Ctrl-C, nothing left running.

Both tests run the real command as a subprocess on a temporary var dir (SQLite, embedded broker,
both sandboxes) with a small shop; ``make run`` feeds 3,000 customers the same way.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from services.api.webhooks import shopify_signature
from shared.bus.broker import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingestor", "scorer", "syncer_meta", "syncer_google", "scheduler", "api")
CUSTOMERS = "300"  # a small shop: the pipeline is the same, the run is shorter


def processes_with_env(needle: str) -> list[int]:
    """Pids whose environment contains ``needle`` (children inherit the test's var dir)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle.encode() in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _environ(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "AUDIENCESYNC_VAR_DIR": str(tmp_path / "var"), "LOG_FORMAT": "console"}
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "SHOPIFY_WEBHOOK_SECRET", "API_PORT"):
        env.pop(name, None)
    return env


def _get(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0  # not listening (yet)


def _table(summary: str, title: str) -> list[list[str]]:
    """The body rows of the rich table printed under ``title``, as stripped cells."""
    lines = summary.split(title, 1)[1].splitlines()
    body = lines[next(i for i, line in enumerate(lines) if line.startswith("┡")) + 1 :]
    rows = []
    for line in body:
        if not line.startswith("│"):
            break
        rows.append([cell.strip() for cell in line.split("│")[1:-1]])
    return rows


def _check_summary(summary: str) -> tuple[str, str]:
    """Labels, both platforms' audience sizes, the api and the token; returns (api url, token)."""
    assert "pipeline OK" in summary, summary
    labels = {row[0]: int(row[1].replace(",", "")) for row in _table(summary, "3. labels")}
    assert set(labels) == {"icp", "negative_icp", "neutral"} and all(labels.values()), labels
    for title in ("4. Meta audiences", "5. Google Customer Match lists"):
        sizes = {row[0]: row[-1] for row in _table(summary, title)}
        assert {"icp_seed", "negative_icp_exclusion"} <= set(sizes), (title, sizes)
        assert all(int(size.replace(",", "")) > 0 for size in sizes.values()), (title, sizes)
    (api,) = re.findall(r"^  api\s+(http://127\.0\.0\.1:\d+)", summary, re.MULTILINE)
    (token,) = re.findall(r"^  token\s+(as_\S+)$", summary, re.MULTILINE)
    return api, token


def _check_first_refresh(summary: str, env: dict[str, str]) -> None:
    """The demo ran the first refresh: recorded as a manual refresh, every sync it queued done."""
    (queued, finished) = re.findall(r"(\d+) syncs queued, (\d+) finished", summary)[0]
    assert int(queued) > 0 and queued == finished, summary
    database = Path(env["AUDIENCESYNC_VAR_DIR"]) / "audiencesync.db"
    with sqlite3.connect(database) as db:
        refreshes = db.execute("SELECT owner, trigger, status FROM scheduled_refreshes").fetchall()
        runs = db.execute("SELECT mode, customers FROM scoring_runs ORDER BY id DESC LIMIT 1").fetchall()
        customers = db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    assert refreshes == [("up --demo", "manual", "succeeded")], refreshes
    assert runs == [("full", customers)] and customers > 250, (runs, customers)  # the last rescore: everyone


def test_up_demo_once_prints_the_summary_and_leaves_no_process_behind(tmp_path: Path) -> None:
    env = _environ(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "up", "--demo", "--once", "--customers", CUSTOMERS],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # the broker, both sandboxes and every service inherited our var dir: none may survive
    assert processes_with_env(f"AUDIENCESYNC_VAR_DIR={tmp_path}") == []
    _, token = _check_summary(done.stdout)
    fed = _table(done.stdout, "2. demo shop fed in")
    for path in ("bulk import", "webhook"):  # both ways in were taken, and accepted
        assert any(row[0] == path and int(row[3].replace(",", "")) > 0 for row in fed), fed
    assert all(row[5] == "0" for row in fed if row[0] == "webhook"), fed  # no webhook refused
    assert "(0 dead-lettered)" in done.stdout  # ...and no imported record refused by the ingestor
    for name in SERVICES:
        assert "service.stopped" in (tmp_path / "var" / "logs" / f"{name}.log").read_text(), name
    _check_first_refresh(done.stdout, env)
    # The token was stored for real: the api, started alone on the same database, accepts it.
    port = free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "serve", "api", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while _get(f"http://127.0.0.1:{port}/health") != 200:
            assert time.monotonic() < deadline and api.poll() is None, "the api did not start"
            time.sleep(0.2)
        assert _get(f"http://127.0.0.1:{port}/audiences", token) == 200
        assert _get(f"http://127.0.0.1:{port}/audiences", token[:-2] + "xx") == 401
    finally:
        api.terminate()
        api.wait(30)


def _read_lines(process: subprocess.Popen[str], into: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        into.put(line)


def test_up_demo_serves_until_ctrl_c_then_stops_everything(tmp_path: Path) -> None:
    env = _environ(tmp_path)
    up = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "up", "--demo", "--customers", CUSTOMERS],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(up, lines), daemon=True)
    reader.start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while not any(line.startswith("  serving") for line in output):
            assert time.monotonic() < deadline and up.poll() is None, "".join(output)
            try:
                output.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        api, token = _check_summary("".join(output))
        # Still serving after the demo: the api with the printed token, and a new signed webhook.
        assert _get(f"{api}/audiences", token) == 200
        secret = (tmp_path / "var" / "demo" / "shopify-webhook-secret").read_text().strip()
        body = (
            ROOT / "tests" / "fixtures" / "shopify" / "orders_create.real_store_rudderstack.json"
        ).read_bytes()
        request = urllib.request.Request(
            f"{api}/webhooks/shopify/orders/create",
            data=body,
            headers={
                "X-Shopify-Hmac-Sha256": shopify_signature(secret, body),
                "X-Shopify-Webhook-Id": "late-1",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["status"] == "accepted"
        # A command beside the stack, on its var dir, uses its broker and sandboxes: every sync
        # of a refresh by hand succeeds, whichever worker (its own or the scheduler's) claims it.
        refreshed = subprocess.run(
            [sys.executable, "-m", "services.cli.main", "refresh"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
        adopted = re.findall(r"using the running stack's (.*) \(", refreshed.stderr)
        assert adopted and "KAFKA_BOOTSTRAP_SERVERS" in adopted[0].split(", "), refreshed.stderr
        results = refreshed.stdout.splitlines()
        assert len(results) == 5 and all(line.endswith(" succeeded") for line in results), results
    finally:
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground group
        code = up.wait(90)
        reader.join(10)
        assert up.stdout is not None
        up.stdout.close()
    assert code == 0, "".join(output)
    assert processes_with_env(f"AUDIENCESYNC_VAR_DIR={tmp_path}") == []
    for name in SERVICES:
        assert "service.stopped" in (tmp_path / "var" / "logs" / f"{name}.log").read_text(), name
