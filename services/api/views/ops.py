"""Probes and metrics: ``/health`` and ``/healthz`` (liveness), ``/readyz``, ``/metrics``."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api import health

blp = Blueprint("ops", __name__, description="Liveness, readiness and Prometheus metrics")

_STATUS = {"application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string"}}}}}
_READY = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["ready", "not_ready"]},
                "failed": {"type": "array", "items": {"type": "string"}},
                "checks": {"type": "object"},
            },
        }
    }
}


@blp.route("/health")
@blp.doc(summary="Liveness (no token)", responses={"200": {"description": "alive", "content": _STATUS}})
def health_check() -> dict[str, Any]:
    """Liveness: the process answers HTTP."""
    return {"status": "ok"}


@blp.route("/healthz")
@blp.doc(summary="Liveness (no token)", responses={"200": {"description": "alive", "content": _STATUS}})
def healthz() -> dict[str, Any]:
    """Liveness under the Kubernetes name."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(
    summary="Readiness: database, broker and pipeline heartbeat (no token)",
    responses={
        "200": {"description": "ready", "content": _READY},
        "503": {"description": "not ready; names the failed checks", "content": _READY},
    },
)
def readyz() -> tuple[Response, int]:
    """200 when the database and broker answer and every consumer is consuming; else 503."""
    return health.readyz()


@blp.route("/metrics")
@blp.doc(
    summary="Prometheus exposition of this process's metrics",
    security=[{"bearer": []}],
    responses={"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics() -> Response:
    """Prometheus text format (needs a ``read`` token, as a scrape config can send one)."""
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
