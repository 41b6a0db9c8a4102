"""Shopify orders and refunds to facts: pure functions from a validated payload.

Money rules (docs/import.md): ``gross`` is merchandise before discounts (``total_line_items_price``,
else the lines' price x quantity, else ``subtotal_price + total_discounts``); shipping and tax are
not customer value. ``refunded`` is money actually returned: successful refund transactions,
or, for a refund listing none, its returned lines' value. Test orders are kept and flagged
(``test=True``): the store keeps them so a dev shop sees data flow; features and scoring are to skip them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.ingestor.domain.channel import derive_channel, derive_referral
from services.ingestor.domain.contact import address_country, choose_contact, consent
from services.ingestor.domain.decoding import parse
from services.ingestor.domain.errors import ROOT, InvalidPayload, Problem, Reason, invalid
from services.ingestor.domain.facts import Contact, Ingested, LineFacts, OrderFacts, RefundFacts
from services.ingestor.domain.money import ZERO, Rates, round_money, storable
from services.ingestor.domain.shopify_schemas import ORDER, REFUND

Payload = bytes | bytearray | memoryview | str | Mapping[str, Any]
_REFUND_KINDS = frozenset({"refund"})
_FAILED = frozenset({"failure", "error", "pending"})
_STATUSES = {
    "paid": "paid",
    "partially_paid": "pending",
    "pending": "pending",
    "authorized": "pending",
    "partially_refunded": "partially_refunded",
    "refunded": "refunded",
    "voided": "voided",
    "expired": "voided",
}


def _line(item: Mapping[str, Any]) -> LineFacts:
    allocations = item.get("discount_allocations") or ()
    # Allocations are the current model; total_discount is the legacy sum of the same thing.
    if allocations:
        discount = sum((a.get("amount") or ZERO for a in allocations), ZERO)
    else:
        discount = item.get("total_discount") or ZERO
    price, quantity = item["price"], item["quantity"]
    total = max(price * quantity - discount, ZERO)
    return LineFacts(
        line_id=item.get("id"),
        product_id=item.get("product_id"),
        product_type=item.get("product_type"),
        vendor=item.get("vendor"),
        quantity=quantity,
        unit_price=round_money(price),
        discount=round_money(discount),
        total=round_money(total),
    )


def categories_of(items: Any) -> tuple[str, ...]:
    """Distinct product types in order of first appearance."""
    seen: dict[str, None] = {}
    for item in items or ():
        kind = item.get("product_type")
        if kind:
            seen.setdefault(kind, None)
    return tuple(seen)


def _gross(order: Mapping[str, Any], lines: tuple[LineFacts, ...]) -> Decimal:
    if order.get("total_line_items_price") is not None:
        gross: Decimal = order["total_line_items_price"]
        return gross
    if lines:
        return sum((line.unit_price * line.quantity for line in lines), ZERO)
    subtotal: Decimal | None = order.get("subtotal_price")
    if subtotal is not None:
        discounts: Decimal = order.get("total_discounts") or ZERO
        return subtotal + discounts
    total: Decimal = order["total_price"]
    return total


def _refund_currency(refund: Mapping[str, Any]) -> str | None:
    for tx in refund.get("transactions") or ():
        if tx.get("currency"):
            return str(tx["currency"])
    for line in refund.get("refund_line_items") or ():
        code = ((line.get("subtotal_set") or {}).get("shop_money") or {}).get("currency_code")
        if code:
            return str(code)
    return None


def _money_pair(money_set: Mapping[str, Any] | None) -> tuple[str, Decimal, str, Decimal] | None:
    """A ``*_set`` as (shop code, shop amount, presentment code, presentment amount), if whole."""
    shop = (money_set or {}).get("shop_money") or {}
    shown = (money_set or {}).get("presentment_money") or {}
    if shop.get("amount") is None or shown.get("amount") is None:
        return None
    if not (shop.get("currency_code") and shown.get("currency_code")):
        return None
    return shop["currency_code"], shop["amount"], shown["currency_code"], shown["amount"]


def _shop_rate(
    refund: Mapping[str, Any], order_total: Mapping[str, Any] | None
) -> tuple[str, str, Decimal] | None:
    """(presentment code, shop code, shop units per presentment unit) the order itself was paid at.

    A multi-currency order (Shopify Markets) keeps its totals in the shop's currency but is
    refunded in the buyer's: the transactions say EUR on a USD order. The refund's own lines
    (``subtotal_set``), else the order's ``total_price_set``, hold both amounts, so the refund
    converts at the rate of the sale instead of needing a loaded EUR rate (without one the whole
    order was refused as ``no_rate``).
    """
    pairs = [_money_pair(line.get("subtotal_set")) for line in refund.get("refund_line_items") or ()]
    whole = [pair for pair in pairs if pair is not None]
    codes = {(pair[0], pair[2]) for pair in whole}
    if len(codes) == 1 and len(whole) == len(pairs):
        ((shop_code, shown_code),) = codes
        shop_sum = sum((pair[1] for pair in whole), ZERO)
        shown_sum = sum((pair[3] for pair in whole), ZERO)
        if shop_sum > 0 and shown_sum > 0:
            return shown_code, shop_code, shop_sum / shown_sum
    total = _money_pair(order_total)
    if total is not None and total[1] > 0 and total[3] > 0:
        return total[2], total[0], total[1] / total[3]
    return None


def refund_facts(
    refund: Mapping[str, Any],
    *,
    shop: str,
    rates: Rates,
    order_id: str | None = None,
    currency: str | None = None,
    path: str = "",
    order_total: Mapping[str, Any] | None = None,
) -> RefundFacts:
    """Facts of one validated refund; ``currency`` is the order's when the refund names none.

    Money returned in the buyer's (presentment) currency is counted in the shop's currency at the
    order's own rate when the payload holds it (``_shop_rate``; ``order_total``: the order's
    ``total_price_set``), as the order's amounts are.
    """
    created = refund.get("created_at") or refund.get("processed_at")
    if created is None:
        raise invalid(f"{path}created_at", Reason.MISSING)
    owner = refund.get("order_id") or order_id
    if owner is None:
        raise invalid(f"{path}order_id", Reason.MISSING)
    refund_tx = [
        tx
        for tx in refund.get("transactions") or ()
        if (tx.get("kind") or "refund") in _REFUND_KINDS and (tx.get("status") or "success") not in _FAILED
    ]
    lines = refund.get("refund_line_items") or ()
    items_value = sum((line.get("subtotal") or ZERO for line in lines), ZERO)
    amount = sum((tx.get("amount") or ZERO for tx in refund_tx), ZERO) if refund_tx else items_value
    code = _refund_currency(refund) or currency
    rate = _shop_rate(refund, order_total) if code is not None and code != currency else None
    if rate is not None and code == rate[0] and rate[0] != rate[1]:
        amount, code = amount * rate[2], rate[1]
    return RefundFacts(
        shop=shop,
        refund_id=refund["id"],
        order_id=owner,
        created_at=created,
        currency=code,
        amount=round_money(amount),
        amount_base=rates.to_base(amount, code, created, path=f"{path}currency") if code else None,
        items_value=round_money(items_value),
        items=sum(line.get("quantity") or 0 for line in lines),
    )


def _status(financial: str | None, cancelled: bool) -> str:
    if cancelled:
        return "cancelled"
    if not financial:
        return "unknown"
    return _STATUSES.get(financial.lower(), "other")


def _contact(order: Mapping[str, Any]) -> tuple[Contact, list[Problem]]:
    customer = order.get("customer") or {}
    default = customer.get("default_address")
    billing, shipping = order.get("billing_address"), order.get("shipping_address")
    return choose_contact(
        customer=customer,
        emails=(
            ("customer.email", customer.get("email")),
            ("email", order.get("email")),
            ("contact_email", order.get("contact_email")),
        ),
        phones=(
            ("customer.phone", customer.get("phone"), None),
            ("phone", order.get("phone"), None),
            ("billing_address.phone", (billing or {}).get("phone"), billing),
            ("customer.default_address.phone", (default or {}).get("phone"), default),
            ("shipping_address.phone", (shipping or {}).get("phone"), shipping),
        ),
        addresses=(default, billing, shipping),
    )


def require_identifier(contact: Contact, customer_id: str | None, warnings: list[Problem]) -> None:
    """Refuse a payload nobody can be matched to (a dropped placeholder email says so)."""
    if contact.reachable or customer_id:
        return
    placeholder = next((w for w in warnings if w.reason is Reason.PLACEHOLDER_EMAIL), None)
    if placeholder is not None:
        raise InvalidPayload([placeholder])
    raise invalid(ROOT, Reason.NO_CUSTOMER_IDENTIFIER)


def order_facts(order: Mapping[str, Any], *, shop: str, rates: Rates) -> Ingested[OrderFacts]:
    """Facts of one validated Shopify order (see ``load_order``)."""
    customer = order.get("customer") or {}
    customer_id = customer.get("id")
    contact, warnings = _contact(order)
    require_identifier(contact, customer_id, warnings)
    created: datetime = order["created_at"]
    updated: datetime = order.get("updated_at") or order.get("processed_at") or created
    currency: str = order["currency"]
    items = order.get("line_items") or ()
    lines = tuple(_line(item) for item in items)
    for i, line in enumerate(lines):
        storable(line.unit_price * line.quantity, f"line_items.{i}.quantity")
    # One refund per id, the last listed: the store keeps one row per refund id, and a payload
    # listing a refund twice counted its money twice in the order's refunded amount.
    by_id = {
        r["id"]: refund_facts(
            r,
            shop=shop,
            rates=rates,
            order_id=order["id"],
            currency=currency,
            path=f"refunds.{i}.",
            order_total=order.get("total_price_set"),
        )
        for i, r in enumerate(order.get("refunds") or ())
    }
    refunds = tuple(by_id.values())
    gross = storable(_gross(order, lines), "line_items")
    discount = order.get("total_discounts") or ZERO
    refunded = sum(
        (
            r.amount
            if r.currency in (None, currency)
            else rates.convert(r.amount, r.currency, currency, r.created_at)
            for r in refunds
        ),
        ZERO,
    )
    refunded = storable(refunded, "refunds")
    gross_base = rates.to_base(gross, currency, created)
    discount_base = rates.to_base(discount, currency, created)
    # Each refund converts at its own date (money returned then); the order's amounts at created_at.
    refunded_base = round_money(sum((r.amount_base or ZERO for r in refunds), ZERO))
    cancelled = order.get("cancelled_at") is not None
    channel = derive_channel(order.get("source_name"), order.get("app_id"))
    email_consent, sms_consent = consent(customer, order.get("buyer_accepts_marketing"))
    country = (
        address_country(order.get("shipping_address"))
        or address_country(order.get("billing_address"))
        or address_country(customer.get("default_address"))
    )
    facts = OrderFacts(
        shop=shop,
        order_id=order["id"],
        source="shopify",
        customer_id=customer_id,
        created_at=created,
        updated_at=updated,
        currency=currency,
        presentment_currency=order.get("presentment_currency"),
        base_currency=rates.base,
        gross=round_money(gross),
        discount=round_money(discount),
        refunded=round_money(refunded),
        net=round_money(max(gross - discount - refunded, ZERO)),
        gross_base=gross_base,
        discount_base=discount_base,
        refunded_base=refunded_base,
        net_base=max(gross_base - discount_base - refunded_base, ZERO),
        discount_depth=discount_depth(discount, gross),
        discount_code_count=len(order.get("discount_codes") or ()),
        status=_status(order.get("financial_status"), cancelled),
        financial_status=order.get("financial_status"),
        cancelled=cancelled,
        cancel_reason=order.get("cancel_reason"),
        test=bool(order.get("test")),
        channel=channel,
        referral=derive_referral(channel, order.get("landing_site"), order.get("referring_site")),
        categories=categories_of(items),
        country=country,
        email_consent=email_consent,
        sms_consent=sms_consent,
        lines=lines,
        refunds=refunds,
    )
    return Ingested(facts, contact, tuple(warnings))


def discount_depth(discount: Decimal, gross: Decimal) -> Decimal:
    """discount / gross in 0..1 (4 dp); 0 for a free order."""
    if gross <= 0:
        return ZERO
    return round_money(min(discount / gross, Decimal(1)))


def load_order(body: Payload) -> dict[str, Any]:
    """Decode and validate a Shopify order body (``InvalidPayload`` on any problem)."""
    return parse(ORDER, body)


def ingest_order(body: Payload, *, shop: str, rates: Rates) -> Ingested[OrderFacts]:
    """Decode, validate and normalize one Shopify order."""
    return order_facts(load_order(body), shop=shop, rates=rates)


def ingest_refund(body: Payload, *, shop: str, rates: Rates) -> Ingested[RefundFacts]:
    """Decode, validate and normalize one ``refunds/create`` body (no contact: it names none).

    Whether the order exists is the store's question; a refund for an unknown order is dead-lettered
    there with ``Reason.REFUND_WITHOUT_ORDER``.
    """
    refund = parse(REFUND, body)
    return Ingested(refund_facts(refund, shop=shop, rates=rates), Contact())
