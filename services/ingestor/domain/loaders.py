"""The fast path of validation for the ingestor's schemas (``shared.fastload`` plus its fields).

The schemas stay the one definition of every payload (``shopify_schemas``, ``generic``...).
``shared.fastload`` compiles a schema into closures calling each field's own ``deserialize``;
here the ingestor's own field types get faster loaders still: ``Lean`` fields skip straight to
their ``_deserialize``, nested objects (``Obj``) and lists (``Many``) are compiled too, instead
of going through marshmallow's nested ``Schema.load``. On a demo order that machinery was most
of validation time (cProfile, 20k orders). Anything not accepted here is loaded by marshmallow
itself (``decoding.validate``), so every refusal and its reasons are unchanged.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from services.ingestor.domain.fields import Lean, Many, Obj
from shared.fastload import FieldLoad, Load, NeedsFullLoad, absent_or
from shared.fastload import compiled as compile_schema
from shared.fastload import load as load_schema

__all__ = ["NeedsFullLoad", "compiled", "load"]


def compiled(schema: Schema) -> Load | None:
    """The fast loader of one of our schemas; None when only marshmallow can load it."""
    return compile_schema(schema, _field)


def load(schema: Schema, data: Any) -> Any:
    """``schema.load(data)`` through the fast path when it accepts (raises ``ValidationError``)."""
    return load_schema(schema, data, _field)


def _plain(field: fields.Field[Any]) -> bool:
    """A field whose ``deserialize`` is ``Lean``'s: no validators or per-value hooks."""
    return isinstance(field, Lean) and not (field.validators or field.pre_load or field.post_load)


def _field(field: fields.Field[Any], key: str | None) -> FieldLoad | None:
    if not _plain(field):
        return None
    if isinstance(field, Obj):
        nested = compiled(field.schema)
        if nested is None:
            return None
        return absent_or(field, lambda value, data: nested(value))
    if isinstance(field, Many):
        inner = _field(field.inner, None) or (lambda value, data: field.inner.deserialize(value))
        cap = field.max_items

        def load_list(value: Any, data: Any) -> list[Any]:
            if not isinstance(value, list) or len(value) > cap:
                raise NeedsFullLoad
            return [inner(item, None) for item in value]

        return absent_or(field, load_list)
    deserialize = field._deserialize
    return absent_or(field, lambda value, data: deserialize(value, key, data))
