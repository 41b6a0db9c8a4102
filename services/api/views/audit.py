"""``/audit``: who triggered, cancelled, defined, erased or changed a token, and when (admins)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from services.api import context
from services.api.adapters import audit
from services.api.auth import requires
from services.api.views.common import PageArgs, PageSchema

blp = Blueprint("audit", __name__, description="The audit log")


class AuditArgs(PageArgs):
    """Filters of ``GET /audit``."""

    actor = ma.fields.String(validate=ma.validate.Length(1, 64))
    action = ma.fields.String(validate=ma.validate.Length(1, 64))
    target = ma.fields.String(validate=ma.validate.Length(1, 255))
    since = ma.fields.AwareDateTime(default_timezone=None)


class EntrySchema(ma.Schema):
    """One audit entry."""

    id = ma.fields.Integer(required=True)
    at = ma.fields.DateTime(required=True)
    actor = ma.fields.String(required=True)
    action = ma.fields.String(required=True)
    target = ma.fields.String(allow_none=True)
    details = ma.fields.Dict()


class AuditPageSchema(PageSchema):
    """A page of entries, newest first."""

    items = ma.fields.List(ma.fields.Nested(EntrySchema), required=True)


@blp.route("/audit", methods=["GET"])
@requires("admin")
@blp.arguments(AuditArgs, location="query")
@blp.response(200, AuditPageSchema)
def list_entries(args: dict[str, Any]) -> dict[str, Any]:
    """Audit entries newest first, filtered by actor, action, target and time."""
    items, total = audit.entries(context.store(), **args)
    return {"items": items, "total": total, "limit": args["limit"], "offset": args["offset"]}
