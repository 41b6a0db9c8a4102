"""The ingestor's pure domain: validate shop payloads, normalize them to facts, convert money.

No I/O beyond reading a rates file, no flask, sqlalchemy or kafka. Each ``ingest_*`` takes raw
bytes (or an already decoded mapping) and returns ``Ingested(facts, contact, warnings)`` or raises
``InvalidPayload`` with a reason and a field path.
"""

from services.ingestor.domain.channel import channel_from_label, derive_channel, derive_referral
from services.ingestor.domain.contact import is_placeholder_email
from services.ingestor.domain.customers import (
    checkout_facts,
    customer_facts,
    ingest_checkout,
    ingest_customer,
)
from services.ingestor.domain.decoding import MAX_BODY_BYTES, decode_json, parse, validate
from services.ingestor.domain.errors import ROOT, InvalidPayload, Problem, Reason
from services.ingestor.domain.facts import (
    CheckoutFacts,
    Contact,
    CustomerFacts,
    CustomerRedact,
    DataRequest,
    Ingested,
    LineFacts,
    OrderFacts,
    RefundFacts,
    ShopRedact,
    TicketFacts,
)
from services.ingestor.domain.generic import GENERIC_ROW, generic_facts, ingest_generic_row, load_generic_row
from services.ingestor.domain.money import (
    PLACES,
    Rates,
    RatesError,
    load_rates,
    parse_rates_csv,
    parse_rates_yaml,
    round_money,
)
from services.ingestor.domain.orders import ingest_order, ingest_refund, load_order, order_facts, refund_facts
from services.ingestor.domain.privacy import ingest_customer_redact, ingest_data_request, ingest_shop_redact
from services.ingestor.domain.shopify_schemas import CHECKOUT, CUSTOMER, MAX_LINE_ITEMS, ORDER, REFUND
from services.ingestor.domain.tickets import TICKET, flatten_ticket, ingest_ticket, ticket_facts

__all__ = [
    "CHECKOUT",
    "CUSTOMER",
    "GENERIC_ROW",
    "MAX_BODY_BYTES",
    "MAX_LINE_ITEMS",
    "ORDER",
    "PLACES",
    "REFUND",
    "ROOT",
    "TICKET",
    "CheckoutFacts",
    "Contact",
    "CustomerFacts",
    "CustomerRedact",
    "DataRequest",
    "Ingested",
    "InvalidPayload",
    "LineFacts",
    "OrderFacts",
    "Problem",
    "Rates",
    "RatesError",
    "Reason",
    "RefundFacts",
    "ShopRedact",
    "TicketFacts",
    "channel_from_label",
    "checkout_facts",
    "customer_facts",
    "decode_json",
    "derive_channel",
    "derive_referral",
    "flatten_ticket",
    "generic_facts",
    "ingest_checkout",
    "ingest_customer",
    "ingest_customer_redact",
    "ingest_data_request",
    "ingest_generic_row",
    "ingest_order",
    "ingest_refund",
    "ingest_shop_redact",
    "ingest_ticket",
    "is_placeholder_email",
    "load_generic_row",
    "load_order",
    "load_rates",
    "order_facts",
    "parse",
    "parse_rates_csv",
    "parse_rates_yaml",
    "refund_facts",
    "round_money",
    "ticket_facts",
    "validate",
]
