"""Alerts end to end: failed runs in the store, a real HTTP webhook receiver, one alert per incident."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from services.scheduler.alerts import Alerts
from services.scheduler.config import AlertSettings
from shared.store.db import Store
from tests.integration.api.conftest import add_run

pytestmark = pytest.mark.integration


class Receiver:
    """A Slack-compatible incoming webhook on a loopback port; ``fail`` makes it answer 500."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.fail = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.fail:
                    self.send_response(500)
                else:
                    receiver.texts.append(body["text"])
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T/B/x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_an_incident_alerts_once_until_it_is_resolved_then_again(store: Store, receiver: Receiver) -> None:
    audience = f"a{uuid.uuid4().hex[:8]}"
    alerts = Alerts(store, AlertSettings(webhook_url=receiver.url), shop="shop-1")
    now = datetime.now(UTC)
    add_run(store, audience, status="unavailable")
    assert [s.kind for s in alerts.check(now)] == ["run_failed"]
    assert [s.kind for s in alerts.check(now + timedelta(minutes=1))] == []  # still open: not sent again
    assert (
        len(receiver.texts) == 1
        and "failed: unavailable" in receiver.texts[0]
        and "shop-1" in receiver.texts[0]
    )
    # A second replica checking the same store sends nothing more.
    Alerts(store, AlertSettings(webhook_url=receiver.url)).check(now + timedelta(minutes=2))
    assert len(receiver.texts) == 1


def test_a_webhook_that_is_down_gets_the_alert_at_the_next_check(store: Store, receiver: Receiver) -> None:
    alerts = Alerts(store, AlertSettings(webhook_url=receiver.url))
    add_run(store, f"a{uuid.uuid4().hex[:8]}", status="auth_error")
    receiver.fail = True
    alerts.check()
    assert receiver.texts == []
    receiver.fail = False
    alerts.check()
    assert len(receiver.texts) == 1 and "refused the token" in receiver.texts[0]
    alerts.check()
    assert len(receiver.texts) == 1
