"""The versioned JSON envelope every message travels in, and its one wire schema.

``id`` lets consumers drop redeliveries; ``key`` is the Kafka key (the customer key) repeated in
the body so a dead letter or a replay keeps it; ``version`` is the payload schema version of
``type``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from shared import fastload


class InvalidMessage(Exception):  # noqa: N818 - a fact about a message, not a program error
    """A message that can never be processed: it goes to the dead-letter topic with this reason."""

    def __init__(self, reason: str, field_path: str | None = None) -> None:
        super().__init__(f"{field_path}: {reason}" if field_path else reason)
        self.reason = reason
        self.field_path = field_path


@dataclass(frozen=True)
class Envelope:
    """One message: what happened (``type`` at ``version``), to whom (``key``), and the facts."""

    type: str
    key: str
    payload: dict[str, Any]
    version: int = 1
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class EnvelopeSchema(Schema):
    """Wire schema for ``Envelope``; unknown top-level fields are ignored for forward compatibility."""

    class Meta:
        unknown = EXCLUDE

    type = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    version = fields.Int(required=True, strict=True, validate=validate.Range(min=1))
    id = fields.Str(required=True, validate=validate.Length(min=1, max=128))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    key = fields.Str(required=True, validate=validate.Length(max=256))
    payload = fields.Dict(keys=fields.Str(), required=True)


_SCHEMA = EnvelopeSchema()


def encode(envelope: Envelope) -> bytes:
    """Serialize an envelope to compact UTF-8 JSON."""
    body = {
        "type": envelope.type,
        "version": envelope.version,
        "id": envelope.id,
        "occurred_at": envelope.occurred_at.isoformat(),
        "key": envelope.key,
        "payload": envelope.payload,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _first_error(messages: Any, path: str = "") -> tuple[str, str]:
    """The first (field path, message) of a marshmallow error tree."""
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        return _first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages:
        return _first_error(messages[0], path)
    return path, str(messages)


def decode(raw: bytes | None) -> Envelope:
    """Parse and validate wire bytes; raises ``InvalidMessage`` with a precise reason."""
    if not raw:
        raise InvalidMessage("empty message body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMessage("body is not valid UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidMessage(f"body is not JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(data, dict):
        raise InvalidMessage("envelope must be a JSON object")
    try:
        loaded = fastload.load(_SCHEMA, data)
    except ValidationError as exc:
        path, message = _first_error(exc.messages)
        raise InvalidMessage(message, path) from None
    return Envelope(**loaded)
