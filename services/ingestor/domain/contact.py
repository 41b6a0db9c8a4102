"""Choosing one customer's raw contact from the several places Shopify repeats it.

Which email wins: the customer record's ``customer.email``, then the order's ``email``, then
``contact_email``. The customer record is the stable identity across all of a customer's orders
(the customer key derives from it), while an order's email is what was typed at one checkout;
when both are usable and differ, the order's email travels as ``alt_email`` (an extra match key,
never the customer key).

Phones are screened before the identity layer sees them: a phone with letters
(``555-555-SHIP``), under 7 or over 15 digits, is dropped with a warning rather than hashed.
Placeholder emails (``noemail@...``, ``none@none.com``; the rule is ``shared.identity``'s) are
dropped: hashed, one of them would merge every walk-in customer of a shop into one giant "customer".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from services.ingestor.domain.codes import country_code
from services.ingestor.domain.errors import Problem, Reason
from services.ingestor.domain.facts import Contact
from shared.identity.emails import is_shop_placeholder

_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*\d{1,6}\s*$", re.IGNORECASE)
_PHONE_CHARS = frozenset("0123456789+()-./ \u00a0")


def is_placeholder_email(email: str) -> bool:
    """True for shared dummy addresses that stand for "no email" (``noemail@shop.com``).

    The rule and its lists live in ``shared.identity.emails`` (one place for every placeholder).
    """
    return is_shop_placeholder(email)


def screen_email(value: str | None) -> tuple[str | None, Reason | None]:
    """The email if usable, else None with the reason it was dropped."""
    if not value:
        return None, None
    if len(value) > 254 or not _EMAIL_SHAPE.fullmatch(value):
        return None, Reason.BAD_EMAIL
    if is_placeholder_email(value):
        return None, Reason.PLACEHOLDER_EMAIL
    return value, None


def screen_phone(value: str | None) -> tuple[str | None, Reason | None]:
    """The phone if it could be a phone number, else None with the reason it was dropped."""
    if not value:
        return None, None
    text = _EXTENSION.sub("", value)
    if any(ch.isalpha() for ch in text):
        return None, Reason.PHONE_HAS_LETTERS
    if not set(text) <= _PHONE_CHARS:
        return None, Reason.INVALID
    digits = sum(ch.isdigit() for ch in text)
    if digits < 7:
        return None, Reason.PHONE_TOO_SHORT
    if digits > 15:
        return None, Reason.TOO_LONG
    return text.strip(), None


def address_country(address: Mapping[str, Any] | None) -> str | None:
    """ISO alpha-2 of an address: its ``country_code``, else its country name if we know it."""
    if not address:
        return None
    code = address.get("country_code")
    if code:
        return str(code)
    name = address.get("country")
    return country_code(name[:100]) if name else None


def _has_place(address: Mapping[str, Any] | None) -> bool:
    return bool(address) and any(address.get(k) for k in ("city", "zip", "country_code", "country"))  # type: ignore[union-attr]


def choose_contact(
    *,
    customer: Mapping[str, Any] | None,
    emails: tuple[tuple[str, str | None], ...],
    phones: tuple[tuple[str, str | None, Mapping[str, Any] | None], ...],
    addresses: tuple[Mapping[str, Any] | None, ...],
) -> tuple[Contact, list[Problem]]:
    """The contact from candidates in priority order; warnings name dropped fields, not values.

    ``emails`` and ``phones`` are (path, value[, address the phone belongs to]) in priority
    order; ``addresses`` are where name and place come from, first one with a place wins.
    """
    warnings: list[Problem] = []
    usable: list[str] = []
    for path, value in emails:
        email, why = screen_email(value)
        if why is not None:
            warnings.append(Problem(path, why))
        elif email and all(email.lower() != u.lower() for u in usable):
            usable.append(email)
    place = next((a for a in addresses if _has_place(a)), None) or {}
    place_country = address_country(place)
    phone: str | None = None
    phone_country: str | None = None
    for path, value, owner in phones:
        candidate, why = screen_phone(value)
        if why is not None:
            warnings.append(Problem(path, why))
        elif candidate and phone is None:
            phone = candidate
            phone_country = address_country(owner) or place_country
    cust = customer or {}
    first = cust.get("first_name") or place.get("first_name")
    last = cust.get("last_name") or place.get("last_name")
    contact = Contact(
        email=usable[0] if usable else None,
        phone=phone,
        first_name=first,
        last_name=last,
        city=place.get("city"),
        region=place.get("province_code") or place.get("province"),
        postal_code=place.get("zip"),
        country=place_country,
        phone_country=phone_country,
        alt_email=usable[1] if len(usable) > 1 else None,
    )
    return contact, warnings


def consent(
    customer: Mapping[str, Any] | None, buyer_accepts: bool | None
) -> tuple[bool | None, bool | None]:
    """(email, sms) marketing consent; None when the payload does not say.

    Email: the customer's ``email_marketing_consent.state`` (the current state), else the legacy
    ``accepts_marketing``, else the order's ``buyer_accepts_marketing`` (the checkbox at checkout).
    Only ``subscribed`` counts as consent; ``pending`` (unconfirmed double opt-in) does not.
    """
    cust = customer or {}
    email_state = (cust.get("email_marketing_consent") or {}).get("state")
    if email_state:
        email: bool | None = email_state.lower() == "subscribed"
    elif cust.get("accepts_marketing") is not None:
        email = cust["accepts_marketing"]
    else:
        email = buyer_accepts
    sms_state = (cust.get("sms_marketing_consent") or {}).get("state")
    sms = sms_state.lower() == "subscribed" if sms_state else None
    return email, sms
