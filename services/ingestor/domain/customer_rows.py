"""The generic customers layout (one customer per CSV row or JSONL object) to customer facts.

Columns: ``customer_id`` (the shop's own id; may be empty when ``email`` is given), ``email``,
``phone``, ``first_name``, ``last_name``, ``city``, ``region``, ``postal_code``, ``country``
(ISO alpha-2 or an English name), ``accepts_email_marketing`` and ``accepts_sms_marketing``
(yes/no, true/false, 1/0; empty: not said), ``ad_user_data`` and ``ad_personalization``
(Google's EU consent signals: granted, denied or unknown; yes/no read as granted/denied),
``created_at`` and ``updated_at`` (ISO 8601; the latest ``updated_at`` wins). Names, email,
phone and address are hashed at ingest like an order's; only the hashes are stored. Details in
docs/import.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError

from services.ingestor.domain.codes import Country
from services.ingestor.domain.decoding import parse
from services.ingestor.domain.errors import Reason
from services.ingestor.domain.facts import CustomerFacts, Ingested
from services.ingestor.domain.fields import Base, Flag, Ref, ShopField, Text, Timestamp, fail
from services.ingestor.domain.generic import row_contact
from services.ingestor.domain.orders import Payload
from services.ingestor.domain.shopify_schemas import EMAIL_LEN

REQUIRED_ANY = ("customer_id", "email")  # a header needs one of them
_AD_CONSENT = {"granted": True, "denied": False, "unknown": None, "": None}


class AdConsent(ShopField):
    """Google's ``ad_user_data`` / ``ad_personalization``: granted, denied or unknown (any case);
    a yes/no spelling (yes, true, 1 / no, false, 0) is read as granted / denied."""

    _flag = Flag()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool | None:
        if isinstance(value, str) and value.strip().lower() in _AD_CONSENT:
            return _AD_CONSENT[value.strip().lower()]
        try:
            return self._flag._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            raise fail(Reason.INVALID, "granted, denied or unknown") from None


class CustomerRow(Base):
    """One row of the generic customers layout."""

    customer_id = Ref()
    email = Text(max_len=EMAIL_LEN)
    phone = Text(max_len=64, digits=True)
    first_name = Text()
    last_name = Text()
    city = Text()
    region = Text()
    postal_code = Text(max_len=32, digits=True)
    country = Country()
    accepts_email_marketing = Flag()
    accepts_sms_marketing = Flag()
    ad_user_data = AdConsent()
    ad_personalization = AdConsent()
    created_at = Timestamp()
    updated_at = Timestamp()


CUSTOMER_ROW = CustomerRow()


def customer_row_facts(row: Mapping[str, Any], *, shop: str) -> Ingested[CustomerFacts]:
    """Facts of one validated customers row; refused when it names nobody (no id, no usable email)."""
    contact, warnings, customer_id = row_contact(row)
    facts = CustomerFacts(
        shop=shop,
        customer_id=customer_id,
        created_at=row.get("created_at"),
        updated_at=row.get("updated_at"),
        state=None,
        country=row.get("country"),
        email_consent=row.get("accepts_email_marketing"),
        sms_consent=row.get("accepts_sms_marketing"),
        ad_user_data=row.get("ad_user_data"),
        ad_personalization=row.get("ad_personalization"),
    )
    return Ingested(facts, contact, tuple(warnings))


def ingest_customer_row(body: Payload, *, shop: str) -> Ingested[CustomerFacts]:
    """Validate and normalize one customers row."""
    return customer_row_facts(parse(CUSTOMER_ROW, body), shop=shop)
