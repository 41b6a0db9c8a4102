"""The CSV layouts an import reads: which one a header is, what it lacks, and its rows as records.

Orders: the generic layout (one order per row), or Shopify's admin "Export orders" CSV (one line
per line item; recognised by its header, or named with ``--format shopify-csv``), whose lines are
grouped back into orders. Refunds and customers: their generic layouts (Shopify's own customer
export is read as the customers layout, its column names translated). Every layout is in
docs/import.md. Records are published as they are; the ingestor validates each one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from services.ingestor.domain import customer_rows, generic, refund_rows, shopify_export

GENERIC_ORDERS, SHOPIFY_EXPORT, REFUNDS, CUSTOMERS = "generic", "shopify-csv", "refunds", "customers"
# The generic orders layout's required columns (docs/import.md), and the two that name the customer.
GENERIC_REQUIRED = ("order_id", "created_at", "currency", "gross")
GENERIC_CUSTOMER = ("customer_id", "email")
# Shopify's customer export (``customers_export.csv``) spelled as the customers layout.
_CUSTOMER_ALIASES = {
    "customer id": "customer_id",
    "first name": "first_name",
    "last name": "last_name",
    "accepts email marketing": "accepts_email_marketing",
    "accepts sms marketing": "accepts_sms_marketing",
    "city": "city",
    "default address city": "city",
    "province code": "region",
    "default address province code": "region",
    "zip": "postal_code",
    "default address zip": "postal_code",
    "country code": "country",
    "default address country code": "country",
}


# Columns of the flat layouts whose cells a spreadsheet-safe export may start with ``'``.
_QUOTED_COLUMNS = frozenset({"order_id", "customer_id", "refund_id", "phone", "postal_code"})


class LayoutError(ValueError):
    """A header no layout of this kind fits; the message is one line without the file name."""


@dataclass(frozen=True)
class Record:
    """One record as bytes, with the raw topic it belongs to and its Kafka key.

    ``group`` names the customer it belongs to when the file says so plainly (an id, else an
    email), "" otherwise: batches keep one customer's records on one partition, so two
    ingestors never write the same customer at once. It may hold an email: it is never
    published, only hashed in process to choose the batch.
    """

    topic: str
    key: str
    body: bytes
    group: str = ""


def customer_group(customer_id: object, email: object) -> str:
    """A record's ``group``: its customer's id, else its email (case aside), else "" (unknown)."""
    if customer_id not in (None, ""):
        return f"id:{customer_id}"
    if isinstance(email, str) and email.strip():
        return f"email:{email.strip().lower()}"
    return ""


def header_names(row: list[str]) -> list[str]:
    """Column names as the layouts spell them: spreadsheets add spaces and capitals (`` Order_ID``)."""
    return [name.strip().lower() for name in row]


def choose(header: list[str], kind: str, fmt: str) -> str:
    """The layout of a CSV of ``kind`` with this (normalized) header; ``fmt`` may name it."""
    if kind == "orders":
        if fmt == SHOPIFY_EXPORT or (fmt == "auto" and shopify_export.is_export(header)):
            return SHOPIFY_EXPORT
        if fmt in ("auto", GENERIC_ORDERS):
            return GENERIC_ORDERS
        raise LayoutError(f"--format {fmt} is JSON; a CSV of orders is generic or shopify-csv")
    if kind in (REFUNDS, CUSTOMERS):
        if fmt not in ("auto", GENERIC_ORDERS):
            raise LayoutError(f"--format {fmt} does not read a CSV of {kind}; its layout is generic")
        return kind
    raise LayoutError(f"CSV is read for orders, refunds and customers; import {kind} from JSON Lines")


def columns(header: list[str], layout: str) -> list[str]:
    """The header as the layout names its columns (Shopify's customer export translated)."""
    if layout != CUSTOMERS:
        return header
    return [_CUSTOMER_ALIASES.get(name, name) for name in header]


def _read_columns(layout: str) -> frozenset[str]:
    """The columns a flat layout reads (its schema's fields)."""
    schema = {
        GENERIC_ORDERS: generic.GENERIC_ROW,
        REFUNDS: refund_rows.REFUND_ROW,
        CUSTOMERS: customer_rows.CUSTOMER_ROW,
    }[layout]
    return frozenset(schema.fields)


def repeated(header: list[str], layout: str) -> list[str]:
    """Columns the layout reads that the (translated) header names twice.

    A row keeps the last cell of a repeated name, so ``Email`` and ``email`` (or ``Zip`` and
    ``Default Address Zip``) silently lost the first column's values, often the filled one.
    """
    if layout == SHOPIFY_EXPORT:  # the export's reader takes the columns it knows by position
        return []
    read = _read_columns(layout)
    counts = Counter(name for name in header if name in read)
    return [name for name, seen in counts.items() if seen > 1]


def missing(header: list[str], layout: str) -> str:
    """Required columns of ``layout`` absent from ``header`` (translated), in words ("" when none)."""
    if layout == SHOPIFY_EXPORT:
        lacking = shopify_export.missing_columns(header)
    elif layout == REFUNDS:
        lacking = [name for name in refund_rows.REQUIRED if name not in header]
    elif layout == CUSTOMERS:
        lacking = (
            []
            if any(n in header for n in customer_rows.REQUIRED_ANY)
            else [" or ".join(customer_rows.REQUIRED_ANY)]
        )
    else:
        lacking = [name for name in GENERIC_REQUIRED if name not in header]
        if not any(name in header for name in GENERIC_CUSTOMER):
            lacking.append(" or ".join(GENERIC_CUSTOMER))
    if not lacking:
        return ""
    return lacking[0] if len(lacking) == 1 else f"{', '.join(lacking[:-1])} and {lacking[-1]}"


def has_values(row: list[str]) -> bool:
    """False for the ``,,,,`` rows that trail many spreadsheet exports."""
    return any(cell.strip() for cell in row)


def count(header: list[str], rows: Iterable[list[str]], layout: str) -> int:
    """Records in ``rows``: one per row, or per order of an export (whose lines must stay together)."""
    if layout != SHOPIFY_EXPORT:
        return sum(1 for row in rows if has_values(row))
    at = header.index("name")
    seen: set[str] = set()
    current: str | None = None
    for number, row in enumerate(rows, start=2):
        if not has_values(row):
            continue
        line = getattr(rows, "line_num", number)  # a csv.reader's: a quoted Notes cell spans lines
        name = row[at].strip() if at < len(row) else ""
        if name != current:
            if name in seen:
                raise LayoutError(
                    f"line {line}: order {name} continues after other orders; keep each order's"
                    " lines together as Shopify exports them (sort by Name)"
                )
            seen.add(name)
            current = name
    return len(seen)


def _unquoted_cells(names: list[str], rows: Iterable[list[str]]) -> Iterator[list[str]]:
    """Rows with the ``'`` a spreadsheet-safe export puts before ids, phones and zips removed.

    Shopify's customer export writes ``'7002958422226``, ``'+16135550135`` and ``'M5C 1N7`` so a
    spreadsheet keeps them as text; read as written, the id matched no order's customer id, the
    phone was dropped as invalid and the zip hashed with its quote.
    """
    quoted = [at for at, name in enumerate(names) if name in _QUOTED_COLUMNS]
    for row in rows:
        for at in quoted:
            if at < len(row) and row[at].startswith("'"):
                row[at] = row[at][1:]
        yield row


def records(header: list[str], rows: Iterable[list[str]], layout: str, shop: str) -> Iterator[Record]:
    """The rows of a checked CSV as records for the raw topic, in file order."""
    names = columns(header, layout)
    if layout != SHOPIFY_EXPORT:  # the export's own reader unquotes its zips and phones
        rows = _unquoted_cells(names, rows)
    dicts = (dict(zip(names, row, strict=False)) for row in rows if has_values(row))
    if layout == SHOPIFY_EXPORT:
        for lines in shopify_export.group_orders(dicts):
            order = shopify_export.order_body(lines)
            group = customer_group(None, order.get("email"))
            yield Record("import/shopify", f"{shop}/{order.get('id', '')}", _json(order), group)
        return
    for fields in dicts:
        if layout == REFUNDS:  # keyed by its order: a refund follows the order on its partition
            yield Record("import/refunds", f"{shop}/{fields.get('order_id') or ''}", _json(fields))
        else:
            group = customer_group(fields.get("customer_id"), fields.get("email"))
            if layout == CUSTOMERS:  # never the email: keys are not hashed
                key = f"{shop}/customer/{fields.get('customer_id') or ''}"
                yield Record("import/customers", key, _json(fields), group)
            else:
                yield Record("import/generic", f"{shop}/{fields.get('order_id') or ''}", _json(fields), group)


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()
