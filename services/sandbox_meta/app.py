"""The HTTP edge: a flask app that turns requests into ``GraphRequest`` and answers Graph JSON.

Thin by design: parse the query string and form body, call ``MetaSandbox.handle``, return.
Every error, including flask's own (405, 413), leaves as Graph JSON: the SDK treats a
non-JSON body as success whatever the status.
"""

from __future__ import annotations

import json

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from services.sandbox_meta.admin import admin_blueprint
from services.sandbox_meta.domain.errors import GraphError
from services.sandbox_meta.service import GraphRequest, GraphResponse, MetaSandbox

MAX_BODY_BYTES = 64 * 1024 * 1024  # a 10,000-row multi-key POST body is a few MB at most


def create_app(sandbox: MetaSandbox) -> Flask:
    """The flask app serving the Graph surface and the ``/_sandbox`` admin endpoints."""
    app = Flask("audiencesync.sandbox_meta")
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,  # default 500 kB rejects a 10k-row payload
        MAX_FORM_PARTS=10_000,
    )
    app.register_blueprint(admin_blueprint(sandbox))

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "DELETE"])
    def graph(path: str) -> Response:
        params = request.args.to_dict(flat=True)
        if request.method == "POST":
            params.update(request.form.to_dict(flat=True))
            if request.is_json:  # Graph also takes JSON bodies; nested values as the SDK sends them
                params.update(_json_params(request.get_json(silent=True)))
        answer = sandbox.handle(
            GraphRequest(request.method, "/" + path, params, request.host_url.rstrip("/"))
        )
        return to_response(answer)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        error = GraphError(
            100 if code < 500 else 1, f"(#{code}) {exc.name}: {exc.description}", http_status=code
        )
        return to_response(GraphResponse(code, error.to_body()))

    return app


def _json_params(body: object) -> dict[str, str]:
    if not isinstance(body, dict):
        return {}
    return {
        str(k): v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":"))
        for k, v in body.items()
    }


def to_response(answer: GraphResponse) -> Response:
    """Render a ``GraphResponse`` as JSON with its headers."""
    response = Response(json.dumps(answer.body), status=answer.status, mimetype="application/json")
    for name, value in answer.headers.items():
        response.headers[name] = value
    return response
