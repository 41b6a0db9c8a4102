"""Shopify customer records and checkouts to facts.

A checkout is an abandoned-checkout candidate: one with a contact and no order after the
configured wait is abandoned. That needs the orders table, so here a checkout only becomes facts;
one with no reachable contact (no email or phone yet) is still valid, and the handler skips it
because nobody could be retargeted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.ingestor.domain.channel import derive_channel, derive_referral
from services.ingestor.domain.contact import address_country, choose_contact, consent
from services.ingestor.domain.decoding import parse
from services.ingestor.domain.errors import Reason, invalid
from services.ingestor.domain.facts import CheckoutFacts, CustomerFacts, Ingested
from services.ingestor.domain.money import ZERO, Rates, round_money
from services.ingestor.domain.orders import Payload, categories_of
from services.ingestor.domain.shopify_schemas import CHECKOUT, CUSTOMER


def customer_facts(customer: Mapping[str, Any], *, shop: str) -> Ingested[CustomerFacts]:
    """Facts of one validated ``customers/create|update`` body."""
    default = customer.get("default_address")
    contact, warnings = choose_contact(
        customer=customer,
        emails=(("email", customer.get("email")),),
        phones=(
            ("phone", customer.get("phone"), None),
            ("default_address.phone", (default or {}).get("phone"), default),
        ),
        addresses=(default,),
    )
    email_consent, sms_consent = consent(customer, None)
    facts = CustomerFacts(
        shop=shop,
        customer_id=customer["id"],
        created_at=customer.get("created_at"),
        updated_at=customer.get("updated_at"),
        state=customer.get("state"),
        country=address_country(default),
        email_consent=email_consent,
        sms_consent=sms_consent,
    )
    return Ingested(facts, contact, tuple(warnings))


def checkout_facts(checkout: Mapping[str, Any], *, shop: str, rates: Rates) -> Ingested[CheckoutFacts]:
    """Facts of one validated ``checkouts/create|update`` body."""
    checkout_id = checkout.get("token") or checkout.get("id")
    if not checkout_id:
        raise invalid("token", Reason.MISSING)
    customer = checkout.get("customer") or {}
    billing, shipping = checkout.get("billing_address"), checkout.get("shipping_address")
    default = customer.get("default_address")
    contact, warnings = choose_contact(
        customer=customer,
        emails=(("customer.email", customer.get("email")), ("email", checkout.get("email"))),
        phones=(
            ("customer.phone", customer.get("phone"), None),
            ("phone", checkout.get("phone"), None),
            ("billing_address.phone", (billing or {}).get("phone"), billing),
            ("shipping_address.phone", (shipping or {}).get("phone"), shipping),
        ),
        addresses=(default, billing, shipping),
    )
    items = checkout.get("line_items") or ()
    value = checkout.get("total_line_items_price")
    if value is None:
        value = checkout.get("subtotal_price")
    if value is None:
        value = sum(((i.get("price") or ZERO) * (i.get("quantity") or 0) for i in items), ZERO)
    created = checkout["created_at"]
    currency = checkout["currency"]
    channel = derive_channel(checkout.get("source_name"))
    email_consent, _ = consent(customer, checkout.get("buyer_accepts_marketing"))
    facts = CheckoutFacts(
        shop=shop,
        checkout_id=checkout_id,
        customer_id=customer.get("id"),
        created_at=created,
        updated_at=checkout.get("updated_at") or created,
        completed_at=checkout.get("completed_at"),
        currency=currency,
        value=round_money(value),
        value_base=rates.to_base(value, currency, created),
        categories=categories_of(items),
        country=address_country(shipping) or address_country(billing) or address_country(default),
        email_consent=email_consent,
        channel=channel,
        referral=derive_referral(channel, checkout.get("landing_site"), checkout.get("referring_site")),
    )
    return Ingested(facts, contact, tuple(warnings))


def ingest_customer(body: Payload, *, shop: str) -> Ingested[CustomerFacts]:
    """Decode, validate and normalize one ``customers/create|update`` body."""
    return customer_facts(parse(CUSTOMER, body), shop=shop)


def ingest_checkout(body: Payload, *, shop: str, rates: Rates) -> Ingested[CheckoutFacts]:
    """Decode, validate and normalize one ``checkouts/create|update`` body."""
    return checkout_facts(parse(CHECKOUT, body), shop=shop, rates=rates)
