"""The generic CSV/JSONL layout, refunds in orders, checkouts, tickets and the privacy webhooks."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.ingestor.domain import (
    InvalidPayload,
    Rates,
    Reason,
    ingest_checkout,
    ingest_customer_redact,
    ingest_data_request,
    ingest_generic_row,
    ingest_order,
    ingest_shop_redact,
    ingest_ticket,
)

from .payloads import minimal_order, sample

CSV = """order_id,customer_id,created_at,currency,gross,email,phone,first_name,last_name,city,region,postal_code,country,discount,refunded,status,channel,categories,accepts_marketing,updated_at,extra
A-1001,C-9,2025-02-03 10:00:00,eur,120.00,lea.martin@example.com,+33 1 99 00 12 34,Léa,Martin,Paris,IDF,75001,France,20,,completed,google,Home|Beauty;Home,yes,,ignored
A-1002,,2025-02-04T09:00:00+01:00,EUR,50,lea.martin@example.com,,,,,,,,,,refunded,,,,,
"""  # noqa: E501


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(CSV)))


def test_generic_csv_rows(rates: Rates) -> None:
    first, second = (ingest_generic_row(row, shop="s", rates=rates) for row in _rows())
    f = first.facts
    assert (f.order_id, f.customer_id, f.source, f.currency) == ("A-1001", "C-9", "generic", "EUR")
    assert f.created_at == datetime(2025, 2, 3, 10, tzinfo=UTC)  # naive means UTC
    assert f.updated_at == f.created_at  # no updated_at: the creation is the version
    assert (f.gross, f.discount, f.refunded, f.net) == (
        Decimal("120.0000"),
        Decimal("20.0000"),
        Decimal(0),
        Decimal(100),
    )
    assert (f.gross_base, f.discount_depth) == (Decimal("129.6000"), Decimal("0.1667"))
    assert (f.status, f.channel, f.referral, f.country) == ("paid", "web", "google", "FR")
    assert f.categories == ("Home", "Beauty")
    assert f.email_consent is True
    assert (first.contact.first_name, first.contact.country) == ("Léa", "FR")
    s = second.facts
    assert s.customer_id is None  # empty customer_id is fine with an email
    # "refunded" with no amount: all of it
    assert (s.status, s.refunded, s.net) == ("refunded", Decimal("50.0000"), Decimal(0))


def test_generic_jsonl_row_with_numbers_and_a_category_list(rates: Rates) -> None:
    row = (
        b'{"order_id": 7, "customer_id": 8, "created_at": "2025-01-01", "currency": "JPY", "gross": 7400, '
        b'"categories": ["Home", "Home"], "status": "mystery"}'
    )
    facts = ingest_generic_row(row, shop="s", rates=rates).facts
    assert (facts.order_id, facts.gross_base, facts.categories, facts.status) == (
        "7",
        Decimal("49.5800"),
        ("Home",),
        "other",
    )


GENERIC_BAD: list[tuple[str, dict[str, Any], str, Reason]] = [
    ("no customer id and no email", {"email": ""}, "$", Reason.NO_CUSTOMER_IDENTIFIER),
    ("no customer id and a placeholder email", {"email": "none@none.com"}, "email", Reason.PLACEHOLDER_EMAIL),
    (
        "no customer id, only a phone",
        {"email": "", "phone": "+1 212 555 0100"},
        "$",
        Reason.NO_CUSTOMER_IDENTIFIER,
    ),
    ("empty order id", {"order_id": ""}, "order_id", Reason.MISSING),
    # The store's id columns hold 64 characters: a longer id is refused here, not by the database.
    ("order id over 64 characters", {"order_id": "A" * 65}, "order_id", Reason.TOO_LONG),
    ("customer id over 64 characters", {"customer_id": "9" * 65}, "customer_id", Reason.TOO_LONG),
    ("empty created_at", {"created_at": ""}, "created_at", Reason.MISSING),
    ("empty currency", {"currency": ""}, "currency", Reason.MISSING),
    ("empty gross", {"gross": " "}, "gross", Reason.MISSING),
    ("gross with a thousands separator", {"gross": "1,200.00"}, "gross", Reason.NOT_A_DECIMAL),
    ("negative refund", {"refunded": "-3"}, "refunded", Reason.NEGATIVE_AMOUNT),
    ("unknown country", {"country": "Atlantis"}, "country", Reason.UNKNOWN_COUNTRY),
    ("consent not a boolean", {"accepts_marketing": "maybe"}, "accepts_marketing", Reason.NOT_A_BOOLEAN),
]


@pytest.mark.parametrize(("case", "changes", "path", "reason"), GENERIC_BAD, ids=[g[0] for g in GENERIC_BAD])
def test_invalid_generic_rows(
    case: str, changes: dict[str, str], path: str, reason: Reason, rates: Rates
) -> None:
    row = {
        "order_id": "1",
        "customer_id": "",
        "created_at": "2025-01-01",
        "currency": "USD",
        "gross": "10",
        "email": "ana@example.com",
        **changes,
    }
    with pytest.raises(InvalidPayload) as caught:
        ingest_generic_row(row, shop="s", rates=rates)
    assert (caught.value.field_path, caught.value.problems[0].reason) == (path, reason)


def test_embedded_refunds_become_refund_facts_and_the_refunded_value(rates: Rates) -> None:
    refund = sample("refunds_create.shopify_docs_2026-07.json")
    order = minimal_order(currency="USD", refunds=[refund], financial_status="partially_refunded")
    facts = ingest_order(order, shop="s", rates=rates).facts
    assert [r.refund_id for r in facts.refunds] == ["890088186047892319"]
    assert facts.refunded == Decimal("85.0000")
    assert facts.net == facts.gross - facts.discount - facts.refunded
    assert facts.status == "partially_refunded"


def test_a_refund_with_no_transactions_counts_its_returned_lines(rates: Rates) -> None:
    refund = {
        "id": 5,
        "created_at": "2025-03-05T00:00:00Z",
        "refund_line_items": [{"quantity": 1, "subtotal": "99.90"}],
    }
    facts = ingest_order(minimal_order(refunds=[refund]), shop="s", rates=rates).facts
    assert facts.refunds[0].currency == "BRL"  # the order's currency
    assert facts.refunded == Decimal("99.9000")
    assert facts.refunded_base == Decimal("19.9800")


def test_failed_refund_transactions_are_not_money_returned(rates: Rates) -> None:
    refund = {
        "id": 5,
        "created_at": "2025-03-05T00:00:00Z",
        "transactions": [
            {"kind": "refund", "status": "failure", "amount": "50.00"},
            {"kind": "refund", "status": "success", "amount": "10.00"},
            {"kind": "capture", "status": "success", "amount": "99.00"},
        ],
    }
    assert ingest_order(minimal_order(refunds=[refund]), shop="s", rates=rates).facts.refunded == Decimal(
        "10"
    )


def test_abandoned_checkout(rates: Rates) -> None:
    body = {
        "token": "abc123",
        "email": "ana@example.com",
        "created_at": "2025-03-01T10:00:00Z",
        "currency": "CAD",
        "total_line_items_price": "100.00",
        "completed_at": None,
        "line_items": [{"product_type": "Outdoor", "quantity": 1, "price": "100.00"}],
        "shipping_address": {"country_code": "CA"},
        "landing_site": "/?utm_source=facebook",
        "buyer_accepts_marketing": True,
    }
    got = ingest_checkout(body, shop="s", rates=rates)
    f = got.facts
    assert (f.checkout_id, f.completed, f.value_base, f.categories, f.country) == (
        "abc123",
        False,
        Decimal("74.0000"),
        ("Outdoor",),
        "CA",
    )
    assert (f.channel, f.referral, f.email_consent) == ("unknown", "facebook", True)
    assert got.contact.reachable


def test_a_checkout_without_contact_is_valid_but_not_reachable(rates: Rates) -> None:
    body = {"id": 9, "created_at": "2025-03-01T10:00:00Z", "currency": "CAD"}
    assert not ingest_checkout(body, shop="s", rates=rates).contact.reachable


@pytest.mark.parametrize(
    ("body", "source"),
    [
        (
            {"ticket_id": "T-1", "customer_email": "ana@example.com", "created_at": "2025-01-01T00:00:00Z"},
            "generic",
        ),
        (
            {
                "ticket": {
                    "id": 42,
                    "created_at": "2025-01-01T00:00:00Z",
                    "requester": {"email": "ana@example.com"},
                }
            },
            "zendesk",
        ),
        (
            {"id": 42, "created_datetime": "2025-01-01T00:00:00Z", "customer": {"email": "ana@example.com"}},
            "gorgias",
        ),
    ],
)
def test_ticket_shapes(body: dict[str, Any], source: str) -> None:
    got = ingest_ticket(body, shop="s")
    assert (got.facts.source, got.facts.created_at, got.contact.email) == (
        source,
        datetime(2025, 1, 1, tzinfo=UTC),
        "ana@example.com",
    )


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        ({"customer_email": "ana@example.com", "created_at": "2025-01-01"}, "ticket_id", Reason.MISSING),
        ({"ticket_id": "T-1", "created_at": "2025-01-01"}, "$", Reason.NO_CUSTOMER_IDENTIFIER),
        ({"ticket_id": "T-1", "customer_email": "ana@example.com"}, "created_at", Reason.MISSING),
        (
            {"ticket": {"id": 1, "created_at": "x", "requester": {"email": "a@example.com"}}},
            "created_at",
            Reason.NOT_A_DATETIME,
        ),
    ],
)
def test_invalid_tickets(body: dict[str, Any], path: str, reason: Reason) -> None:
    with pytest.raises(InvalidPayload) as caught:
        ingest_ticket(body, shop="s")
    assert (caught.value.field_path, caught.value.problems[0].reason) == (path, reason)


def test_privacy_webhooks() -> None:
    redact = ingest_customer_redact(
        b'{"shop_id": 954889, "shop_domain": "snowdevil.myshopify.com", "customer": {"id": 191167, '
        b'"email": "john@example.com", "phone": "555-625-1199"}, "orders_to_redact": [299938, 280263]}'
    )
    assert (redact.facts.customer_id, redact.facts.order_ids) == ("191167", ("299938", "280263"))
    assert (redact.contact.email, redact.contact.phone) == ("john@example.com", "555-625-1199")
    request = ingest_data_request(
        b'{"shop_id": 954889, "shop_domain": "snowdevil.myshopify.com", "orders_requested": [299938], '
        b'"customer": {"id": 191167, "email": "john@example.com"}, "data_request": {"id": 9999}}'
    )
    assert (request.facts.request_id, request.facts.order_ids) == ("9999", ("299938",))
    shop = ingest_shop_redact(b'{"shop_id": 954889, "shop_domain": "snowdevil.myshopify.com"}')
    assert (shop.facts.shop_domain, shop.facts.shop_id) == ("snowdevil.myshopify.com", "954889")


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        (b'{"shop_id": 1}', "shop_domain", Reason.MISSING),
        (b'{"shop_domain": "a.myshopify.com", "customer": {}}', "$", Reason.NO_CUSTOMER_IDENTIFIER),
        (b'{"shop_domain": "a.myshopify.com"}', "customer", Reason.MISSING),
    ],
)
def test_invalid_redactions(body: bytes, path: str, reason: Reason) -> None:
    with pytest.raises(InvalidPayload) as caught:
        ingest_customer_redact(body)
    assert (caught.value.field_path, caught.value.problems[0].reason) == (path, reason)
