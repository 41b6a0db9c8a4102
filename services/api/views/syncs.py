"""``/syncs``: trigger a sync (202 + id, 409 when an audience is already syncing), list, show, cancel.

A trigger is a durable request (``shared.store.sync_requests``) that the scheduler's worker
carries out; its id is the sync's id. Each audience is synced to the platforms it declares
(``destinations`` narrows them). ``GET /syncs/{id}`` joins the runs the worker recorded, one per
destination account, with their counts, batch progress, platform feedback and timings.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response
from flask_smorest import Blueprint

from services.api import context
from services.api.adapters import sync_runs
from services.api.auth import requires
from services.api.errors import ApiError
from services.api.views.common import PageArgs, PageSchema
from shared.store import sync_requests
from shared.store.sync_requests import MODES, PLATFORMS, AlreadySyncingError, RequestStatus

blp = Blueprint("syncs", __name__, description="Trigger, list, watch and cancel syncs")


class TriggerSchema(ma.Schema):
    """Body of ``POST /syncs``; lists left out mean every audience / every platform."""

    class Meta:
        unknown = ma.RAISE

    audiences = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(1, 64)), validate=ma.validate.Length(1, 200)
    )
    destinations = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PLATFORMS)),
        validate=ma.validate.Length(1, len(PLATFORMS)),
    )
    mode = ma.fields.String(load_default="delta", validate=ma.validate.OneOf(MODES))


class RunSchema(ma.Schema):
    """One destination's run."""

    run_id = ma.fields.Integer()
    audience = ma.fields.String()
    platform = ma.fields.String()
    account = ma.fields.String()
    kind = ma.fields.String()
    variant = ma.fields.String()
    mode = ma.fields.String()
    status = ma.fields.String()
    desired = ma.fields.Integer()
    added = ma.fields.Integer()
    removed = ma.fields.Integer()
    invalid = ma.fields.Integer()
    errors = ma.fields.Integer()
    api_calls = ma.fields.Integer()
    batches_done = ma.fields.Integer()
    batches_total = ma.fields.Integer()
    match_rate = ma.fields.Float(allow_none=True)
    feedback = ma.fields.Dict()
    error_samples = ma.fields.List(ma.fields.Dict())
    message = ma.fields.String(allow_none=True)
    started_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    seconds = ma.fields.Float(allow_none=True)


class SyncSchema(ma.Schema):
    """A sync request and how it went."""

    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"enum": [s.value for s in RequestStatus]})
    mode = ma.fields.String(required=True)
    audiences = ma.fields.List(ma.fields.String(), required=True)
    destinations = ma.fields.List(ma.fields.String(), required=True)
    requested_by = ma.fields.String(required=True)
    requested_at = ma.fields.DateTime(required=True)
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    cancel_requested_at = ma.fields.DateTime(allow_none=True)
    run_ids = ma.fields.List(ma.fields.Integer())
    results = ma.fields.List(ma.fields.Dict())
    message = ma.fields.String(allow_none=True)
    runs = ma.fields.List(ma.fields.Nested(RunSchema))


class SyncPageSchema(PageSchema):
    """A page of syncs."""

    items = ma.fields.List(ma.fields.Nested(SyncSchema), required=True)


class SyncFilterArgs(PageArgs):
    """Filters of ``GET /syncs``."""

    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RequestStatus]))
    audience = ma.fields.String(validate=ma.validate.Length(1, 64))
    destination = ma.fields.String(validate=ma.validate.OneOf(PLATFORMS))
    since = ma.fields.AwareDateTime(default_timezone=None, metadata={"description": "requested at or after"})
    until = ma.fields.AwareDateTime(default_timezone=None, metadata={"description": "requested before"})


def _slots(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The (audience, platform) pairs a trigger asks for; unknown names are 422s naming the field."""
    audiences = {a.key: a for a in context.definitions().audiences}
    wanted = body.get("audiences") or list(audiences)
    unknown = [key for key in wanted if key not in audiences]
    if unknown:
        raise ApiError(
            422,
            "validation_failed",
            f"invalid audiences: unknown audience {unknown[0]!r}",
            extra={"errors": [{"field": "audiences", "message": f"unknown audience {k!r}"} for k in unknown]},
        )
    platforms = body.get("destinations") or list(PLATFORMS)
    slots = [
        (key, platform)
        for key in dict.fromkeys(wanted)
        for platform in platforms
        if getattr(audiences[key], platform) is not None
    ]
    if not slots:
        raise ApiError(
            422,
            "validation_failed",
            "invalid destinations: none of these audiences is sent to " + ", ".join(platforms),
            extra={"errors": [{"field": "destinations", "message": "no audience is sent there"}]},
        )
    return slots


@blp.route("/syncs", methods=["POST"])
@requires("operate")
@blp.arguments(TriggerSchema)
@blp.response(202, SyncSchema)
@blp.alt_response(409, description="an audience is already syncing; `running_id` names the sync")
def trigger(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Trigger a sync of audiences (default all) to destinations (default all they declare)."""
    try:
        request_id = sync_requests.create(context.store(), _slots(body), body["mode"], context.actor())
    except AlreadySyncingError as exc:
        raise ApiError(409, "already_syncing", str(exc), extra={"running_id": exc.request_id}) from None
    found = sync_requests.get(context.store(), request_id)
    assert found is not None
    return found, 202, {"Location": f"/syncs/{request_id}"}


@blp.route("/syncs", methods=["GET"])
@requires("read")
@blp.arguments(SyncFilterArgs, location="query")
@blp.response(200, SyncPageSchema)
def search(args: dict[str, Any]) -> dict[str, Any]:
    """Syncs newest first, filtered by status, audience, destination and time."""
    items, total = sync_requests.search(context.store(), **args)
    return {"items": items, "total": total, "limit": args["limit"], "offset": args["offset"]}


@blp.route("/syncs/<id:sync_id>", methods=["GET"])
@requires("read")
@blp.response(200, SyncSchema)
def show(sync_id: int) -> Response:
    """One sync with a run per destination: counts, batches, feedback, match rate, errors, timings."""
    found = context.cached_json(("sync", sync_id), lambda: _with_runs(sync_id), SyncSchema())
    if found is None:
        raise ApiError(404, "sync_not_found", f"no sync {sync_id}")
    return found


def _with_runs(sync_id: int) -> dict[str, Any] | None:
    found = sync_requests.get(context.store(), sync_id)
    if found is not None:
        found["runs"] = sync_runs.runs(context.store(), found["run_ids"])
    return found


@blp.route("/syncs/<id:sync_id>/cancel", methods=["POST"])
@requires("operate")
@blp.response(200, SyncSchema)
@blp.alt_response(409, description="the sync already ended")
def cancel(sync_id: int) -> dict[str, Any]:
    """Cancel a sync: a queued one ends now; a running one stops after its current batch."""
    found = sync_requests.cancel(context.store(), sync_id, context.actor())
    if found is None:
        raise ApiError(404, "sync_not_found", f"no sync {sync_id}")
    if found["status"] in (RequestStatus.SUCCEEDED, RequestStatus.FAILED):
        raise ApiError(409, "already_finished", f"sync {sync_id} already ended ({found['status']})")
    return found
