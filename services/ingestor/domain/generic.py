"""The generic CSV/JSONL order layout (one order per row) to the same facts as a Shopify order.

Required: ``order_id``, ``customer_id`` (may be empty when ``email`` is given), ``created_at``
(ISO 8601; naive means UTC), ``currency`` (ISO 4217), ``gross`` (merchandise before discounts).
Optional: ``email``, ``phone``, ``first_name``, ``last_name``, ``city``, ``region``,
``postal_code``, ``country``, ``discount``, ``refunded``, ``status``, ``channel``, ``categories``
(``|``-separated), ``accepts_marketing``, ``updated_at``. Other columns are ignored; an empty
cell is an absent value. Details in docs/import.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.ingestor.domain.channel import channel_from_label
from services.ingestor.domain.codes import Country, Currency
from services.ingestor.domain.contact import choose_contact
from services.ingestor.domain.decoding import parse
from services.ingestor.domain.errors import ROOT, InvalidPayload, Problem, Reason, invalid
from services.ingestor.domain.facts import Contact, Ingested, OrderFacts
from services.ingestor.domain.fields import Base, Flag, Money, Ref, ShopField, Text, Timestamp, fail
from services.ingestor.domain.money import ZERO, Rates, round_money
from services.ingestor.domain.orders import Payload, discount_depth
from services.ingestor.domain.shopify_schemas import EMAIL_LEN

# Free-text statuses from order exports, mapped onto the facts' vocabulary; unknown -> "other".
_STATUSES = {
    **dict.fromkeys(
        (
            "paid",
            "complete",
            "completed",
            "fulfilled",
            "shipped",
            "delivered",
            "closed",
            "success",
            "succeeded",
            "captured",
            "sale",
        ),
        "paid",
    ),
    **dict.fromkeys(
        ("pending", "open", "processing", "authorized", "unpaid", "on-hold", "on_hold", "partially_paid"),
        "pending",
    ),
    **dict.fromkeys(("refunded", "returned"), "refunded"),
    **dict.fromkeys(
        ("partially_refunded", "partially refunded", "partial_refund", "partially_returned"),
        "partially_refunded",
    ),
    **dict.fromkeys(("cancelled", "canceled"), "cancelled"),
    **dict.fromkeys(("voided", "void", "failed", "declined"), "voided"),
}


class Labels(ShopField):
    """A list of short labels: a JSON list of strings, or one string split on ``|`` or ``;``."""

    def __init__(self, *, max_items: int = 50, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_items = max_items

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            items: list[Any] = value.replace(";", "|").split("|")
        elif isinstance(value, list):
            items = value
        else:
            raise fail(Reason.NOT_A_LIST)
        if len(items) > self.max_items:
            raise fail(Reason.TOO_MANY_ITEMS, f"{len(items)} over the cap of {self.max_items}")
        seen: dict[str, None] = {}
        for item in items:
            if not isinstance(item, str):
                raise fail(Reason.NOT_A_STRING)
            label = item.strip()
            if len(label) > 255:
                raise fail(Reason.TOO_LONG, "over 255 characters")
            if label:
                seen.setdefault(label, None)
        return tuple(seen)


class GenericRow(Base):
    """One row of the generic layout."""

    order_id = Ref(required=True)
    customer_id = Ref()  # may be empty when email is given (checked in generic_facts)
    created_at = Timestamp(required=True)
    currency = Currency(required=True)
    gross = Money(required=True)
    email = Text(max_len=EMAIL_LEN)
    phone = Text(max_len=64, digits=True)
    first_name = Text()
    last_name = Text()
    city = Text()
    region = Text()
    postal_code = Text(max_len=32, digits=True)
    country = Country()
    discount = Money()
    refunded = Money()
    status = Text(max_len=40)
    channel = Text()
    categories = Labels()
    accepts_marketing = Flag()
    updated_at = Timestamp()


GENERIC_ROW = GenericRow()


def row_contact(row: Mapping[str, Any]) -> tuple[Contact, list[Problem], str | None]:
    """The contact and customer id of a flat layout row (orders and customers layouts alike).

    The layouts' rule: a row names its customer by an id, or else by a usable email; a row with
    neither is refused (as a placeholder email when that is why the email did not count).
    """
    place = {
        "first_name": row.get("first_name"),
        "last_name": row.get("last_name"),
        "city": row.get("city"),
        "province": row.get("region"),
        "zip": row.get("postal_code"),
        "country_code": row.get("country"),
    }
    contact, warnings = choose_contact(
        customer=None,
        emails=(("email", row.get("email")),),
        phones=(("phone", row.get("phone"), place),),
        addresses=(place,),
    )
    customer_id = row.get("customer_id")
    if not customer_id and not contact.email:
        placeholder = next((w for w in warnings if w.reason is Reason.PLACEHOLDER_EMAIL), None)
        raise InvalidPayload([placeholder]) if placeholder else invalid(ROOT, Reason.NO_CUSTOMER_IDENTIFIER)
    return contact, warnings, customer_id


def generic_facts(row: Mapping[str, Any], *, shop: str, rates: Rates) -> Ingested[OrderFacts]:
    """Facts of one validated generic row."""
    contact, warnings, customer_id = row_contact(row)
    created = row["created_at"]
    currency = row["currency"]
    gross, discount = row["gross"], row.get("discount") or ZERO
    status = _STATUSES.get((row.get("status") or "paid").strip().lower(), "other")
    refunded = row.get("refunded")
    if refunded is None:  # "refunded" with no amount is a full refund
        refunded = max(gross - discount, ZERO) if status == "refunded" else ZERO
    gross_base = rates.to_base(gross, currency, created)
    discount_base = rates.to_base(discount, currency, created)
    refunded_base = rates.to_base(refunded, currency, created)
    channel, referral = channel_from_label(row.get("channel"))
    accepts = row.get("accepts_marketing")
    facts = OrderFacts(
        shop=shop,
        order_id=row["order_id"],
        source="generic",
        customer_id=customer_id,
        created_at=created,
        updated_at=row.get("updated_at") or created,
        currency=currency,
        presentment_currency=None,
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
        discount_code_count=0,
        status=status,
        financial_status=None,
        cancelled=status == "cancelled",
        cancel_reason=None,
        test=False,
        channel=channel,
        referral=referral,
        categories=row.get("categories") or (),
        country=row.get("country"),
        email_consent=accepts,
        sms_consent=None,
        lines=(),
        refunds=(),
    )
    return Ingested(facts, contact, tuple(warnings))


def load_generic_row(row: Payload) -> dict[str, Any]:
    """Validate one generic row: a CSV ``DictReader`` row, a decoded JSONL object, or JSON text."""
    return parse(GENERIC_ROW, row)


def ingest_generic_row(row: Payload, *, shop: str, rates: Rates) -> Ingested[OrderFacts]:
    """Validate and normalize one generic row."""
    return generic_facts(load_generic_row(row), shop=shop, rates=rates)
