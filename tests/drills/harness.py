"""Failure drills' harness: ``audiencesync up`` as a user runs it, signed webhooks, killed processes.

Everything goes through real entry points: the ``up`` command in a subprocess, HTTP to its API
port, signals to the pids it publishes in ``var/run``, and reads of its SQLite file.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.bus.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "tests/fixtures/shopify/orders_create.real_store_rudderstack.json").read_text())
SECRET = "drill-secret"
SHOP = "drill.myshopify.com"
FIRST_ORDER = 9_000_000_000_000


def order_body(n: int) -> bytes:
    """A real-shaped Shopify order, unique by ``n`` (order id, email, customer id)."""
    order: dict[str, Any] = copy.deepcopy(SAMPLE)
    order["id"] = FIRST_ORDER + n
    order["name"] = f"#D{n}"
    order["order_number"] = n
    email = f"drill.buyer{n % 700}@example.com"  # ~700 customers, some with several orders
    order["email"] = order["contact_email"] = email
    order["customer"] = {**order["customer"], "id": 8_000_000_000_000 + n % 700, "email": email}
    # spend differs by customer, so labels differ and audiences are more than "everyone"
    total = f"{5 + (n % 700) % 61 * 7.5:.2f}"
    for field_name in ("total_price", "current_total_price", "subtotal_price", "current_subtotal_price"):
        order[field_name] = total
    return json.dumps(order).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def post_webhook(
    url: str,
    body: bytes,
    *,
    webhook_id: str,
    topic: str = "orders/create",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST one signed webhook; returns (status, json body) or (0, {}) when the connection failed."""
    request = urllib.request.Request(
        f"{url}/webhooks/shopify/{topic}",
        data=body,
        method="POST",
        headers={
            "X-Shopify-Hmac-Sha256": sign(body),
            "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Shop-Domain": SHOP,
            "Content-Type": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (OSError, http.client.HTTPException, ValueError):  # reset, cut short, or not JSON
        return 0, {}


@dataclass
class Burst:
    """What Shopify would know after sending a burst: which deliveries were acknowledged."""

    accepted: set[int] = field(default_factory=set)  # order numbers answered 200
    refused: int = 0  # non-2xx or no answer: Shopify retries those


def burst(url: str, numbers: Iterable[int], *, threads: int = 16) -> Burst:
    """Send one order webhook per number concurrently, as Shopify does during a sale."""
    result = Burst()

    def send(n: int) -> tuple[int, int]:
        status, _ = post_webhook(url, order_body(n), webhook_id=f"drill-{n}")
        return n, status

    with ThreadPoolExecutor(threads) as pool:
        for n, status in pool.map(send, numbers):
            if status == 200:
                result.accepted.add(n)
            else:
                result.refused += 1
    return result


def retry_refused(url: str, numbers: Iterable[int], *, deadline: float = 120.0) -> set[int]:
    """Shopify's retries: resend each number until it is acknowledged (or the deadline passes)."""
    pending, accepted = set(numbers), set()
    end = time.monotonic() + deadline
    while pending and time.monotonic() < end:
        got = burst(url, sorted(pending))
        accepted |= got.accepted
        pending -= got.accepted
        if pending:
            time.sleep(1)
    return accepted


@dataclass
class UpProcess:
    """``audiencesync up --api-port P`` in a fresh var dir."""

    var: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return self.extra_env.get("DATABASE_URL") or f"sqlite:///{self.var / 'audiencesync.db'}"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "AUDIENCESYNC_VAR_DIR": str(self.var), "SHOPIFY_WEBHOOK_SECRET": SECRET}
        env.pop("DATABASE_URL", None)
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        # Every customer may be uploaded and any audience size is synced, so the drills' audiences
        # are never empty by policy; the Meta syncer flushes every few seconds (the stack's demo value).
        return {**env, "META_CONSENT": "any", "META_MIN_AUDIENCE_SIZE": "0", **self.extra_env}

    def start(self, *, timeout: float = 90.0) -> UpProcess:
        self.var.mkdir(parents=True, exist_ok=True)
        out = open(self.var.parent / "up.out", "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "up", "--api-port", str(self.port)],
            env=self.env(),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):
                    return
            except OSError:
                assert self.process is not None and self.process.poll() is None, self.output()
                assert time.monotonic() < deadline, "up did not serve /health in time\n" + self.output()
                time.sleep(0.2)

    def output(self) -> str:
        path = self.var.parent / "up.out"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def pid(self, name: str) -> int:
        """The pid of a process of the stack (``ingestor``, ``api``, ``broker``, ``up``...)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return int((self.var / "run" / f"{name}.pid").read_text())
            except (OSError, ValueError):
                assert time.monotonic() < deadline, f"no pid file for {name}"
                time.sleep(0.1)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        pid = self.pid(name)
        os.kill(pid, sig)
        return pid

    def wait_restarted(self, name: str, old_pid: int, *, timeout: float = 60.0) -> int:
        """The new pid once the supervisor has started ``name`` again after ``old_pid`` died."""
        deadline = time.monotonic() + timeout
        while (pid := self.pid(name)) == old_pid:
            assert time.monotonic() < deadline, f"{name} was not restarted within {timeout:.0f}s"
            time.sleep(0.2)
        return pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def stored_orders(database_url: str) -> set[int]:
    """Order numbers (the drills' numbering) stored in the database."""
    from sqlalchemy import create_engine, text

    from shared.store.db import normalize_url

    engine = create_engine(
        normalize_url(database_url), connect_args={"timeout": 30} if "sqlite" in database_url else {}
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT order_id FROM orders")).all()
    finally:
        engine.dispose()
    return {int(r[0]) - FIRST_ORDER for r in rows if int(r[0]) >= FIRST_ORDER}


def wait_stored(database_url: str, expected: set[int], *, timeout: float = 180.0) -> set[int]:
    """Wait until every expected order is stored; returns what is stored at the end."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            stored = stored_orders(database_url)
        except Exception:  # the database is restarting, or not migrated yet
            stored = set()
        if expected <= stored or time.monotonic() > deadline:
            return stored
        time.sleep(0.5)


def meta_sandbox_url(up: UpProcess) -> str:
    """The Meta sandbox address ``up`` printed last (a restarted ``up`` starts a new sandbox)."""
    text = (up.var.parent / "up.out").read_text(errors="replace")
    urls = [line.split()[1] for line in text.splitlines() if line.strip().startswith("meta ")]
    assert urls, "up printed no Meta sandbox address\n" + up.output()
    return urls[-1]


def audience_mismatches(up: UpProcess) -> dict[str, tuple[int, int]]:
    """Meta audiences whose members in the sandbox differ from what the labels say.

    The desired members come from the stored labels through the syncer's own membership rules
    (``DestinationSync.members``); what the platform holds comes from the sandbox over HTTP.
    Returns ``{audience: (desired, held)}`` for every destination that differs (empty: all equal).
    """
    from services.syncer_meta.bootstrap import build_service
    from services.syncer_meta.config import MetaSettings
    from shared.config import Settings
    from shared.store.db import Store
    from shared.sync.runs import Runs

    url = meta_sandbox_url(up)
    environ = {
        **up.env(),
        "META_GRAPH_URL": url,
        "META_ACCOUNTS": "act_1000",
        "META_ACCESS_TOKEN": "sandbox-token",
    }
    settings = Settings.from_env(environ)
    store = Store(settings.database_url)
    service = build_service(settings, store, meta=MetaSettings.from_env(environ), dry_run=True)
    runs = Runs(store)
    differs: dict[str, tuple[int, int]] = {}
    try:
        for destination in service.destinations():
            members = service.syncs[destination.account].members(destination)
            desired = {
                m.row[0] or m.row[1] for m in members
            }  # the sandbox keys a member by EMAIL, else PHONE
            record = runs.destination(destination.audience, destination.account)
            held: set[str] = set()
            if record.platform_audience_id:
                with urllib.request.urlopen(
                    f"{url}/_sandbox/audiences/{record.platform_audience_id}/members"
                ) as r:
                    held = {m["identifier"] for m in json.loads(r.read())["members"]}
            if desired != held:
                differs[destination.key] = (len(desired), len(held))
    finally:
        service.close()
        store.dispose()
    return differs


def wait_audiences_match(up: UpProcess, *, timeout: float = 120.0) -> dict[str, tuple[int, int]]:
    """Poll until every Meta audience equals its labels (the syncer flushes every few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        differs = audience_mismatches(up)
        if not differs or time.monotonic() > deadline:
            return differs
        time.sleep(2)
