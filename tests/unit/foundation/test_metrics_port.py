"""A worker's Prometheus metrics on METRICS_PORT: served when set, never inherited by children."""

from __future__ import annotations

import urllib.request

import pytest

from shared.bus.broker import free_port
from shared.config import Settings
from shared.runtime import serve_metrics
from shared.sync.consumer import FLUSHES


def test_metrics_are_served_on_the_port_and_stop_with_the_service() -> None:
    port = free_port()
    settings = Settings.from_env({"METRICS_PORT": str(port)})
    FLUSHES.labels(platform="meta", outcome="synced").inc()
    stop = serve_metrics(settings, "syncer_meta")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
        assert 'audiencesync_sync_flushes_total{outcome="synced",platform="meta"}' in body
    finally:
        stop()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
        raise AssertionError("the metrics server outlived its service")
    except OSError:
        pass


def test_no_port_no_server_and_children_do_not_inherit_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({}).metrics_port == 0
    serve_metrics(Settings.from_env({}), "scorer")()  # a no-op
    monkeypatch.setenv("METRICS_PORT", "9100")
    assert "METRICS_PORT" not in Settings.from_env().child_environ()
