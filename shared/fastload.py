"""marshmallow schemas compiled once into plain closures: the fast path for valid input.

A schema stays the one definition of its wire form. ``compiled(schema)`` reads its declared
fields and calls each field's own ``deserialize`` (validators included), skipping only the
schema-level machinery around them (error stores, getter closures, hook lookups), which cost
more than the fields on hot paths (an envelope, a raw record, an order: cProfile). Anything the
fast path does not accept raises, and the caller runs ``schema.load`` itself, so every refusal
keeps marshmallow's own messages. ``special`` lets a caller give faster loaders for its own
field types (the ingestor's nested objects and lists).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing


class NeedsFullLoad(Exception):  # noqa: N818 - a signal, not a failure: take marshmallow's path
    """The fast path cannot decide this input; marshmallow must (it will name the problems)."""


FieldLoad = Callable[[Any, Any], Any]  # (raw value or ``missing``, the parent mapping) -> value
Load = Callable[[Any], dict[str, Any]]
Special = Callable[["fields.Field[Any]", "str | None"], "FieldLoad | None"]


def _none(field: fields.Field[Any], key: str | None) -> FieldLoad | None:
    return None


@cache
def compiled(schema: Schema, special: Special = _none) -> Load | None:
    """The fast loader of ``schema``; None when only marshmallow can load it (hooks, options)."""
    if any(schema._hooks.values()) or schema.many or schema.unknown != EXCLUDE or schema.partial:
        return None
    steps: list[tuple[str, str, FieldLoad]] = []
    for name, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else name
        out = field.attribute or name
        step = special(field, key) or _generic(field, key)
        if "." in out:
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


def _generic(field: fields.Field[Any], key: str | None) -> FieldLoad:
    return lambda value, data: field.deserialize(value, key, data)


def absent_or(field: fields.Field[Any], present: FieldLoad) -> FieldLoad:
    """marshmallow's handling of missing and null around ``present`` (for validator-free fields)."""
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


def load(schema: Schema, data: Any, special: Special = _none) -> Any:
    """``schema.load(data)``: the compiled path when it accepts, else marshmallow's own."""
    fast = compiled(schema, special)
    if fast is not None:
        try:
            return fast(data)
        except (NeedsFullLoad, ValidationError):
            pass  # the rare path: marshmallow itself names every problem
    return schema.load(data)
