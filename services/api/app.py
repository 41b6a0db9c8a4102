"""The flask application factory: routes are registered here, handlers live in the services."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.config import Settings


def create_app(settings: Settings) -> Flask:
    """Build the app for ``settings``; no I/O until a request arrives."""
    app = Flask("audiencesync")
    app.config["SETTINGS"] = settings

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness: the only route that needs no token."""
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus exposition of this process's metrics."""
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    return app
