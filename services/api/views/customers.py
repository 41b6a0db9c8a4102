"""``/customers/{key}``: one customer by their hashed key, and erasure (idempotent, audited)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint

from services.api import context
from services.api.adapters import customers
from services.api.adapters.customers import Erased
from services.api.auth import requires
from services.api.errors import ApiError
from shared.bus.topics import ORDERS_RAW, RAW_RETENTION_MS

blp = Blueprint("customers", __name__, description="Customers by hashed key; erasure")


class CustomerSchema(ma.Schema):
    """A customer: hashed identity only (the key, which identifier fields we hold, never values)."""

    customer_key = ma.fields.String(required=True)
    country = ma.fields.String(allow_none=True)
    first_seen_at = ma.fields.DateTime()
    has_orders = ma.fields.Boolean()
    identifiers = ma.fields.List(ma.fields.String())
    label = ma.fields.String(allow_none=True)
    stage = ma.fields.String(allow_none=True)
    reasons = ma.fields.List(ma.fields.Raw())
    features = ma.fields.Dict()
    predicted_value = ma.fields.Float(allow_none=True)
    scored_at = ma.fields.DateTime(allow_none=True)
    audiences = ma.fields.List(ma.fields.String(), metadata={"description": "selected by now"})
    synced_to = ma.fields.List(ma.fields.Dict(), metadata={"description": "in the ledger of"})


class ErasureSchema(ma.Schema):
    """What an erase request did."""

    customer_key = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["erased", "already_erased"]})
    detail = ma.fields.String(required=True)


@blp.route("/customers/<string:key>", methods=["GET"])
@requires("read")
@blp.response(200, CustomerSchema)
def get_customer(key: str) -> dict[str, Any]:
    """Label, reasons, features, predicted value, stage and audiences of one customer."""
    found = customers.customer(context.store(), key, context.definitions())
    if found is None:
        raise ApiError(404, "customer_not_found", "no customer with this key (unknown or erased)")
    return found


@blp.route("/customers/<string:key>/erase", methods=["POST"])
@requires("admin")
@blp.response(202, ErasureSchema)
@blp.alt_response(200, schema=ErasureSchema, description="already erased: nothing more to do")
def erase_customer(key: str) -> tuple[dict[str, Any], int]:
    """Erase a customer's facts now; platforms drop them on each destination's next sync."""
    outcome = customers.erase(context.store(), key, context.actor())
    if outcome is Erased.UNKNOWN:
        raise ApiError(404, "customer_not_found", "no customer with this key, and none was erased")
    if outcome is Erased.ALREADY_ERASED:
        return {"customer_key": key, "status": outcome.value, "detail": "erased before"}, 200
    if context.settings().kafka_bootstrap:
        current_app.extensions["audiencesync"].relay.wake()  # the erasure announcement goes out now
    detail = (  # the raw webhooks on the broker cannot be erased there: say when they go
        "facts deleted; removed from platform audiences on the next sync; webhooks already on the"
        f" broker's {ORDERS_RAW} topic go with its retention ({RAW_RETENTION_MS // 86_400_000} days"
        " on Kafka; the embedded broker keeps them in memory until it stops)"
    )
    return {"customer_key": key, "status": outcome.value, "detail": detail}, 202
