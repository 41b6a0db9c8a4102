"""Schemas every resource shares: pagination."""

from __future__ import annotations

import marshmallow as ma

MAX_PAGE = 200


class PageArgs(ma.Schema):
    """``limit`` and ``offset`` query parameters."""

    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=MAX_PAGE))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=10_000_000))


class PageSchema(ma.Schema):
    """A page of items with the total that matched."""

    total = ma.fields.Integer(required=True)
    limit = ma.fields.Integer(required=True)
    offset = ma.fields.Integer(required=True)
