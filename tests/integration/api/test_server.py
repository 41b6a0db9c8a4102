"""The api process probed from outside: idle sockets, SIGTERM under load, no static files, readiness.

Each test starts ``audiencesync serve api`` as a subprocess on a migrated SQLite file, in a
working directory holding a ``static/`` folder, the way an operator would run it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.api.bootstrap import (
    CHANNEL_TIMEOUT,
    CLEANUP_INTERVAL,
    CONNECTION_LIMIT,
    REQUEST_READ_SECONDS,
    run_until_stopped,
    server_options,
)
from shared.bus.broker import EmbeddedBroker, ensure_topics, free_port
from shared.bus.topics import ALL_TOPICS
from shared.store.migrate import upgrade

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "tests" / "fixtures" / "shopify" / "orders_create.shopify_docs_2026-07.json"
SECRET = "server-test-secret"
SECRET_FILE_TEXT = "not-for-the-internet-" + uuid.uuid4().hex


@dataclass
class Proc:
    """A service subprocess and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _env(tmp_path: Path, bootstrap: str) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'audiencesync.db'}"
    upgrade(url)
    env = {**os.environ, "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    env.update(SHOPIFY_WEBHOOK_SECRET=SECRET, AUDIENCESYNC_VAR_DIR=str(tmp_path / "var"), LOG_FORMAT="json")
    env.pop("API_HOST", None)
    return env


def _spawn(name: str, argv: list[str], env: dict[str, str], cwd: Path) -> Proc:
    log = cwd / f"{name}.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", *argv],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Proc(name, popen, log)


