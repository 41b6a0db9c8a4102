"""The envelope's wire format and the reasons malformed messages are rejected with."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.bus.envelope import Envelope, InvalidMessage, decode, encode


def test_envelope_round_trips_through_the_wire_format() -> None:
    env = Envelope(
        type="OrderIngested",
        key="k1",
        payload={"n": 1, "s": "é"},
        version=2,
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert decode(encode(env)) == env


def _wire(**overrides: object) -> bytes:
    body = {
        "type": "T",
        "version": 1,
        "id": "abc",
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "key": "k",
        "payload": {},
    }
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("raw", "reason", "path"),
    [
        (b"", "empty message body", None),
        (b"\xff\xfe", "body is not valid UTF-8", None),
        (b'{"type": "T",', "body is not JSON", None),
        (b"[1, 2]", "envelope must be a JSON object", None),
        (_wire(type=...), "Missing data for required field.", "type"),
        (_wire(version="1"), "Not a valid integer.", "version"),
        (_wire(version=0), "Must be greater than or equal to 1.", "version"),
        (_wire(payload=[1]), "Not a valid mapping type.", "payload"),
        (_wire(occurred_at="yesterday"), "Not a valid datetime.", "occurred_at"),
    ],
)
def test_malformed_envelopes_are_rejected_with_a_precise_reason(
    raw: bytes, reason: str, path: str | None
) -> None:
    with pytest.raises(InvalidMessage) as info:
        decode(raw)
    assert info.value.reason.startswith(reason)
    assert info.value.field_path == path


def test_unknown_top_level_fields_are_ignored_for_forward_compatibility() -> None:
    assert decode(_wire(extra="x")).type == "T"
