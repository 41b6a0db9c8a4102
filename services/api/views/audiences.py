"""``/audiences``: definitions in force, storing a new version, destination health, identifier quality."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import marshmallow as ma
from flask import Response, current_app, request
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError

from services.api import context
from services.api.adapters import definitions, quality, sync_runs
from services.api.auth import requires
from services.api.errors import ApiError
from shared.definitions.audiences import KEY
from shared.definitions.stored import InvalidAudience

blp = Blueprint("audiences", __name__, description="Audience definitions, health and identifier quality")

KEY_PATTERN = KEY.regex.pattern


class AudienceSchema(ma.Schema):
    """An audience in force."""

    key = ma.fields.String(required=True)
    role = ma.fields.String(required=True, metadata={"enum": ["include", "exclusion"]})
    description = ma.fields.String(required=True)
    destinations = ma.fields.List(ma.fields.String(), required=True)
    origin = ma.fields.String(required=True, metadata={"enum": ["config", "api"]})
    version = ma.fields.Integer(required=True, metadata={"description": "0: the YAML file's"})
    definition = ma.fields.Dict(required=True, metadata={"description": "as in the YAML file's audiences"})


class AudienceListSchema(ma.Schema):
    """Every audience in force."""

    items = ma.fields.List(ma.fields.Nested(AudienceSchema), required=True)


class DefinitionBody(ma.Schema):
    """The body of ``PUT /audiences/{key}``: one item of the YAML file's ``audiences:`` list.

    Validated by the file's own rules; field errors name the path (``select.label``).
    """

    class Meta:
        unknown = ma.INCLUDE

    select = ma.fields.Dict(required=True, metadata={"example": {"label": "icp"}})
    destinations = ma.fields.Dict(required=True, metadata={"example": {"meta": {}}})
    role = ma.fields.String(metadata={"enum": ["include", "exclusion"]})
    description = ma.fields.String()


class DestinationHealthSchema(ma.Schema):
    """One destination of an audience."""

    platform = ma.fields.String()
    account = ma.fields.String()
    kind = ma.fields.String()
    variant = ma.fields.String()
    platform_audience_id = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    desired = ma.fields.Integer(allow_none=True)
    synced = ma.fields.Integer()
    drift = ma.fields.Integer(allow_none=True)
    last_run = ma.fields.Dict(allow_none=True)
    last_success_at = ma.fields.DateTime(allow_none=True)
    match_rate = ma.fields.Float(allow_none=True)
    sizes = ma.fields.List(ma.fields.Dict())
    days_to_membership_expiry = ma.fields.Integer(allow_none=True)
    flags = ma.fields.List(ma.fields.Dict())


class HealthSchema(ma.Schema):
    """Desired versus synced per destination, with the platform's sizes over time."""

    audience = ma.fields.String(required=True)
    destinations = ma.fields.List(ma.fields.Nested(DestinationHealthSchema), required=True)


class CountryQualitySchema(ma.Schema):
    """Identifier quality of one country's selected customers (shares 0..1)."""

    country = ma.fields.String(allow_none=True)
    customers = ma.fields.Integer()
    valid_email = ma.fields.Float()
    valid_phone = ma.fields.Float()
    complete_address = ma.fields.Float()
    consent = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float())
    duplicates = ma.fields.Float()


class QualitySchema(ma.Schema):
    """The identifier-quality report of an audience before upload."""

    audience = ma.fields.String(required=True)
    customers = ma.fields.Integer(required=True)
    countries = ma.fields.List(ma.fields.Nested(CountryQualitySchema), required=True)


def _known(key: str) -> Any:
    try:
        return context.definitions().audience(key)
    except KeyError:
        raise ApiError(404, "audience_not_found", f"no audience {key!r}") from None


@blp.route("/audiences", methods=["GET"])
@requires("read")
@blp.response(200, AudienceListSchema)
def list_audiences() -> dict[str, Any]:
    """Every audience in force: the YAML file's, with the API's versions over them."""
    return {"items": definitions.effective(context.store(), context.file_definitions())}


@blp.route("/audiences/<string:key>", methods=["GET"])
@requires("read")
@blp.response(200, AudienceSchema)
def get_audience(key: str) -> dict[str, Any]:
    """One audience in force."""
    found = definitions.one(context.store(), context.file_definitions(), key)
    if found is None:
        raise ApiError(404, "audience_not_found", f"no audience {key!r}")
    return found


@blp.route("/audiences/<string:key>", methods=["PUT"])
@requires("admin")
@blp.arguments(DefinitionBody)
@blp.response(200, AudienceSchema)
def put_audience(_parsed: dict[str, Any], key: str) -> dict[str, Any]:
    """Store a validated definition as the audience's next version (it wins over the YAML file's)."""
    document = request.get_json(silent=True) or {}  # validated whole by the file's own rules
    try:
        return definitions.put(context.store(), key, document, context.actor())
    except InvalidAudience as exc:
        errors = [{"field": field, "message": message} for field, message in exc.errors]
        raise ApiError(422, "validation_failed", f"invalid {exc}", extra={"errors": errors}) from None
    except IntegrityError:
        raise ApiError(
            409, "concurrent_update", f"audience {key!r} was changed at the same time; retry"
        ) from None


@blp.route("/audiences/<string:key>/health", methods=["GET"])
@requires("read")
@blp.response(200, HealthSchema)
def audience_health(key: str) -> Response:
    """Per destination (Meta, Google): desired vs synced, drift, last success, match rate, sizes, flags."""

    def compute() -> dict[str, Any] | None:
        audience = next((a for a in context.definitions().audiences if a.key == key), None)
        if audience is None:
            return None
        days = audience.google.membership_days if audience.google else None
        return {"audience": key, "destinations": sync_runs.health(context.store(), key, membership_days=days)}

    found = context.cached_json(("health", key), compute, HealthSchema())
    if found is None:
        raise ApiError(404, "audience_not_found", f"no audience {key!r}")
    return found


@blp.route("/audiences/<string:key>/quality", methods=["GET"])
@requires("read")
@blp.response(200, QualitySchema)
def audience_quality(key: str) -> dict[str, Any]:
    """Identifier quality per country of the customers the audience selects now (before upload)."""
    audience = _known(key)
    rules = replace(current_app.config["UPLOAD_RULES"], role=audience.role)
    members = quality.members(context.store(), audience)
    return {"audience": key, "customers": len(members), "countries": quality.summarize(members, rules)}
