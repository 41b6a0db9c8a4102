"""``/dead-letters``: messages set aside, their reasons; mark resolved; replay while the broker has them."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint

from services.api import context
from services.api.adapters import dead_letters
from services.api.adapters.dead_letters import Replay
from services.api.auth import requires
from services.api.errors import ApiError
from services.api.views.common import PageArgs, PageSchema

blp = Blueprint("dead_letters", __name__, description="Dead letters: list, resolve, replay")


class DeadLetterArgs(PageArgs):
    """Filters of ``GET /dead-letters``."""

    consumer = ma.fields.String(validate=ma.validate.Length(1, 64))
    topic = ma.fields.String(validate=ma.validate.Length(1, 128))
    resolved = ma.fields.Boolean()
    since = ma.fields.AwareDateTime(default_timezone=None)


class DeadLetterSchema(ma.Schema):
    """A dead letter (no payload: raw topics hold personal data)."""

    id = ma.fields.Integer(required=True)
    consumer = ma.fields.String()
    topic = ma.fields.String()
    partition = ma.fields.Integer()
    offset = ma.fields.Integer()
    reason = ma.fields.String()
    field_path = ma.fields.String(allow_none=True)
    message_id = ma.fields.String(allow_none=True)
    message_type = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    resolved_at = ma.fields.DateTime(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True)
    replayed_at = ma.fields.DateTime(allow_none=True)


class DeadLetterPageSchema(PageSchema):
    """A page of dead letters, newest first."""

    items = ma.fields.List(ma.fields.Nested(DeadLetterSchema), required=True)


class ReplaySchema(ma.Schema):
    """What a replay did."""

    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"enum": [r.value for r in Replay]})
    detail = ma.fields.String(required=True)


@blp.route("/dead-letters", methods=["GET"])
@requires("read")
@blp.arguments(DeadLetterArgs, location="query")
@blp.response(200, DeadLetterPageSchema)
def list_letters(args: dict[str, Any]) -> dict[str, Any]:
    """Dead letters newest first, filtered by consumer, topic, resolved and time."""
    items, total = dead_letters.search(context.store(), **args)
    return {"items": items, "total": total, "limit": args["limit"], "offset": args["offset"]}


class ResolveManyArgs(ma.Schema):
    """Which unresolved dead letters ``POST /dead-letters/resolve`` marks handled (all filters apply)."""

    consumer = ma.fields.String(validate=ma.validate.Length(1, 64))
    topic = ma.fields.String(validate=ma.validate.Length(1, 128))
    reason = ma.fields.String(validate=ma.validate.Length(1, 500), metadata={"description": "part of it"})
    before = ma.fields.AwareDateTime(default_timezone=None, metadata={"description": "set aside before"})
    all = ma.fields.Boolean(load_default=False, metadata={"description": "no filter: every one unresolved"})

    @ma.validates_schema
    def _some_filter(self, data: dict[str, Any], **_: Any) -> None:
        if not data["all"] and not {"consumer", "topic", "reason", "before"} & data.keys():
            raise ma.ValidationError("name a filter (consumer, topic, reason, before), or all: true")


class ResolvedManySchema(ma.Schema):
    """How many dead letters were marked handled."""

    resolved = ma.fields.Integer(required=True)


@blp.route("/dead-letters/resolve", methods=["POST"])
@requires("operate")
@blp.arguments(ResolveManyArgs)
@blp.response(200, ResolvedManySchema)
def resolve_many(args: dict[str, Any]) -> dict[str, Any]:
    """Mark every unresolved dead letter matching the filters handled (a fixed cause's aftermath)."""
    everything = args.pop("all")
    resolved = dead_letters.resolve_matching(context.store(), context.actor(), everything=everything, **args)
    return {"resolved": resolved}


@blp.route("/dead-letters/<id:letter_id>/resolve", methods=["POST"])
@requires("operate")
@blp.response(200, DeadLetterSchema)
def resolve(letter_id: int) -> dict[str, Any]:
    """Mark a dead letter handled (idempotent)."""
    found = dead_letters.resolve(context.store(), letter_id, context.actor())
    if found is None:
        raise ApiError(404, "dead_letter_not_found", f"no dead letter {letter_id}")
    return found


@blp.route("/dead-letters/<id:letter_id>/replay", methods=["POST"])
@requires("operate")
@blp.response(202, ReplaySchema)
@blp.alt_response(410, description="the broker no longer holds the message")
@blp.alt_response(503, description="no broker configured")
def replay(letter_id: int) -> tuple[dict[str, Any], int]:
    """Publish the message to its source topic again, read back from the broker by its offset."""
    store = context.store()
    if dead_letters.get(store, letter_id) is None:
        raise ApiError(404, "dead_letter_not_found", f"no dead letter {letter_id}")
    bootstrap = context.settings().kafka_bootstrap
    if not bootstrap:
        raise ApiError(503, "broker_not_configured", "KAFKA_BOOTSTRAP_SERVERS is not set")
    publisher = current_app.extensions["audiencesync"].publisher
    outcome, detail = dead_letters.replay(store, bootstrap, publisher, letter_id, context.actor())
    if outcome is not Replay.REPLAYED:
        raise ApiError(410, f"message_{outcome.value}", detail)
    return {"id": letter_id, "status": outcome.value, "detail": detail}, 202
