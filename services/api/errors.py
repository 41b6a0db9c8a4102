"""The one error shape of the whole API: RFC 7807 problem details (``application/problem+json``).

Every error, whether raised by a view (``ApiError``), by flask-smorest's validation (422), or by
routing (404, 405), is answered as ``{"type", "title", "status", "detail", "code"}``; validation
errors add ``errors``, a list of ``{"field", "message"}`` naming each bad field, and the detail
names them too, so a client that only shows ``detail`` still tells the user which field to fix.
``code`` is a stable machine-readable extension member (RFC 7807 section 3.2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Response

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/docs#problem-"  # a relative URI reference (RFC 7807 3.1): the API's own docs page


class ApiError(Exception):
    """An error answered with ``status`` and a machine-readable ``code``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The problem document for ``status`` (plain data; the caller renders it)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }


def problem_response(document: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    """Render a problem document with its media type."""
    response = Response(
        json.dumps(document, default=str), status=int(document["status"]), mimetype=PROBLEM_JSON
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    """Build the error response (kept for the webhook edge, which answers through it)."""
    return problem_response(problem(status, code, message)), status


def field_errors(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten marshmallow/webargs messages (``{"json": {"mode": ["..."]}}``) to field + message.

    The location (``json``, ``query``) is dropped from the field name when it is the first level:
    ``mode``, ``destinations.0``; ``_schema`` errors belong to the whole body.
    """
    found: list[dict[str, str]] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = str(key) if key != "_schema" else ""
            if not prefix and key in ("json", "query", "form", "path", "headers", "files", "view_args"):
                found += field_errors(value, "")
                continue
            path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            found += field_errors(value, path)
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            found += [{"field": prefix or "body", "message": m} for m in messages]
        else:
            for item in messages:
                found += field_errors(item, prefix)
    else:
        found.append({"field": prefix or "body", "message": str(messages)})
    return found
