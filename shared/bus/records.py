"""What a polled record becomes: a ``Delivery`` for the handler, or a ``DeadLetter`` saying why not.

Decoding lives apart from the runner so the checks that turn bytes into a message (encoding, key,
nesting, NUL bytes, heartbeat shape and size) can be read and tested as plain functions. A dead
letter carries coordinates and a reason, never the payload: raw topics hold PII.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from shared.bus.envelope import Envelope, InvalidMessage, decode, encode

MAX_HEARTBEAT_BYTES = 64 << 10  # a ping plus one hop per service; anything bigger is not ours


@dataclass(frozen=True)
class Delivery:
    """An envelope with where it came from."""

    envelope: Envelope
    topic: str
    partition: int
    offset: int


def _text(value: str | None, limit: int) -> str | None:
    """``value`` made storable in a bounded column: encodable, no NUL, at most ``limit`` chars."""
    if value is None:
        return None
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "?")[:limit]


def _clean(*texts: str) -> bool:
    """True when every text can be stored and published: UTF-8 encodable, no NUL."""
    for text in texts:
        if "\x00" in text:
            return False
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON escape such as "\ud800"
            return False
    return True


@dataclass(frozen=True)
class DeadLetter:
    """Why a message was set aside, and where it is. Carries no payload: raw topics hold PII."""

    topic: str
    partition: int
    offset: int
    reason: str
    field_path: str | None = None
    message_id: str | None = None
    message_type: str | None = None
    key: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def of(cls, delivery: Delivery, reason: str, field_path: str | None = None) -> DeadLetter:
        """A dead letter for a decoded delivery the handler rejected."""
        env = delivery.envelope
        return cls(
            delivery.topic,
            delivery.partition,
            delivery.offset,
            reason,
            field_path,
            env.id,
            env.type,
            env.key,
        )

    def storable(self) -> DeadLetter:
        """This letter fitted to the ``dead_letters`` columns (a poison key may be any bytes)."""
        return replace(
            self,
            reason=_text(self.reason, 500) or "",
            field_path=_text(self.field_path, 255),
            message_id=_text(self.message_id, 128),
            message_type=_text(self.message_type, 100),
            key=_text(self.key, 256),
        )

    def to_envelope(self) -> Envelope:
        """The envelope published on the dead-letter topic."""
        return Envelope(
            type="DeadLettered",
            key=self.key or "",
            payload={
                "source": {"topic": self.topic, "partition": self.partition, "offset": self.offset},
                "reason": self.reason,
                "field_path": self.field_path,
                "message_id": self.message_id,
                "message_type": self.message_type,
            },
        )


def decode_record(rec: Any) -> Delivery | DeadLetter:
    """A polled record as a delivery, or as the dead letter saying why it is not a message."""
    key: str | None = None
    key_problem: str | None = "record has no key" if rec.key is None else None
    if rec.key is not None:
        try:
            key = rec.key.decode("utf-8")
        except UnicodeDecodeError:
            key, key_problem = rec.key.decode("utf-8", "replace"), "record key is not valid UTF-8"

    def letter(reason: str, field_path: str | None = None) -> DeadLetter:
        return DeadLetter(rec.topic, rec.partition, rec.offset, reason, field_path, key=key)

    try:
        env = decode(rec.value)
    except InvalidMessage as exc:
        return letter(exc.reason, exc.field_path)
    except RecursionError:
        return letter("body is nested too deeply")
    except Exception as exc:  # e.g. ValueError: an integer beyond Python's digit limit
        return letter(f"undecodable: {type(exc).__name__}")
    if key_problem:
        return letter(key_problem)
    if not _clean(env.type, env.id, env.key):
        return letter("envelope type, id or key holds a NUL or a lone surrogate")
    return Delivery(env, rec.topic, rec.partition, rec.offset)


def heartbeat_problem(beat: Delivery) -> str | None:
    """Why a heartbeat cannot be forwarded, or None."""
    if not isinstance(beat.envelope.payload.get("hops", []), list):
        return "heartbeat hops is not a list"
    try:
        size = len(encode(beat.envelope))
    except Exception as exc:  # a lone surrogate in the payload, nesting deep enough to recurse
        return f"heartbeat is not encodable: {type(exc).__name__}"
    return "heartbeat too large" if size > MAX_HEARTBEAT_BYTES else None
