"""The API's flask-smorest blueprints: thin views that parse, call an adapter or handler, return."""

from __future__ import annotations

from flask_smorest import Blueprint

from services.api.views import audiences, audit, customers, dead_letters, ops, reports, syncs

BLUEPRINTS: tuple[Blueprint, ...] = (
    ops.blp,
    syncs.blp,
    audiences.blp,
    customers.blp,
    reports.blp,
    dead_letters.blp,
    audit.blp,
)
