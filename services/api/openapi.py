"""flask-smorest wiring: the OpenAPI 3 document, the docs pages, and problem details for every error.

``/openapi.json`` is the contract (schemathesis tests the server against it). ``/docs`` is a
self-contained reference rendered on the server from that document, so it works on a machine with
no internet; ``/docs/swagger`` and ``/docs/redoc`` are flask-smorest's interactive pages, whose
JavaScript comes from a CDN (they stay blank offline: use ``/docs`` or load ``/openapi.json`` into
any OpenAPI tool).
"""

from __future__ import annotations

import http
from typing import Any

import marshmallow as ma
from flask import Blueprint, Flask, Response, current_app, render_template_string
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from services.api.errors import PROBLEM_JSON, field_errors, problem, problem_response

SECURITY_SCHEME = "bearer"
CONFIG: dict[str, Any] = {
    "API_TITLE": "audiencesync",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs/swagger",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
    "OPENAPI_REDOC_PATH": "/docs/redoc",
    "OPENAPI_REDOC_URL": "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js",
}
DOC_ENDPOINTS = frozenset(
    {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "api-docs.openapi_redoc", "docs.reference"}
)


MAX_ID = 2**63 - 1  # BIGINT; larger ids cannot exist and would overflow the database driver


class IdConverter(IntegerConverter):
    """``<id:name>``: a row id, 1 to 2**63 - 1; anything else does not match the route (404)."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def _id_schema(_converter: IdConverter) -> dict[str, Any]:
    return {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}


class FieldErrorSchema(ma.Schema):
    """One invalid field."""

    field = ma.fields.String(required=True, metadata={"description": "dotted path, e.g. destinations.0"})
    message = ma.fields.String(required=True)


class ProblemSchema(ma.Schema):
    """RFC 7807 problem details, with ``code`` and (validation errors) ``errors`` as extensions."""

    type = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    code = ma.fields.String(required=True, metadata={"description": "stable machine-readable code"})
    errors = ma.fields.List(ma.fields.Nested(FieldErrorSchema))
    retry_after = ma.fields.Integer(metadata={"description": "seconds, with 429"})
    running_id = ma.fields.Integer(metadata={"description": "the sync already running, with 409"})


class ProblemApi(Api):  # type: ignore[misc]
    """``Api`` whose errors, documented and answered, are ``application/problem+json``."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Problem details", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:
        """404, 405, 413, 422 (validation) and aborts, as problem details."""
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        code = (error.name or "error").lower().replace(" ", "_")
        extra: dict[str, Any] = {}
        detail = error.description or ""
        allowed = sorted(getattr(error, "valid_methods", None) or ())
        if status == 405 and allowed:
            detail = f"allowed methods: {', '.join(allowed)}"
        messages = data.get("errors") or data.get("messages")
        if messages:
            errors = field_errors(messages)
            extra["errors"] = errors
            code = "validation_failed"
            detail = "invalid " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        headers = dict(data.get("headers") or {})
        if status == 405 and allowed:
            headers["Allow"] = ", ".join(allowed)
        return problem_response(problem(status, code, detail, **extra), headers)


def build_api(app: Flask) -> ProblemApi:
    """Attach flask-smorest to ``app`` with the bearer security scheme declared."""
    for key, value in CONFIG.items():
        app.config.setdefault(key, value)
    app.url_map.converters["id"] = IdConverter
    api = ProblemApi(
        app,
        spec_kwargs={
            "info": {
                "description": "Trigger and watch audience syncs, edit audience definitions, erase "
                "customers. Send `Authorization: Bearer <token>` (`audiencesync tokens create`). "
                "Errors are RFC 7807 problem details."
            }
        },
    )
    api.spec.components.security_scheme(SECURITY_SCHEME, {"type": "http", "scheme": "bearer"})
    api.register_converter(IdConverter, _id_schema)
    docs = Blueprint("docs", __name__)
    docs.add_url_rule("/docs", "reference", _reference)
    app.register_blueprint(docs)
    return api


def _reference() -> str:
    """The offline API reference: every operation with its parameters and responses."""
    api: ProblemApi = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return render_template_string(REFERENCE, spec=api.spec.to_dict())


REFERENCE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ spec.info.title }} API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:1rem auto;max-width:60rem;padding:0 1rem}
code,pre{background:#f4f4f4;padding:0 .2em}pre{padding:.5em;overflow:auto}
.op{border-top:1px solid #ddd;padding:.5em 0}.m{font-weight:bold;text-transform:uppercase}</style>
</head><body><h1>{{ spec.info.title }} API {{ spec.info.version }}</h1>
<p>{{ spec.info.description }}</p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>.
Interactive pages (need internet for their scripts): <a href="/docs/swagger">Swagger UI</a>,
<a href="/docs/redoc">ReDoc</a>.</p>
{% for path, ops in spec.paths.items() %}{% for method, op in ops.items() if method != 'parameters' %}
<div class="op"><span class="m">{{ method }}</span> <code>{{ path }}</code> — {{ op.summary or '' }}
{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% if op.parameters %}<p>Parameters: {% for p in op.parameters %}<code>{{ p.name }}</code> ({{ p['in'] }})
{% endfor %}</p>{% endif %}
<p>Responses: {% for code in op.responses %}<code>{{ code }}</code> {% endfor %}</p></div>
{% endfor %}{% endfor %}
</body></html>"""
