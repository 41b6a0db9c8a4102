"""What the ingestor learns from a payload: plain frozen facts, with raw contact data kept apart.

Facts carry no raw PII. The ``Contact`` beside them (the identity layer's own type, so nothing
rebuilds it before hashing) holds the raw email, phone, name and address exactly long enough for
the ingest boundary to normalize and hash them; then it is dropped. Its ``repr`` shows only which
fields are present, so logging one by mistake leaks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from services.ingestor.domain.errors import Problem
from shared.identity import Contact as Contact  # re-exported: the one contact type

F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class LineFacts:
    """One line item: what kind of product, how many, at what price, with what discount."""

    line_id: str | None
    product_id: str | None
    product_type: str | None
    vendor: str | None
    quantity: int
    unit_price: Decimal
    discount: Decimal
    total: Decimal  # unit_price x quantity - discount, never below zero


@dataclass(frozen=True, slots=True)
class RefundFacts:
    """Money given back on an order (a return, a cancellation, a goodwill refund)."""

    shop: str
    refund_id: str
    order_id: str
    created_at: datetime
    currency: str | None  # None: the payload named none; the store uses the order's
    amount: Decimal  # money returned to the customer, in ``currency``
    amount_base: Decimal | None  # in the base currency; None until ``currency`` is known
    items_value: Decimal  # merchandise value of the returned line items (shop currency)
    items: int  # units returned


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """One order's facts, versioned by ``updated_at`` for the idempotent upsert."""

    shop: str
    order_id: str
    source: str  # "shopify" or "generic"
    customer_id: str | None  # the shop's own customer id
    created_at: datetime
    updated_at: datetime
    currency: str
    presentment_currency: str | None
    base_currency: str
    gross: Decimal  # merchandise before discounts; shipping and tax excluded
    discount: Decimal
    refunded: Decimal
    net: Decimal  # gross - discount - refunded, never below zero
    gross_base: Decimal
    discount_base: Decimal
    refunded_base: Decimal
    net_base: Decimal
    discount_depth: Decimal  # discount / gross, 0..1
    discount_code_count: int
    status: str  # paid|pending|partially_refunded|refunded|voided|cancelled|other|unknown
    financial_status: str | None
    cancelled: bool
    cancel_reason: str | None
    test: bool
    channel: str  # web | pos | draft | marketplace | social | subscription | app | other | unknown
    referral: str | None  # google | facebook | instagram | ... | email | direct | referral | None
    categories: tuple[str, ...]
    country: str | None  # ISO alpha-2: shipping, then billing, then the customer's default address
    email_consent: bool | None
    sms_consent: bool | None
    lines: tuple[LineFacts, ...]
    refunds: tuple[RefundFacts, ...]


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """A shop customer record (``customers/create|update``): when they joined, where, consent."""

    shop: str
    customer_id: str | None  # None: a customers import row known by its email only
    created_at: datetime | None
    updated_at: datetime | None
    state: str | None  # Shopify's account state: enabled, disabled, invited, declined
    country: str | None
    email_consent: bool | None
    sms_consent: bool | None
    # Google's ad consent signals (granted True, denied False); only the customers import has them.
    ad_user_data: bool | None = None
    ad_personalization: bool | None = None


@dataclass(frozen=True, slots=True)
class CheckoutFacts:
    """A checkout; one with a contact and no order after the configured wait is abandoned."""

    shop: str
    checkout_id: str
    customer_id: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    currency: str
    value: Decimal
    value_base: Decimal
    categories: tuple[str, ...]
    country: str | None
    email_consent: bool | None
    channel: str
    referral: str | None

    @property
    def completed(self) -> bool:
        """True once the checkout became an order."""
        return self.completed_at is not None


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """One support ticket, counted per customer as a cost-to-serve signal."""

    shop: str
    ticket_id: str
    customer_id: str | None
    created_at: datetime
    source: str  # the helpdesk shape it came in: generic, zendesk, gorgias


@dataclass(frozen=True, slots=True)
class CustomerRedact:
    """``customers/redact``: delete this customer's facts, keep a hashed tombstone."""

    shop_domain: str
    shop_id: str | None
    customer_id: str | None
    order_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DataRequest:
    """``customers/data_request``: export what we hold about this customer."""

    shop_domain: str
    shop_id: str | None
    customer_id: str | None
    order_ids: tuple[str, ...]
    request_id: str | None


@dataclass(frozen=True, slots=True)
class ShopRedact:
    """``shop/redact``: the shop uninstalled 48 hours ago; delete everything of it."""

    shop_domain: str
    shop_id: str | None


@dataclass(frozen=True, slots=True)
class Ingested(Generic[F]):
    """Facts, the raw contact to hash and drop, and identifiers dropped on the way (no values)."""

    facts: F
    contact: Contact
    warnings: tuple[Problem, ...] = ()
