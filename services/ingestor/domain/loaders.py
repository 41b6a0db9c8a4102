"""The fast path of validation: each marshmallow schema compiled once into plain closures.

The schemas stay the one definition of every payload (``shopify_schemas``, ``generic``...); this
module reads their declared fields and calls the same fields' own ``_deserialize``, so a valid
payload loads to exactly what ``schema.load`` returns. What it drops is marshmallow's per-field
machinery around them (error stores, getter closures, hook lookups, ``set_value``): on a demo
order that was most of validation time (cProfile, 20k orders). Anything the fast path does not
accept (any field error, a schema with hooks, an unusual field) raises, and the caller runs
``schema.load`` itself, so every refusal and its reasons come from marshmallow as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, missing

from services.ingestor.domain.fields import Lean, Many, Obj


class NeedsFullLoad(Exception):  # noqa: N818 - a signal, not a failure: take marshmallow's path
    """The fast path cannot decide this input; marshmallow must (it will name the problems)."""


FieldLoad = Callable[[Any, Any], Any]  # (raw value or ``missing``, the parent mapping) -> value
Load = Callable[[Any], dict[str, Any]]


@cache
def compiled(schema: Schema) -> Load | None:
    """The fast loader of ``schema``; None when only marshmallow can load it (hooks, options)."""
    if any(schema._hooks.values()) or schema.many or schema.unknown != EXCLUDE or schema.partial:
        return None
    steps: list[tuple[str, str, FieldLoad]] = []
    for name, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else name
        out = field.attribute or name
        step = _field(field, key)
        if step is None or "." in out:
            return None
        steps.append((key, out, step))

    def load(data: Any) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise NeedsFullLoad
        result: dict[str, Any] = {}
        get = data.get
        for key, out, step in steps:
            value = step(get(key, missing), data)
            if value is not missing:
                result[out] = value
        return result

    return load


def _plain(field: fields.Field[Any]) -> bool:
    """A field whose ``deserialize`` is ``Lean``'s: no validators or per-value hooks."""
    return isinstance(field, Lean) and not (field.validators or field.pre_load or field.post_load)


def _field(field: fields.Field[Any], key: str | None) -> FieldLoad | None:
    if not _plain(field):
        return lambda value, data: field.deserialize(value, key, data)
    if isinstance(field, Obj):
        nested = compiled(field.schema)
        if nested is None:
            return None
        return _absent_or(field, lambda value, data: nested(value))
    if isinstance(field, Many):
        inner = _field(field.inner, None)
        if inner is None:
            return None
        cap = field.max_items

        def load_list(value: Any, data: Any) -> list[Any]:
            if not isinstance(value, list) or len(value) > cap:
                raise NeedsFullLoad
            return [inner(item, None) for item in value]

        return _absent_or(field, load_list)
    deserialize = field._deserialize
    return _absent_or(field, lambda value, data: deserialize(value, key, data))


def _absent_or(field: fields.Field[Any], present: FieldLoad) -> FieldLoad:
    """``Lean.deserialize``'s handling of missing and null around ``present``."""
    required, allow_none = field.required, field.allow_none

    def load(value: Any, data: Any) -> Any:
        if value is missing:
            if required:
                raise NeedsFullLoad
            default = field.load_default
            return default() if callable(default) else default
        if value is None:
            if allow_none:
                return None
            raise NeedsFullLoad
        return present(value, data)

    return load
