"""Shopify's admin "Export orders" CSV, lines grouped back into Shopify's REST order JSON.

The export writes one line per line item. The order's own columns (Email, Financial Status,
Currency, Subtotal, Total, Discount Code, Billing and Shipping address...) are filled on the
first line of each order only; later lines of the same ``Name`` carry the line-item columns
(``Lineitem quantity``, ``Lineitem price``, ``Lineitem discount``, ``Vendor``...). Each group
becomes one order body in the shape the webhooks send, so the ingestor validates and stores it
exactly as a webhook order (``import/shopify``): the same ``Id`` arriving both ways is one order.

What the export cannot say, and how it is read (docs/import.md):
- ``Refunded Amount`` is the total refunded, with no refund id or date: it becomes one refund
  whose id is the order's ``Id``, dated ``Cancelled at`` when set, else the order's ``Created at``.
- ``Billing Name`` / ``Shipping Name`` are whole names: the first word is the first name.
- Dates are written ``2026-09-03 10:14:00 -0400``; zip codes and phones may start with ``'``
  (written so spreadsheets keep leading zeros).
Column names are matched as the importer reads every header: trimmed and lower-cased.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

Row = Mapping[str, str]  # one CSV line: lower-cased column name -> cell

# Columns without which an order cannot be rebuilt, as Shopify spells them (its export always
# writes them); headers are compared lower-cased.
REQUIRED = ("Name", "Id", "Created at", "Currency", "Total", "Lineitem quantity", "Lineitem price")
# Only Shopify's export names its columns "Lineitem ...": a header with one is read as the export
# (then a trimmed export lacking a required column is told so, not read as the generic layout).
_SIGNATURE = "lineitem "
_LINE_COLUMNS = ("lineitem quantity", "lineitem price", "lineitem name", "lineitem sku")
_STAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:([+-]\d{2}):?(\d{2})|(Z|UTC))?"
)


def is_export(header: Iterable[str]) -> bool:
    """Whether a (lower-cased) header is Shopify's order export."""
    return any(name.startswith(_SIGNATURE) for name in header)


def missing_columns(header: Iterable[str]) -> list[str]:
    """Required export columns absent from ``header``, spelled as Shopify writes them."""
    names = set(header)
    return [name for name in REQUIRED if name.lower() not in names]


def group_orders(rows: Iterable[Row]) -> Iterator[list[Row]]:
    """Consecutive lines with the same ``Name`` (the export keeps an order's lines together)."""
    group: list[Row] = []
    for row in rows:
        if group and _cell(row, "name") != _cell(group[0], "name"):
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def _cell(row: Row, column: str) -> str:
    return (row.get(column) or "").strip()


def _first(lines: list[Row], column: str) -> str:
    """An order-level cell: the first line's, or the first non-empty one if that line left it out."""
    return next((value for value in (_cell(line, column) for line in lines) if value), "")


def stamp(text: str) -> str:
    """``2026-09-03 10:14:00 -0400`` as ISO 8601 (``2026-09-03T10:14:00-04:00``); others unchanged."""
    match = _STAMP.fullmatch(text.strip())
    if not match:
        return text
    day, time, hours, minutes, utc = match.groups()
    offset = f"{hours}:{minutes}" if hours else ("+00:00" if utc else "")
    return f"{day}T{time}{offset}"


def _unquoted(text: str) -> str:
    """A zip or phone without the ``'`` the export writes to keep leading zeros in spreadsheets."""
    return text[1:].strip() if text.startswith("'") else text


def _address(lines: list[Row], prefix: str) -> dict[str, Any] | None:
    name = _first(lines, f"{prefix} name")
    first, _, last = name.partition(" ")
    country = _first(lines, f"{prefix} country")
    is_code = len(country) == 2 and country.isalpha()
    address = {
        "first_name": first or None,
        "last_name": last.strip() or None,
        "city": _first(lines, f"{prefix} city") or None,
        "province_code": _first(lines, f"{prefix} province") or None,
        "province": _first(lines, f"{prefix} province name") or None,
        "zip": _unquoted(_first(lines, f"{prefix} zip")) or None,
        "country_code": country.upper() if is_code else None,
        "country": None if is_code else country or None,
        "phone": _unquoted(_first(lines, f"{prefix} phone")) or None,
    }
    present = {key: value for key, value in address.items() if value is not None}
    return present or None


def _line(row: Row) -> dict[str, Any]:
    line: dict[str, Any] = {
        "quantity": _cell(row, "lineitem quantity"),
        "price": _cell(row, "lineitem price"),
    }
    if _cell(row, "lineitem discount"):
        line["total_discount"] = _cell(row, "lineitem discount")
    if _cell(row, "vendor"):
        line["vendor"] = _cell(row, "vendor")
    return line


def _refunds(order_id: str, lines: list[Row], currency: str) -> list[dict[str, Any]]:
    amount = _first(lines, "refunded amount")
    if not amount or _is_zero(amount):
        return []
    refund = {
        "id": order_id,  # the export names no refund: one per order, the same on every re-import
        "order_id": order_id,
        "created_at": stamp(_first(lines, "cancelled at") or _first(lines, "created at")),
        "transactions": [{"kind": "refund", "status": "success", "amount": amount, "currency": currency}],
    }
    return [refund]


def _is_zero(amount: str) -> bool:
    try:
        return float(amount) == 0
    except ValueError:
        return False  # not a number: kept, so the ingestor refuses it with its reason


def order_body(lines: list[Row]) -> dict[str, Any]:
    """One order's lines as a Shopify REST order body (validated later, as a webhook's would be)."""
    order_id = _first(lines, "id")
    currency = _first(lines, "currency")
    codes = [code.strip() for code in _first(lines, "discount code").split(",") if code.strip()]
    discount = _first(lines, "discount amount")
    body: dict[str, Any] = {
        "id": order_id,
        "name": _first(lines, "name"),
        "email": _first(lines, "email") or None,
        "phone": _unquoted(_first(lines, "phone")) or None,
        "currency": currency,
        "total_price": _first(lines, "total"),
        "subtotal_price": _first(lines, "subtotal") or None,
        "total_discounts": discount or None,
        # One code: the discount is its amount; several: the split is not in the export.
        "discount_codes": [
            {"code": code, **({"amount": discount} if len(codes) == 1 else {})} for code in codes
        ],
        "financial_status": _first(lines, "financial status") or None,
        "buyer_accepts_marketing": _first(lines, "accepts marketing") or None,
        "source_name": _first(lines, "source") or None,
        "created_at": stamp(_first(lines, "created at")),
        "processed_at": stamp(_first(lines, "paid at")) or None,
        "cancelled_at": stamp(_first(lines, "cancelled at")) or None,
        "billing_address": _address(lines, "billing"),
        "shipping_address": _address(lines, "shipping"),
        "line_items": [_line(row) for row in lines if any(_cell(row, c) for c in _LINE_COLUMNS)],
        "refunds": _refunds(order_id, lines, currency),
    }
    return {key: value for key, value in body.items() if value not in (None, "")}
