"""The one error shape of the whole API: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

from flask import Response, jsonify


class ApiError(Exception):
    """An error answered with ``status`` and a machine-readable ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    """Build the error body."""
    return jsonify({"error": {"code": code, "message": message}}), status
