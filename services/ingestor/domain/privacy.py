"""Shopify's mandatory privacy webhooks: ``customers/redact``, ``customers/data_request``, ``shop/redact``.

They name a customer by id, email and phone; the contact travels only so the store can find the
customer's hashed identifiers (and keep a hashed tombstone), exactly as orders' contacts do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.ingestor.domain.contact import choose_contact
from services.ingestor.domain.decoding import parse
from services.ingestor.domain.errors import ROOT, Reason, invalid
from services.ingestor.domain.facts import Contact, CustomerRedact, DataRequest, Ingested, ShopRedact
from services.ingestor.domain.fields import Base, Id, Many, Obj, Text
from services.ingestor.domain.orders import Payload
from services.ingestor.domain.shopify_schemas import EMAIL_LEN


class PrivacyCustomer(Base):
    """The customer a privacy request is about."""

    id = Id()
    email = Text(max_len=EMAIL_LEN)
    phone = Text(max_len=64, digits=True)


class DataRequestId(Base):
    """``data_request.id``."""

    id = Id()


class ShopRedactPayload(Base):
    """``shop/redact``."""

    shop_id = Id()
    shop_domain = Text(required=True)


class CustomerRedactPayload(ShopRedactPayload):
    """``customers/redact``."""

    customer = Obj(PrivacyCustomer, required=True)
    orders_to_redact = Many(Id(), max_items=100_000)


class DataRequestPayload(ShopRedactPayload):
    """``customers/data_request``."""

    customer = Obj(PrivacyCustomer, required=True)
    orders_requested = Many(Id(), max_items=100_000)
    data_request = Obj(DataRequestId)


CUSTOMER_REDACT = CustomerRedactPayload()
DATA_REQUEST = DataRequestPayload()
SHOP_REDACT = ShopRedactPayload()


def _customer(payload: Mapping[str, Any]) -> tuple[str | None, Contact]:
    customer = payload["customer"]
    if not (customer.get("id") or customer.get("email") or customer.get("phone")):
        raise invalid(ROOT, Reason.NO_CUSTOMER_IDENTIFIER)
    # Screened like an order's contact: a placeholder or garbage value was never hashed and
    # stored, so there is nothing to find by it (the request is still valid and acknowledged).
    contact, _ = choose_contact(
        customer=None,
        emails=(("customer.email", customer.get("email")),),
        phones=(("customer.phone", customer.get("phone"), None),),
        addresses=(),
    )
    return customer.get("id"), contact


def ingest_customer_redact(body: Payload) -> Ingested[CustomerRedact]:
    """Decode and validate a ``customers/redact`` body."""
    payload = parse(CUSTOMER_REDACT, body)
    customer_id, contact = _customer(payload)
    facts = CustomerRedact(
        shop_domain=payload["shop_domain"],
        shop_id=payload.get("shop_id"),
        customer_id=customer_id,
        order_ids=tuple(payload.get("orders_to_redact") or ()),
    )
    return Ingested(facts, contact)


def ingest_data_request(body: Payload) -> Ingested[DataRequest]:
    """Decode and validate a ``customers/data_request`` body."""
    payload = parse(DATA_REQUEST, body)
    customer_id, contact = _customer(payload)
    facts = DataRequest(
        shop_domain=payload["shop_domain"],
        shop_id=payload.get("shop_id"),
        customer_id=customer_id,
        order_ids=tuple(payload.get("orders_requested") or ()),
        request_id=(payload.get("data_request") or {}).get("id"),
    )
    return Ingested(facts, contact)


def ingest_shop_redact(body: Payload) -> Ingested[ShopRedact]:
    """Decode and validate a ``shop/redact`` body."""
    payload = parse(SHOP_REDACT, body)
    return Ingested(ShopRedact(shop_domain=payload["shop_domain"], shop_id=payload.get("shop_id")), Contact())
