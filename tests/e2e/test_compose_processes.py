"""docker-compose.yml's containers, run as processes, start and carry a webhook through the pipeline.

No Docker engine runs here, so each container of ours runs as a process with its command and its
environment as the file writes them (interpolated with deploy/compose/sandbox.env, the fuller
setup): ``kafka`` is an embedded broker, ``postgres`` a PostgreSQL schema, ``/run/secrets`` the
files ``secrets init --sandbox`` makes, the volumes folders, the ports free ones; as root, every
process runs as the image's user (uid 10001). What this cannot see is the image itself.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.api.webhooks import shopify_signature
from services.cli.secret_files import init_secrets
from shared.bus.broker import EmbeddedBroker, free_port
from tests.compose_file import ROOT, SETUPS, command_of, image_env, interpolate, load_compose, our_services

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
IMAGE_USER = 10001
BIN = Path(sys.executable).parent  # the venv's: audiencesync and python, as on the image's PATH
ORDER = ROOT / "tests" / "fixtures" / "shopify" / "orders_create.shopify_docs_2026-07.json"


class Host:
    """Where the containers' names, paths and ports point on this machine."""

    def __init__(self, work: Path, broker: EmbeddedBroker) -> None:
        self.work = work
        self.ports = {port: str(free_port()) for port in ("8080", "8790", "8791", "8792")}
        self.metrics: dict[str, str] = {}  # each worker's METRICS_PORT: one per container there
        self.names = {
            "kafka:9092": broker.bootstrap,
            "sandbox-meta:8790": f"127.0.0.1:{self.ports['8790']}",
            "sandbox-google:8791": f"localhost:{self.ports['8791']}",  # tests/integration: --tls-name
            "/run/secrets/": f"{work}/secrets/",
            "/config/audiencesync.yaml": str(ROOT / "shared" / "definitions" / "default.yaml"),
            "/var/lib/audiencesync": str(work / "var"),
            "/sandbox": str(work / "sandbox"),
        }

    def place(self, value: str) -> str:
        for name, here in self.names.items():
            value = value.replace(name, here)
        return value

    def argv(self, svc: dict[str, Any]) -> list[str]:
        cmd = command_of(svc)
        ports = [
            self.ports.get(a, a) if flag in ("--port", "--admin-port") else a
            for a, flag in zip(cmd, ["", *cmd][:-1], strict=True)
        ]
        return [self.place(a) for a in ports]

    def env(self, name: str, svc: dict[str, Any]) -> dict[str, str]:
        written = {
            k: interpolate(str(v), SETUPS["sandbox"]) for k, v in (svc.get("environment") or {}).items()
        }
        placed = {k: self.place(v) for k, v in {**image_env(), **written}.items()}
        if "METRICS_PORT" in placed:
            placed["METRICS_PORT"] = self.metrics.setdefault(name, str(free_port()))
        return {**placed, "PATH": f"{BIN}:/usr/bin:/bin"}

    def healthcheck(self, name: str, svc: dict[str, Any]) -> list[str]:
        """The healthcheck's command (``CMD`` form) with this host's Python and ports."""
        probe = [str(BIN / "python") if a == "python" else a for a in svc["healthcheck"]["test"][1:]]
        metrics = svc.get("environment", {}).get("METRICS_PORT")
        ports = {**self.ports, **({str(metrics): self.metrics[name]} if metrics else {})}
        for port, here in ports.items():
            probe = [a.replace(f":{port}/", f":{here}/") for a in probe]
        return probe


@functools.cache
def _as_image_user() -> list[str]:
    """``setpriv`` to the image's uid when root and that user can run this checkout, else nothing."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return []
    switch = ["setpriv", f"--reuid={IMAGE_USER}", f"--regid={IMAGE_USER}", "--clear-groups"]
    # A checkout or interpreter under a private home cannot be reached by that user: run as root.
    probe = subprocess.run(
        [*switch, str(BIN / "audiencesync"), "version"], cwd="/", capture_output=True, check=False
    )
    return switch if probe.returncode == 0 else []


@pytest.fixture
def host(database_url: str) -> Iterator[Host]:
    # Not pytest's tmp_path: its parents are private to this user, and the image user must reach it.
    work = Path(tempfile.mkdtemp(prefix="compose-processes-"))
    try:
        for folder in ("var", "sandbox", "secrets", "logs"):
            (work / folder).mkdir()
        init_secrets(work / "secrets", sandbox=True)
        (work / "secrets" / "database_url").write_text(f"{database_url}\n")
        if _as_image_user():  # volumes belong to the image user; compose mounts secret files alone
            for folder in ("var", "sandbox"):
                os.chown(work / folder, IMAGE_USER, IMAGE_USER)
            for folder in (work, work / "secrets"):
                folder.chmod(0o755)
        with EmbeddedBroker(log_file=work / "logs" / "broker.log") as broker:
            yield Host(work, broker)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _start(host: Host, name: str, svc: dict[str, Any]) -> subprocess.Popen[bytes]:
    log = open(host.work / "logs" / f"{name}.log", "wb")  # noqa: SIM115 - the child keeps it
    try:
        return subprocess.Popen(
            [*_as_image_user(), str(BIN / "audiencesync"), *host.argv(svc)],
            env=host.env(name, svc),
            cwd=host.work / "var",
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()


def _ready(url: str, timeout: float) -> dict[str, Any]:
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as answer:
                return dict(json.load(answer))
        except urllib.error.HTTPError as exc:  # 503 while not ready
            last = exc
            exc.close()
            time.sleep(1)
        except (OSError, ValueError) as exc:
            last = exc
            time.sleep(1)
    raise AssertionError(f"{url} not ready after {timeout:g} s: {last}")


def _post_order(api: str, secret: str) -> int:
    body = ORDER.read_bytes()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": shopify_signature(secret, body),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "example.myshopify.com",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
    }
    request = urllib.request.Request(f"{api}/webhooks/shopify/orders/create", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_compose_containers_start_in_order_and_carry_a_signed_webhook(host: Host, database_url: str) -> None:
    import psycopg

    containers = our_services(load_compose())
    running: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("sandbox-meta", "sandbox-google"):
            running[name] = _start(host, name, containers[name])
        for step in ("migrate", "topics"):
            code = _start(host, step, containers[step]).wait(180)
            assert code == 0, (host.work / "logs" / f"{step}.log").read_text()[-2000:]
        for name, svc in containers.items():
            if name not in running and name not in ("migrate", "topics"):
                running[name] = _start(host, name, svc)
        api = f"http://127.0.0.1:{host.ports['8080']}"
        assert _ready(f"{api}/readyz", timeout=150)["status"] == "ready"
        for name, svc in containers.items():
            if "healthcheck" in svc:
                probe = host.healthcheck(name, svc)
                assert subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode == 0, (
                    name
                )

        secret = (host.work / "secrets" / "shopify_webhook_secret").read_text().strip()
        assert _post_order(api, "another key") == 401
        assert _post_order(api, secret) == 200
        deadline = time.monotonic() + 60
        with psycopg.connect(database_url.replace("+psycopg", "")) as db:
            while (labels := db.execute("select count(*) from labels").fetchone()[0]) == 0:
                assert time.monotonic() < deadline, "the order was never scored"
                time.sleep(0.5)
        assert labels == 1
        assert {name: proc.poll() for name, proc in running.items()} == dict.fromkeys(running)
    finally:
        for proc in running.values():
            proc.terminate()
        codes = {}
        for name, proc in running.items():
            try:
                codes[name] = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
    assert codes == dict.fromkeys(running, 0)
