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


class _RawBatchSchema(Schema):
    source = fields.Str(required=True, validate=validate.Equal("import"))
    shop = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    received_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    records = fields.Raw(required=True)  # checked in ``from_envelope``: one loop, not a field per cell


@dataclass(frozen=True)
class RawBatch:
    """Consecutive records of one import file in one message, each as ``(topic, key, body text)``.

    A bulk import is the only edge that publishes straight to ``orders.raw`` and it has many
    records at once: one message per record spent most of an import's time on per-message work
    (fetching, envelope decoding). Each record keeps a name of its own, ``record_id(envelope id,
    index)``, under which it is marked handled and its refusal dead-lettered, so every count of
    handled messages still counts records. Bodies travel as text: an import reads its file as UTF-8.
    """

    TYPE: ClassVar[str] = "RawBatch"
    VERSION: ClassVar[int] = 1
    SCHEMA: ClassVar[Schema] = _RawBatchSchema()

    shop: str
    received_at: datetime
    records: tuple[tuple[str, str, str], ...]  # (topic, key, body)

    @staticmethod
    def record_id(envelope_id: str, index: int) -> str:
        """The name of the record at ``index`` of the batch sent as ``envelope_id``.

        The first record is named by the envelope's own id (a batch of one is named as a message
        of one), so the ids a consumer marks handled are exactly one per record.
        """
        return f"{envelope_id}/{index}" if index else envelope_id

    def to_envelope(self, key: str | None = None) -> Envelope:
        """Wrap for ``orders.raw``, keyed by ``key`` (the partition's), else the first record's key."""
        return Envelope(
            type=self.TYPE,
            version=self.VERSION,
            key=key if key is not None else self.records[0][1] if self.records else "",
            occurred_at=self.received_at,
            payload={
                "source": "import",
                "shop": self.shop,
                "received_at": self.received_at.isoformat(),
                "records": [list(record) for record in self.records],
            },
        )

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> RawBatch:
        """Validate and unwrap; raises ``InvalidMessage`` (the whole batch: only a bug writes one)."""
        data = _load(cls.SCHEMA, envelope)
        del data["source"]  # always "import": the only edge that sends batches
        records = data.pop("records")
        if not isinstance(records, list):
            raise InvalidMessage("not a list", "payload.records")
        for index, record in enumerate(records):
            if not (
                isinstance(record, list)
                and len(record) == 3
                and all(isinstance(cell, str) for cell in record)
                and 0 < len(record[0]) <= 64
            ):
                raise InvalidMessage("not a [topic, key, body] of text", f"payload.records.{index}")
        return cls(records=tuple(tuple(record) for record in records), **data)

    def raws(self) -> list[RawReceived]:
        """Each record as the ``RawReceived`` its own message would have carried."""
        return [
            RawReceived(
                source="import", topic=topic, shop=self.shop, body=body.encode(), received_at=self.received_at
            )
            for topic, _, body in self.records
        ]


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


class _CustomersChangedSchema(Schema):
    changes = fields.Raw(required=True)  # [[customer key, cause], ...], checked in ``from_envelope``


@dataclass(frozen=True)
class CustomersChanged:
    """Several customers' stored facts changed (never an erasure, which travels alone): rescore them.

    An ingest batch changes hundreds of customers; one message per customer cost the ingestor an
    outbox row, a claim and a publish each. The ingestor groups the keys of one partition (the
    one each key's own ``CustomerChanged`` would go to) under the first key, so one customer's
    changes still reach one consumer in order.
    """

    TYPE: ClassVar[str] = "CustomersChanged"
    VERSION: ClassVar[int] = 1
    SCHEMA: ClassVar[Schema] = _CustomersChangedSchema()

    changes: tuple[tuple[str, str], ...]  # (customer key, cause)

    def to_envelope(self) -> Envelope:
        """Keyed by the first customer (the others share its partition)."""
        return Envelope(
            type=self.TYPE,
            version=self.VERSION,
            key=self.changes[0][0] if self.changes else "",
            payload={"changes": [list(change) for change in self.changes]},
        )

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> CustomersChanged:
        """Validate and unwrap; raises ``InvalidMessage``."""
        changes = _load(cls.SCHEMA, envelope)["changes"]
        if not isinstance(changes, list):
            raise InvalidMessage("not a list", "payload.changes")
        for index, change in enumerate(changes):
            if not (
                isinstance(change, list)
                and len(change) == 2
                and all(isinstance(cell, str) for cell in change)
                and len(change[0]) == 64
            ):
                raise InvalidMessage("not a [customer key, cause] pair", f"payload.changes.{index}")
        return cls(tuple((key, cause) for key, cause in changes))

    def each(self) -> list[CustomerChanged]:
        """One ``CustomerChanged`` per customer, as a consumer of single changes reads them."""
        return [CustomerChanged(key, cause) for key, cause in self.changes]


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
