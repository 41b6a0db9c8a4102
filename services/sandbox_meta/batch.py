"""Graph batch requests: ``POST /vNN.N/`` with ``batch=[{method, relative_url, body}]``.

Each inner call runs through the same pipeline (and budget) as a direct call, inheriting the
outer ``access_token``/``appsecret_proof``; the answer is a JSON list of ``{code, headers,
body}`` with ``body`` as a JSON string, which is what ``FacebookAdsApiBatch.execute`` parses.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from services.sandbox_meta.domain import errors

if TYPE_CHECKING:
    from services.sandbox_meta.service import GraphRequest, GraphResponse, MetaSandbox

MAX_BATCH = 50  # "You can make up to 50 requests in a batch" (Graph batch docs)
_INHERITED = ("access_token", "appsecret_proof")


def run(sandbox: MetaSandbox, request: GraphRequest, version: str) -> GraphResponse:
    """Execute every call of the batch in order and collect their answers."""
    from services.sandbox_meta.service import GraphRequest, GraphResponse

    try:
        calls = json.loads(request.params["batch"])
    except ValueError:
        raise errors.invalid_json("batch") from None
    if not isinstance(calls, list) or not calls:
        raise errors.invalid_parameter("batch must be a non-empty JSON array")
    if len(calls) > MAX_BATCH:
        raise errors.invalid_parameter(f"Batch requests are limited to {MAX_BATCH} calls")
    results: list[dict[str, Any]] = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("relative_url"), str):
            raise errors.invalid_parameter("Each batch call needs a method and a relative_url")
        method = str(call.get("method", "GET")).upper()
        url = urlsplit(call["relative_url"])
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        body = call.get("body")
        if isinstance(body, str):
            params.update(parse_qsl(body, keep_blank_values=True))
        for name in _INHERITED:
            if name in request.params:
                params.setdefault(name, request.params[name])
        path = url.path.lstrip("/")
        if not path.startswith("v") or "." not in path.split("/", 1)[0]:
            path = f"{version}/{path}"
        answer = sandbox.handle(GraphRequest(method, "/" + path, params, request.base_url), inner=True)
        results.append(
            {
                "code": answer.status,
                "headers": [{"name": k, "value": v} for k, v in answer.headers.items()],
                "body": json.dumps(answer.body),
            }
        )
    return GraphResponse(200, results)
