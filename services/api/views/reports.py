"""``/reports/icp``: the ICP report as JSON, or as the HTML page (``?format=html`` or ``Accept``).

Built by the scorer's own report code from the stored labels; reading it records nothing, so
movements are counted since the last report written by ``audiencesync report icp``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask import Response, request
from flask_smorest import Blueprint

from services.api import context
from services.api.auth import requires

blp = Blueprint("reports", __name__, description="The ICP report")


class ReportArgs(ma.Schema):
    """``format``: json (default) or html."""

    format = ma.fields.String(validate=ma.validate.OneOf(("json", "html")))


def _plain(value: Any) -> Any:
    """JSON-ready: ISO times, numbers for decimals, null for NaN and infinities."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


@blp.route("/reports/icp", methods=["GET"])
@requires("read")
@blp.arguments(ReportArgs, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "the report",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    }
)
def icp_report(args: dict[str, Any]) -> Response:
    """Label shares, trait lifts, negative reasons and movements since the last report."""
    from services.scorer.report_html import render
    from services.scorer.reporting import build_report

    report = build_report(context.store())
    wanted = args.get("format") or (
        "html"
        if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"
        else "json"
    )
    if wanted == "html":
        from services.scorer.report_extras import build_extras

        extras = build_extras(context.store(), context.settings().base_currency, context.definitions())
        return Response(render(report, extras), mimetype="text/html")
    body = _plain(dataclasses.asdict(report))
    return Response(json.dumps(body, allow_nan=False), mimetype="application/json")
