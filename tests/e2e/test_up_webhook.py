"""``audiencesync up --api-port P``: a signed webhook posted to it is stored with no other command."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shared.bus.broker import free_port
from tests.e2e.test_up_demo import processes_with_env

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "shopify" / "orders_create.real_store_rudderstack.json"


def _post(url: str, body: bytes, secret: str) -> int:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": "e2e-1",
            "X-Shopify-Shop-Domain": "e2e.myshopify.com",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_webhook_posted_to_up_is_stored(tmp_path: Path) -> None:
    port, secret = free_port(), "e2e-secret"
    env = {**os.environ, "AUDIENCESYNC_VAR_DIR": str(tmp_path / "var"), "SHOPIFY_WEBHOOK_SECRET": secret}
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "up", "--api-port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = tmp_path / "var" / "audiencesync.db"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline and up.poll() is None, "up did not start"
                time.sleep(0.2)
        assert (
            _post(f"http://127.0.0.1:{port}/webhooks/shopify/orders/create", SAMPLE.read_bytes(), secret)
            == 200
        )
        stored: list[tuple[str]] = []
        deadline = time.monotonic() + 60
        while not stored and time.monotonic() < deadline:
            time.sleep(0.5)
            with sqlite3.connect(db) as conn:
                stored = conn.execute("SELECT order_id FROM orders").fetchall()
        assert stored == [("5778367414385",)]
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(60)
    assert code == 0
    assert processes_with_env(f"AUDIENCESYNC_VAR_DIR={tmp_path}") == []
