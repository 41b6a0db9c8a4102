"""The API's flask-smorest blueprints: thin views that parse, call an adapter or handler, return."""

from __future__ import annotations

from flask_smorest import Blueprint

from services.api.views import ops

BLUEPRINTS: tuple[Blueprint, ...] = (ops.blp,)
