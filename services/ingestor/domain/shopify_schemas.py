"""marshmallow schemas for the Shopify webhook bodies we read, declaring only the fields we use.

Follows Shopify's REST order JSON (the webhook payload shape): ``orders/*``, ``refunds/create``,
``customers/create|update`` and ``checkouts/create|update``. Unknown fields are excluded without
being read, which is most of a 15 KB order (``*_set`` twins, tax lines, fulfilments), so the
cost of validation follows what we use, not what Shopify sends.
"""

from __future__ import annotations

from services.ingestor.domain.codes import Country, Currency
from services.ingestor.domain.errors import Reason
from services.ingestor.domain.fields import (
    Base,
    Flag,
    Id,
    Many,
    Money,
    Obj,
    Quantity,
    Text,
    Timestamp,
)

# Shopify caps what its own tools create at 499 line items (draft orders, REST and GraphQL);
# twice that is not an order a shop produces. Over the cap is dead-lettered, not truncated:
# a partial order would store wrong totals. See docs/import.md.
MAX_LINE_ITEMS = 1000
MAX_REFUNDS = 250
EMAIL_LEN = 320  # RFC 3696's 64 + 1 + 255
URL_LEN = 8192


class Consent(Base):
    """``email_marketing_consent`` / ``sms_marketing_consent``."""

    state = Text(max_len=40)


class Address(Base):
    """Billing, shipping or a customer's default address."""

    first_name = Text()
    last_name = Text()
    city = Text()
    province = Text()
    province_code = Text(max_len=16)
    zip = Text(max_len=32, digits=True)
    country = Text(max_len=100)
    country_code = Country()
    phone = Text(max_len=64, digits=True)


class Customer(Base):
    """The customer embedded in an order or checkout (and the base of ``customers/*``)."""

    id = Id()
    email = Text(max_len=EMAIL_LEN)
    phone = Text(max_len=64, digits=True)
    first_name = Text()
    last_name = Text()
    accepts_marketing = Flag()  # legacy, before the consent objects
    email_marketing_consent = Obj(Consent)
    sms_marketing_consent = Obj(Consent)
    default_address = Obj(Address)


class CustomerPayload(Customer):
    """``customers/create`` and ``customers/update``: the record itself, with its dates and state."""

    id = Id(required=True)
    created_at = Timestamp()
    updated_at = Timestamp()
    state = Text(max_len=40)


class Amount(Base):
    """``shop_money`` / ``presentment_money`` inside a ``*_set``."""

    amount = Money()
    currency_code = Currency()


class AmountSet(Base):
    """A ``*_set``: the same amount in shop and presentment currencies."""

    shop_money = Obj(Amount)
    presentment_money = Obj(Amount)  # with shop_money, the order's own exchange rate


class DiscountAllocation(Base):
    """How much of one discount application landed on a line."""

    amount = Money()


class LineItem(Base):
    """An order line: product type and vendor for categories, price, quantity, discounts."""

    id = Id()
    product_id = Id()
    product_type = Text()
    vendor = Text()
    quantity = Quantity(required=True)
    price = Money(required=True)
    total_discount = Money()
    discount_allocations = Many(Obj(DiscountAllocation), max_items=100)


class DiscountCode(Base):
    """A code the buyer entered (the code itself is not kept: referral codes carry names)."""

    code = Text()
    amount = Money()
    type = Text(max_len=40)


class DiscountApplication(Base):
    """Any discount applied: code, automatic, manual or script."""

    type = Text(max_len=40)
    value_type = Text(max_len=40)
    value = Money()


class Transaction(Base):
    """A payment transaction; refunds are ``kind: refund``."""

    id = Id()
    kind = Text(max_len=40)
    status = Text(max_len=40)
    amount = Money()
    currency = Currency()


class RefundLine(Base):
    """A returned line: how many units and their merchandise value."""

    line_item_id = Id()
    quantity = Quantity()
    subtotal = Money()
    subtotal_set = Obj(AmountSet)


class Refund(Base):
    """A refund, embedded in ``orders/updated`` or alone in ``refunds/create``."""

    id = Id(required=True)
    order_id = Id()
    created_at = Timestamp()
    processed_at = Timestamp()
    refund_line_items = Many(Obj(RefundLine), max_items=MAX_LINE_ITEMS, too_many=Reason.TOO_MANY_LINE_ITEMS)
    transactions = Many(Obj(Transaction), max_items=100)


class RefundPayload(Refund):
    """``refunds/create``: the refund must name its order."""

    order_id = Id(required=True)


class Order(Base):
    """``orders/create|updated|paid|cancelled`` and Shopify order JSON in bulk imports."""

    id = Id(required=True)
    email = Text(max_len=EMAIL_LEN)
    contact_email = Text(max_len=EMAIL_LEN)
    phone = Text(max_len=64, digits=True)
    customer = Obj(Customer)
    billing_address = Obj(Address)
    shipping_address = Obj(Address)
    currency = Currency(required=True)
    presentment_currency = Currency()
    total_price = Money(required=True)
    total_price_set = Obj(AmountSet)
    subtotal_price = Money()
    total_discounts = Money()
    total_line_items_price = Money()
    current_total_price = Money()
    current_subtotal_price = Money()
    current_total_discounts = Money()
    discount_codes = Many(Obj(DiscountCode), max_items=100)
    discount_applications = Many(Obj(DiscountApplication), max_items=100)
    line_items = Many(Obj(LineItem), max_items=MAX_LINE_ITEMS, too_many=Reason.TOO_MANY_LINE_ITEMS)
    refunds = Many(Obj(Refund), max_items=MAX_REFUNDS)
    cancelled_at = Timestamp()
    cancel_reason = Text(max_len=40)
    financial_status = Text(max_len=32)  # orders.financial_status is String(32)
    source_name = Text()
    app_id = Id()
    landing_site = Text(max_len=URL_LEN)
    referring_site = Text(max_len=URL_LEN)
    buyer_accepts_marketing = Flag()
    test = Flag()
    created_at = Timestamp(required=True)
    updated_at = Timestamp()
    processed_at = Timestamp()


class CheckoutLine(Base):
    """A checkout line (before payment): only what categories and value need."""

    product_type = Text()
    vendor = Text()
    quantity = Quantity()
    price = Money()


class Checkout(Base):
    """``checkouts/create|update``: an abandoned-checkout candidate until it completes."""

    id = Id()
    token = Text(max_len=64)  # the checkout's id: checkouts.checkout_id is String(64)
    email = Text(max_len=EMAIL_LEN)
    phone = Text(max_len=64, digits=True)
    customer = Obj(Customer)
    billing_address = Obj(Address)
    shipping_address = Obj(Address)
    currency = Currency(required=True)
    presentment_currency = Currency()
    total_price = Money()
    subtotal_price = Money()
    total_line_items_price = Money()
    line_items = Many(Obj(CheckoutLine), max_items=MAX_LINE_ITEMS, too_many=Reason.TOO_MANY_LINE_ITEMS)
    source_name = Text()
    landing_site = Text(max_len=URL_LEN)
    referring_site = Text(max_len=URL_LEN)
    buyer_accepts_marketing = Flag()
    created_at = Timestamp(required=True)
    updated_at = Timestamp()
    completed_at = Timestamp()


ORDER = Order()
REFUND = RefundPayload()
CUSTOMER = CustomerPayload()
CHECKOUT = Checkout()