def _stop(proc: Proc) -> None:
    if proc.popen.poll() is None:
        proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(20)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post_webhook(base: str, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    body = SAMPLE.read_bytes()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    request = urllib.request.Request(
        f"{base}/webhooks/shopify/orders/create",
        data=body,
        method="POST",
        headers={
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": uuid.uuid4().hex,
            "X-Shopify-Shop-Domain": "server-test.myshopify.com",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return int(response.status), json.loads(response.read())


@contextmanager
def api_server(
    tmp_path: Path, bootstrap: str, *, args: tuple[str, ...] = (), host: str = "127.0.0.1", **env: str
) -> Iterator[tuple[str, Proc]]:
    """``serve api`` on a free port, with a ``static/`` folder holding a file in its working directory."""
    (tmp_path / "static").mkdir(exist_ok=True)
    (tmp_path / "static" / "secret.txt").write_text(SECRET_FILE_TEXT)
    port = free_port()
    argv = ["serve", "api", "--port", str(port), *args]
    proc = _spawn("api", argv, {**_env(tmp_path, bootstrap), **env}, tmp_path)
    base = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{base}/health", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            assert proc.popen.poll() is None, f"the api exited:\n{proc.output()}"
            assert time.monotonic() < deadline, f"the api did not answer /health:\n{proc.output()}"
            time.sleep(0.2)
        yield base, proc
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def topics() -> Iterator[str]:
    """A broker of this module's own: the api's readiness pings go into ``orders.raw``, which
    other tests on the session broker read from the beginning expecting only webhooks."""
    with EmbeddedBroker() as own:
        ensure_topics(own.bootstrap, ALL_TOPICS, partitions=4)
        yield own.bootstrap


def test_idle_sockets_do_not_starve_health_or_webhooks(tmp_path: Path, topics: str) -> None:
    with api_server(tmp_path, topics) as (base, _proc):
        port = int(base.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(300)]
        try:
            time.sleep(0.5)  # let the server accept them all
            started = time.monotonic()
            assert _get(f"{base}/health", timeout=5) == (200, b'{"status":"ok"}\n')
            status, body = _post_webhook(base, timeout=5)
            assert (status, body["status"]) == (200, "accepted")
            assert time.monotonic() - started < 5
            # The idle sockets are closed by the server after its idle timeout, freeing their slots.
            deadline = time.monotonic() + CHANNEL_TIMEOUT + CLEANUP_INTERVAL + 20
            open_sockets = list(idle)
            while open_sockets and time.monotonic() < deadline:
                still = []
                for sock in open_sockets:
                    sock.settimeout(0.01)
                    try:
                        if sock.recv(1) == b"":
                            continue  # closed by the server
                    except TimeoutError:
                        pass
                    except OSError:
                        continue  # reset by the server
                    still.append(sock)
                open_sockets = still
                time.sleep(0.5)
            assert open_sockets == [], f"{len(open_sockets)} idle sockets still open"
        finally:
            for sock in idle:
                sock.close()


def _hammer(base: str, stop: threading.Event, counts: list[int], errors: list[int]) -> None:
    host, port = base.removeprefix("http://").split(":")
    while not stop.is_set():
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            while not stop.is_set():  # keep-alive: many requests on one connection
                conn.request("GET", "/health")
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    counts.append(1)
        except (OSError, http.client.HTTPException):
            errors.append(1)  # refused or closed while the server stops
            time.sleep(0.01)
        finally:
            conn.close()


def test_sigterm_stops_the_api_within_ten_seconds_under_load(tmp_path: Path, topics: str) -> None:
    with api_server(tmp_path, topics) as (base, proc):
        stop, counts, errors = threading.Event(), [], []  # type: ignore[var-annotated]
        hammers = [threading.Thread(target=_hammer, args=(base, stop, counts, errors)) for _ in range(8)]
        for thread in hammers:
            thread.start()
        try:
            deadline = time.monotonic() + 30
            while len(counts) < 2000 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(counts) >= 2000, "the load never reached the server"
            signalled = time.monotonic()
            proc.popen.send_signal(signal.SIGTERM)
            try:
                code = proc.popen.wait(10)
            except subprocess.TimeoutExpired:
                pytest.fail(f"still serving 10 s after SIGTERM ({len(counts)} answers so far)")
            took = time.monotonic() - signalled
        finally:
            stop.set()
            for thread in hammers:
                thread.join(10)
    output = proc.output()
    assert code == 0, output
    assert took < 10
    assert "Bad file descriptor" not in output
    assert '"event": "service.stopped"' in output and '"signal": "SIGTERM"' in output


def test_static_path_never_serves_a_file(tmp_path: Path, topics: str) -> None:
    with api_server(tmp_path, topics) as (base, _proc):
        for path in ("/static/secret.txt", "/static/x", "/static/../static/secret.txt"):
            status, body = _get(base + path)
            assert status in (401, 404), (path, status)
            assert SECRET_FILE_TEXT.encode() not in body


def test_listen_address_comes_from_host_flag_then_api_host(tmp_path: Path, topics: str) -> None:
    # 127.0.0.0/8 is all loopback on Linux: a server bound to 127.0.0.2 is not on 127.0.0.1.
    with api_server(tmp_path, topics, host="127.0.0.2", API_HOST="127.0.0.2") as (base, _proc):
        assert _get(f"{base}/health")[0] == 200
        with pytest.raises(urllib.error.URLError) as refused:
            _get(base.replace("127.0.0.2", "127.0.0.1"), timeout=2)
        assert isinstance(refused.value.reason, ConnectionRefusedError)
    flag = ("--host", "127.0.0.3")
    with api_server(tmp_path, topics, args=flag, host="127.0.0.3", API_HOST="127.0.0.2") as (base, _proc):
        assert _get(f"{base}/health")[0] == 200


def test_request_in_progress_finishes_when_the_server_stops() -> None:
    """The drain lets a slow request answer; connections made afterwards are refused."""
    from waitress import create_server

    started = threading.Event()

    def slow_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        started.set()
        time.sleep(1.5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"finished"]

    server: Any = create_server(slow_app, host="127.0.0.1", port=0, **server_options())
    port = server.effective_port
    stop = threading.Event()
    loop = threading.Thread(target=run_until_stopped, args=(server, stop))
    loop.start()
    answers: list[tuple[int, bytes]] = []
    client = threading.Thread(target=lambda: answers.append(_get(f"http://127.0.0.1:{port}/", timeout=10)))
    client.start()
    assert started.wait(10)
    stop.set()
    client.join(15)
    loop.join(15)
    assert not loop.is_alive()
    assert answers == [(200, b"finished")]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def _readyz(base: str) -> tuple[int, dict[str, Any]]:
    status, body = _get(f"{base}/readyz")
    return status, json.loads(body)


def _wait_readyz(base: str, procs: list[Proc], timeout: float, until: Any) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    seen: tuple[int, dict[str, Any]] = (0, {})
    while time.monotonic() < deadline:
        seen = _readyz(base)
        if until(*seen):
            return seen
        for proc in procs:
            assert proc.popen.poll() is None, f"{proc.name} exited:\n{proc.output()}"
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in procs)
    pytest.fail(f"/readyz never got there; last answer {seen}\n{logs}")


def test_readyz_waits_for_every_consumer_of_the_pipeline(tmp_path: Path) -> None:
    # A private broker: the services join their real consumer groups on the real topic names.
    with EmbeddedBroker() as own:
        ensure_topics(own.bootstrap, ALL_TOPICS, partitions=2)
        env = _env(tmp_path, own.bootstrap)
        consumers: list[Proc] = []
        with api_server(tmp_path, own.bootstrap) as (base, api):
            try:
                # Database and broker answer, nobody consumes: not ready, and the pipeline says so.
                status, body = _wait_readyz(base, [api], 30, lambda s, b: "pipeline" in b.get("checks", {}))
                assert status == 503 and body["status"] == "not_ready"
                assert body["failed"] == ["pipeline"], body
                assert _get(f"{base}/health")[0] == 200

                for name in ("ingestor", "scorer", "syncer_meta"):
                    consumers.append(_spawn(name, ["serve", name], env, tmp_path))
                # Three of four answer: still not ready, and the silent one is named.
                status, body = _wait_readyz(
                    base,
                    [api, *consumers],
                    120,
                    lambda s, b: b.get("checks", {}).get("pipeline", {}).get("missing") == ["syncer-google"],
                )
                assert status == 503 and body["failed"] == ["pipeline"]

                consumers.append(_spawn("syncer_google", ["serve", "syncer_google"], env, tmp_path))
                status, body = _wait_readyz(base, [api, *consumers], 120, lambda s, b: s == 200)
                assert body["status"] == "ready" and body["failed"] == []
                assert all(check["ok"] for check in body["checks"].values())
            finally:
                for proc in consumers:
                    _stop(proc)


def test_slow_senders_cannot_hold_every_connection(tmp_path: Path, topics: str) -> None:
    """A slowloris: more sockets than the connection limit, each sending a header byte a second.

    They are never idle, so the idle timeout cannot free them; the read deadline does, and the
    api answers again while they keep dripping.
    """
    with api_server(tmp_path, topics) as (base, _proc):
        port = int(base.rsplit(":", 1)[1])
        slow = []
        for _ in range(CONNECTION_LIMIT + 50):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"POST /webhooks/shopify/orders/create HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(sock)
        stop = threading.Event()

        def drip() -> None:
            while not stop.wait(1.0):
                for sock in slow:
                    try:
                        sock.sendall(b"a")
                    except OSError:
                        continue  # closed by the server: that is the point

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        try:
            deadline = time.monotonic() + REQUEST_READ_SECONDS + 30
            answered = None
            while answered is None and time.monotonic() < deadline:
                try:
                    answered = _get(f"{base}/health", timeout=3)
                except OSError:
                    time.sleep(1)
            assert answered == (200, b'{"status":"ok"}\n'), "the api stayed unreachable behind slow senders"
        finally:
            stop.set()
            dripper.join(5)
            for sock in slow:
                sock.close()
