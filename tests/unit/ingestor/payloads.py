"""Payload builders and the Shopify samples (copied from ../shared/samples: a clone has no ../shared)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify"


def sample_bytes(name: str) -> bytes:
    """The exact bytes of one sample webhook body."""
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> dict[str, Any]:
    """One sample webhook body, decoded."""
    data: dict[str, Any] = json.loads(sample_bytes(name))
    return data


def minimal_order(**changes: Any) -> dict[str, Any]:
    """A small valid Shopify order; ``changes`` replace top-level fields (None values included)."""
    order: dict[str, Any] = {
        "id": 1001,
        "email": "ana.silva@example.com",
        "created_at": "2025-03-01T10:00:00-03:00",
        "updated_at": "2025-03-01T10:05:00-03:00",
        "currency": "BRL",
        "total_price": "189.80",
        "total_line_items_price": "199.80",
        "total_discounts": "10.00",
        "customer": {"id": 77, "email": "ana.silva@example.com", "first_name": "Ana", "last_name": "Silva"},
        "shipping_address": {"city": "São Paulo", "zip": "01310-100", "country_code": "BR"},
        "line_items": [
            {"id": 1, "product_type": "Apparel", "vendor": "Acme", "quantity": 2, "price": "99.90"},
        ],
    }
    order.update(changes)
    return order
