"""From raw bytes to a validated mapping: strict JSON decoding and marshmallow errors as problems.

Decoding refuses what ``json.loads`` would silently accept or crash on: invalid UTF-8, duplicate
keys (the last one would win and hide the first; two different ``email`` values are an attack or
a broken producer), ``NaN``/``Infinity``, nesting deep enough to hit the recursion limit, and
bodies over ``MAX_BODY_BYTES``. Floats are decoded as ``Decimal`` so money is never a binary
float, not even for a moment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from marshmallow import Schema, ValidationError

from services.ingestor.domain.errors import ROOT, InvalidPayload, Problem, Reason, invalid
from services.ingestor.domain.fields import Base
from services.ingestor.domain.loaders import load
from shared.messages import MAX_RAW_BODY_BYTES

MAX_BODY_BYTES = MAX_RAW_BODY_BYTES  # the cap bounds the memory one message can take
MAX_PROBLEMS = 50
_BOM = "\ufeff"
_MARSHMALLOW_MESSAGES = {
    "Missing data for required field.": Reason.MISSING,
    "Field may not be null.": Reason.NULL,
    "Invalid input type.": Reason.NOT_AN_OBJECT,
    "Not a valid list.": Reason.NOT_A_LIST,
}


class _DuplicateKeyError(Exception):
    """Internal: a JSON object repeated a key."""


class _ConstantError(Exception):
    """Internal: NaN, Infinity or -Infinity, which JSON does not have."""


class _Marked(dict[str, Any]):
    """A decoded object that remembers the keys it repeated (only used to locate a duplicate)."""

    duplicates: list[str]


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKeyError
    return obj


def _marked_pairs(pairs: list[tuple[str, Any]]) -> _Marked:
    obj = _Marked(pairs)
    seen: set[str] = set()
    obj.duplicates = [k for k, _ in pairs if k in seen or seen.add(k)]  # type: ignore[func-returns-value]
    return obj


def _reject_constant(name: str) -> Any:
    raise _ConstantError(name)


@cache
def _field_names() -> frozenset[str]:
    """Every field name our schemas declare: the only object keys a path may show."""
    from services.ingestor.domain import (  # noqa: F401 - register
        customer_rows,
        generic,
        privacy,
        refund_rows,
        shopify_schemas,
        tickets,
    )

    names: set[str] = set()
    pending: list[type[Base]] = [Base]
    while pending:
        schema = pending.pop()
        names.update(schema._declared_fields)
        pending.extend(schema.__subclasses__())
    return frozenset(names)


def _segment(key: object) -> str:
    """A path segment safe to show: a list index or a field name we declare; anything else is ``?``.

    A duplicate key can be any string a producer sent, a customer's name or email included.
    """
    text = str(key)
    return text if (text.isdigit() and len(text) < 10) or text in _field_names() else "?"


def _duplicate_problem(text: str) -> Problem:
    """Re-decode (only on this error path) to find where the first repeated key is."""
    try:
        doc = json.loads(text, object_pairs_hook=_marked_pairs, parse_float=Decimal)
    except (ValueError, RecursionError):  # broken elsewhere too; the duplicate is reason enough
        return Problem(ROOT, Reason.DUPLICATE_KEY)
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Marked):
            if node.duplicates:
                key = _segment(node.duplicates[0])
                return Problem(f"{path}.{key}" if path else key, Reason.DUPLICATE_KEY)
            children = [(f"{path}.{_segment(k)}" if path else _segment(k), v) for k, v in node.items()]
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(reversed([(f"{path}.{i}" if path else str(i), v) for i, v in enumerate(node)]))
    return Problem(ROOT, Reason.DUPLICATE_KEY)


def _looks_truncated(error: json.JSONDecodeError, text: str) -> bool:
    """A parse that failed at the very end, or inside a string never closed, was cut short."""
    return error.msg.startswith("Unterminated string") or error.pos >= len(text.rstrip())


def decode_json(
    body: bytes | bytearray | memoryview | str, *, max_bytes: int = MAX_BODY_BYTES
) -> dict[str, Any]:
    """Decode one JSON object strictly; every failure is an ``InvalidPayload`` with a reason."""
    if isinstance(body, str):
        text = body
        if len(text) > max_bytes:
            raise invalid(ROOT, Reason.TOO_LARGE, f"over {max_bytes} bytes")
    else:
        raw = bytes(body)
        if len(raw) > max_bytes:
            raise invalid(ROOT, Reason.TOO_LARGE, f"over {max_bytes} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise invalid(ROOT, Reason.NOT_UTF8, f"byte {exc.start}") from None
    if text.startswith(_BOM):  # spreadsheet exports write one; it is not part of the document
        text = text[1:]
    if not text.strip():
        raise invalid(ROOT, Reason.EMPTY_BODY)
    try:
        doc = json.loads(
            text, object_pairs_hook=_unique_pairs, parse_float=Decimal, parse_constant=_reject_constant
        )
    except _DuplicateKeyError:
        raise InvalidPayload([_duplicate_problem(text)]) from None
    except _ConstantError:
        raise invalid(ROOT, Reason.NOT_JSON, "NaN or Infinity") from None
    except json.JSONDecodeError as exc:
        reason = Reason.TRUNCATED_JSON if _looks_truncated(exc, text) else Reason.NOT_JSON
        raise invalid(ROOT, reason, f"line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise invalid(ROOT, Reason.TOO_DEEP) from None
    except ValueError:  # an integer literal beyond Python's digit limit
        raise invalid(ROOT, Reason.TOO_LARGE, "number too long") from None
    if not isinstance(doc, dict):
        raise invalid(ROOT, Reason.NOT_AN_OBJECT)
    return doc


def _reason_of(message: str) -> tuple[Reason, str]:
    code, _, detail = message.partition(":")
    try:
        return Reason(code), detail
    except ValueError:
        return _MARSHMALLOW_MESSAGES.get(message, Reason.INVALID), ""


def _flatten(messages: Any, path: str, out: list[Problem]) -> None:
    if len(out) >= MAX_PROBLEMS:
        return
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            child = path if key == "_schema" else (f"{path}.{_segment(key)}" if path else _segment(key))
            _flatten(value, child, out)
    elif isinstance(messages, list):
        for item in messages:
            _flatten(item, path, out)
    else:
        reason, detail = _reason_of(str(messages))
        out.append(Problem(path or ROOT, reason, detail))


def problems_of(error: ValidationError) -> list[Problem]:
    """Flatten marshmallow's nested error messages into path/reason problems."""
    out: list[Problem] = []
    _flatten(error.messages, "", out)
    return out or [Problem(ROOT, Reason.INVALID)]


def validate(schema: Schema, data: Any) -> dict[str, Any]:
    """Load ``data`` through ``schema``; a failure is an ``InvalidPayload`` listing every problem.

    Valid data takes the schema's compiled fast path (``loaders``); anything else is loaded by
    marshmallow, so refusals and their reasons are marshmallow's own.
    """
    if not isinstance(data, Mapping):
        raise invalid(ROOT, Reason.NOT_AN_OBJECT)
    try:
        loaded: dict[str, Any] = load(schema, data)
    except ValidationError as exc:
        raise InvalidPayload(problems_of(exc)) from None
    return loaded


def parse(schema: Schema, body: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> dict[str, Any]:
    """Decode (unless already a mapping) and validate one payload."""
    data = body if isinstance(body, Mapping) else decode_json(body)
    return validate(schema, data)
