"""Admin endpoints under ``/_sandbox``: read state and call counts, inject faults.

Protected by ``--admin-token`` (header ``X-Sandbox-Admin-Token``) when one is configured,
otherwise reachable from loopback addresses only. They are not part of the Graph surface and
are never billed or logged as Graph calls.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from services.sandbox_meta.config import ConfigError, normalise_account
from services.sandbox_meta.domain import audience as rules
from services.sandbox_meta.service import MetaSandbox

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
POLICY_FIELDS = ("tos_accepted", "value_based_tos_accepted", "business_linked")


def admin_blueprint(sandbox: MetaSandbox) -> Blueprint:
    """The ``/_sandbox`` blueprint bound to one sandbox."""
    bp = Blueprint("sandbox_admin", __name__, url_prefix="/_sandbox")

    @bp.before_request
    def guard() -> Response | None:
        token = sandbox.config.admin_token
        if token is not None:
            sent = request.headers.get("X-Sandbox-Admin-Token", "")
            if not hmac.compare_digest(sent.encode(), token.encode()):
                return _error(403, "admin token missing or wrong (X-Sandbox-Admin-Token)")
        elif request.remote_addr not in LOOPBACK:
            return _error(403, "admin endpoints are loopback-only without --admin-token")
        return None

    @bp.get("/health")
    def health() -> Response:
        return jsonify(ok=True, now=sandbox.clock.now())

    @bp.get("/audiences")
    def audiences() -> Response:
        account = request.args.get("account")
        rows = []
        for a in sandbox.state.audiences(normalise_account(account) if account else None):
            total, matched = sandbox.state.counts(a.id)
            rows.append(
                {
                    "id": a.id,
                    "account_id": a.account_id,
                    "name": a.name,
                    "subtype": a.subtype,
                    "is_value_based": a.is_value_based,
                    "flagged": a.flagged,
                    "members": total,
                    "matched": matched,
                }
            )
        return jsonify(audiences=rows)

    @bp.get("/audiences/<audience_id>/members")
    def members(audience_id: str) -> Response:
        if sandbox.state.audience(audience_id) is None:
            return _error(404, f"no audience {audience_id}")
        found = sandbox.state.member_records(audience_id)
        return jsonify(
            audience_id=audience_id,
            count=len(found),
            matched=sum(m.matched for m in found),
            size_bounds=rules.size_bounds(sum(m.matched for m in found)),
            members=[
                {"identifier": m.identifier, "fields": m.fields, "value": m.value, "matched": m.matched}
                for m in found
            ],
        )

    @bp.get("/audiences/<audience_id>/sessions")
    def sessions(audience_id: str) -> Response:
        found = sandbox.state.sessions(audience_id)
        return jsonify(sessions=[{**s.to_graph(), "kind": s.kind} for s in found])

    @bp.post("/audiences/<audience_id>/flag")
    def flag(audience_id: str) -> Response:
        flagged = bool(_body().get("flagged", True))
        try:
            sandbox.state.flag(audience_id, flagged)
        except KeyError:
            return _error(404, f"no audience {audience_id}")
        return jsonify(audience_id=audience_id, flagged=flagged)

    @bp.get("/calls")
    def calls() -> Response:
        return jsonify(total=sandbox.calls.total, counts=sandbox.calls.counts())

    @bp.delete("/calls")
    def reset_calls() -> Response:
        sandbox.calls.reset()
        return jsonify(total=0)

    @bp.get("/faults")
    def faults() -> Response:
        return jsonify(sandbox.faults.snapshot(sandbox.clock.now()))

    @bp.post("/faults")
    def set_faults() -> Response:
        body = _body()
        try:
            if "transient_error_rate" in body:
                seed = body.get("seed")
                sandbox.faults.set_transient(
                    float(body["transient_error_rate"]), None if seed is None else int(seed)
                )
            if "latency_ms" in body:
                sandbox.faults.set_latency(int(body["latency_ms"]))
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return jsonify(sandbox.faults.snapshot(sandbox.clock.now()))

    @bp.post("/throttle")
    def throttle() -> Response:
        body = _body()
        try:
            sandbox.throttle(
                int(body.get("seconds", 60)), code=int(body.get("code", 80003)), account=body.get("account")
            )
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return jsonify(sandbox.faults.snapshot(sandbox.clock.now()))

    @bp.delete("/throttle")
    def clear_throttle() -> Response:
        sandbox.faults.clear_throttles()
        return jsonify(sandbox.faults.snapshot(sandbox.clock.now()))

    @bp.post("/tokens/expire")
    def expire_token() -> Response:
        token = _body().get("token")
        if not isinstance(token, str) or not token:
            return _error(400, 'body needs {"token": "..."}')
        sandbox.expire_token(token)
        return jsonify(expired=True)

    @bp.post("/accounts/<account>/policy")
    def policy(account: str) -> Response:
        body = _body()
        changes = {k: bool(body[k]) for k in POLICY_FIELDS if k in body}
        try:
            updated = sandbox.faults.set_policy(account, **changes)
        except ConfigError as exc:
            return _error(400, str(exc))
        return jsonify(account=normalise_account(account), **vars(updated))

    @bp.post("/clock/advance")
    def advance() -> Response:
        try:
            now = sandbox.clock.advance(float(_body().get("seconds", 0)))
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return jsonify(now=now)

    return bp


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        return {}
    if not isinstance(data, dict):
        abort(400)
    return data


def _error(status: int, message: str) -> Response:
    response = jsonify(error={"message": message, "type": "SandboxAdminError", "code": status})
    response.status_code = status
    return response
