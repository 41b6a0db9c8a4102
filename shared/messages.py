"""The facts that travel between services, one frozen dataclass each, with their wire form.

Each has ``TYPE`` and ``VERSION`` (the envelope's ``type``/``version``), ``to_envelope()`` and
``from_envelope()``. Only ``RawReceived`` carries raw personal data, and only on ``orders.raw``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate

from shared import fastload
from shared.bus.envelope import Envelope, InvalidMessage

# The largest raw body any edge accepts (webhooks answer 413 above it, the ingestor dead-letters
# it). A Shopify order with the 1,000-line cap and every *_set field is about 2.5 MB; twice that
# is no order anyone sends. Base64 in its envelope it stays under ``MAX_MESSAGE_BYTES`` (8 MiB).
MAX_RAW_BODY_BYTES = 5 * 1024 * 1024


def _load(schema: Schema, envelope: Envelope) -> dict[str, Any]:
    try:
        data: dict[str, Any] = fastload.load(schema, envelope.payload)
    except ValidationError as exc:
        field, errors = next(iter(exc.normalized_messages().items()))  # type: ignore[no-untyped-call]
        message = errors[0] if isinstance(errors, list) else str(errors)
        raise InvalidMessage(str(message), f"payload.{field}") from None
    return data


class _RawSchema(Schema):
    source = fields.Str(required=True, validate=validate.OneOf(("shopify", "import", "helpdesk", "api")))
    topic = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    shop = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    received_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    webhook_id = fields.Str(load_default=None, allow_none=True)
    body_b64 = fields.Str(required=True)


@dataclass(frozen=True)
class RawReceived:
    """Bytes as received at an edge (webhook body, one import record), before any validation."""

    TYPE: ClassVar[str] = "RawReceived"
    VERSION: ClassVar[int] = 1
    SCHEMA: ClassVar[Schema] = _RawSchema()

    source: str  # shopify | import | helpdesk | api
    topic: str  # e.g. orders/create, refunds/create, customers/redact, import/generic, tickets/create
    shop: str
    body: bytes
    received_at: datetime
    webhook_id: str | None = None

    def to_envelope(self, key: str) -> Envelope:
        """Wrap for ``orders.raw``; the body travels base64-encoded (it may not even be UTF-8)."""
        return Envelope(
            type=self.TYPE,
            version=self.VERSION,
            key=key,
            occurred_at=self.received_at,
            payload={
                "source": self.source,
                "topic": self.topic,
                "shop": self.shop,
                "received_at": self.received_at.isoformat(),
                "webhook_id": self.webhook_id,
                "body_b64": base64.b64encode(self.body).decode("ascii"),
            },
        )

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> RawReceived:
        """Validate and unwrap; raises ``InvalidMessage``."""
        data = _load(cls.SCHEMA, envelope)
        try:
            body = base64.b64decode(data.pop("body_b64"), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidMessage("not valid base64", "payload.body_b64") from None
        return cls(body=body, **data)


class _CustomerChangedSchema(Schema):
    customer_key = fields.Str(required=True, validate=validate.Length(equal=64))
    cause = fields.Str(required=True)
    erased = fields.Bool(load_default=False)


@dataclass(frozen=True)
class CustomerChanged:
    """A customer's stored facts changed (or they were erased): rescore them."""

    TYPE: ClassVar[str] = "CustomerChanged"
    VERSION: ClassVar[int] = 1
    SCHEMA: ClassVar[Schema] = _CustomerChangedSchema()

    customer_key: str
    cause: str  # order | refund | ticket | checkout | customer | erasure
    erased: bool = False

    def to_envelope(self) -> Envelope:
        """Keyed by the customer so one customer's changes stay ordered."""
        return Envelope(
            type=self.TYPE,
            version=self.VERSION,
            key=self.customer_key,
            payload={"customer_key": self.customer_key, "cause": self.cause, "erased": self.erased},
        )

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> CustomerChanged:
        """Validate and unwrap; raises ``InvalidMessage``."""
        return cls(**_load(cls.SCHEMA, envelope))


class _LabelChangedSchema(Schema):
    customer_key = fields.Str(required=True, validate=validate.Length(equal=64))
    label = fields.Str(required=True, allow_none=True)
    previous_label = fields.Str(load_default=None, allow_none=True)
    stage = fields.Str(load_default=None, allow_none=True)
    value = fields.Float(load_default=None, allow_none=True)
    reasons = fields.List(fields.Str(), load_default=list)
    erased = fields.Bool(load_default=False)


@dataclass(frozen=True)
class LabelChanged:
    """A customer's label, stage or uploaded value changed materially (or they were erased)."""

    TYPE: ClassVar[str] = "LabelChanged"
    VERSION: ClassVar[int] = 1
    SCHEMA: ClassVar[Schema] = _LabelChangedSchema()

    customer_key: str
    label: str | None  # None when erased
    previous_label: str | None = None
    stage: str | None = None
    value: float | None = None
    reasons: tuple[str, ...] = ()
    erased: bool = False

    def to_envelope(self) -> Envelope:
        """Keyed by the customer."""
        return Envelope(
            type=self.TYPE,
            version=self.VERSION,
            key=self.customer_key,
            payload={
                "customer_key": self.customer_key,
                "label": self.label,
                "previous_label": self.previous_label,
                "stage": self.stage,
                "value": self.value,
                "reasons": list(self.reasons),
                "erased": self.erased,
            },
        )

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> LabelChanged:
        """Validate and unwrap; raises ``InvalidMessage``."""
        data = _load(cls.SCHEMA, envelope)
        data["reasons"] = tuple(data["reasons"])
        return cls(**data)
