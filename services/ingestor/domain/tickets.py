"""Support tickets (a helpdesk webhook or a tickets file) to facts, counted per customer.

Accepted shapes, all reduced to ``ticket_id``, ``customer_email``, ``customer_id`` (the shop's),
``created_at`` before validation (so field paths in errors use these flat names):

- generic: ``{"ticket_id", "customer_email" | "email", "customer_id", "created_at"}``
- Zendesk-like: ``{"ticket": {"id", "created_at", "requester": {"email"}}}``
- Gorgias-like: ``{"id", "created_datetime", "customer": {"email"}}`` (optionally under ``ticket``)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.ingestor.domain.contact import screen_email
from services.ingestor.domain.decoding import decode_json, validate
from services.ingestor.domain.errors import Problem
from services.ingestor.domain.facts import Contact, Ingested, TicketFacts
from services.ingestor.domain.fields import Base, Ref, Text, Timestamp
from services.ingestor.domain.orders import Payload, require_identifier
from services.ingestor.domain.shopify_schemas import EMAIL_LEN


class Ticket(Base):
    """The flat ticket every accepted shape is reduced to."""

    ticket_id = Ref(required=True)
    customer_email = Text(max_len=EMAIL_LEN)
    customer_id = Ref()
    created_at = Timestamp(required=True)


TICKET = Ticket()
_MISSING = object()


def _first(*candidates: Any) -> Any:
    return next((c for c in candidates if c is not _MISSING and c is not None), _MISSING)


def _get(obj: Any, key: str) -> Any:
    return obj.get(key, _MISSING) if isinstance(obj, Mapping) else _MISSING


def flatten_ticket(data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The flat ticket and the name of the shape it came in."""
    inner = data.get("ticket")
    body: Mapping[str, Any] = inner if isinstance(inner, Mapping) else data
    if isinstance(body.get("requester"), Mapping):
        source = "zendesk"
    elif "created_datetime" in body or isinstance(body.get("customer"), Mapping):
        source = "gorgias"
    else:
        source = "generic"
    flat = {
        "ticket_id": _first(_get(body, "ticket_id"), _get(body, "id")),
        "customer_email": _first(
            _get(body, "customer_email"),
            _get(body, "email"),
            _get(_get(body, "requester"), "email"),
            _get(_get(body, "customer"), "email"),
        ),
        "customer_id": _get(body, "customer_id"),
        "created_at": _first(_get(body, "created_at"), _get(body, "created_datetime")),
    }
    return {k: v for k, v in flat.items() if v is not _MISSING}, source


def ticket_facts(ticket: Mapping[str, Any], *, shop: str, source: str = "generic") -> Ingested[TicketFacts]:
    """Facts of one validated flat ticket."""
    email, why = screen_email(ticket.get("customer_email"))
    warnings = [Problem("customer_email", why)] if why else []
    contact = Contact(email=email)
    require_identifier(contact, ticket.get("customer_id"), warnings)
    facts = TicketFacts(
        shop=shop,
        ticket_id=ticket["ticket_id"],
        customer_id=ticket.get("customer_id"),
        created_at=ticket["created_at"],
        source=source,
    )
    return Ingested(facts, contact, tuple(warnings))


def ingest_ticket(body: Payload, *, shop: str) -> Ingested[TicketFacts]:
    """Decode, flatten, validate and normalize one ticket."""
    data = body if isinstance(body, Mapping) else decode_json(body)
    flat, source = flatten_ticket(data)
    return ticket_facts(validate(TICKET, flat), shop=shop, source=source)
