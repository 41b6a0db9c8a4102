"""Bulk import: a file's records published to ``orders.raw`` for the same ingestor as webhooks.

Formats: Shopify order JSON / JSONL, the generic layout as CSV or JSONL (docs/import.md),
helpdesk tickets and checkouts as JSONL; any of them gzip-compressed (``.gz``). Records are
not validated here: the ingestor validates every record the same way, whatever its edge.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from shared.bus.producer import Publisher
from shared.bus.topics import ORDERS_RAW
from shared.messages import RawReceived

KINDS = ("orders", "tickets", "checkouts")


@dataclass(frozen=True)
class Record:
    """One record as bytes, with the raw topic it belongs to and its Kafka key."""

    topic: str
    key: str
    body: bytes


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")  # a spreadsheet export may start with a BOM


def _stem_suffix(path: Path) -> str:
    return Path(path.stem).suffix if path.suffix == ".gz" else path.suffix


def _json_records(handle: IO[str]) -> Iterator[bytes | dict[str, Any]]:
    """JSONL lines as bytes (never re-encoded); a whole JSON document (an order, a list, or
    ``{"orders": [...]}`` as Shopify's REST API returns) as dicts."""
    first = handle.readline()
    try:
        json.loads(first)
        jsonl = first.strip() != ""
    except ValueError:
        jsonl = False
    if not jsonl:
        text = first + handle.read()
        try:
            doc = json.loads(text)
        except ValueError:  # JSONL whose first line is broken: each line is dead-lettered alone
            yield from (line.encode("utf-8") for line in text.splitlines() if line.strip())
            return
        items = doc if isinstance(doc, list) else doc.get("orders", [doc]) if isinstance(doc, dict) else [doc]
        yield from items
        return
    for line in (first, *handle):
        if line.strip():
            yield line.rstrip("\r\n").encode("utf-8")


def _field(record: bytes | dict[str, Any], *names: str) -> str | None:
    if isinstance(record, bytes):
        try:
            record = json.loads(record)
        except ValueError:
            return None
    if not isinstance(record, dict):
        return None
    for name in names:
        if record.get(name) not in (None, ""):
            return str(record[name])
    return None


def read_records(path: Path, kind: str, shop: str) -> Iterator[Record]:
    """Records of ``path`` in file order, with their raw topic and key."""
    with _open(path) as handle:
        if _stem_suffix(path) == ".csv":
            if kind != "orders":
                raise ValueError(f"CSV is only supported for orders, not {kind}")
            for row in csv.DictReader(handle):
                body = json.dumps(row, ensure_ascii=False).encode()
                yield Record("import/generic", f"{shop}/{row.get('order_id') or ''}", body)
            return
        for raw in _json_records(handle):
            body = raw if isinstance(raw, bytes) else json.dumps(raw, ensure_ascii=False).encode()
            if kind == "tickets":
                yield Record("import/tickets", f"{shop}/ticket/{_field(raw, 'id', 'ticket_id') or ''}", body)
            elif kind == "checkouts":
                yield Record("checkouts/create", f"{shop}/checkout/{_field(raw, 'token', 'id') or ''}", body)
            else:
                generic = _field(raw, "order_id") is not None and _field(raw, "line_items") is None
                order_id = _field(raw, "order_id") if generic else _field(raw, "id")
                yield Record(
                    "import/generic" if generic else "import/shopify", f"{shop}/{order_id or ''}", body
                )


def publish_records(publisher: Publisher, records: Iterator[Record], shop: str) -> Iterator[str]:
    """Publish each record; yields the envelope ids (to track what was stored)."""
    now = datetime.now(UTC)
    for record in records:
        raw = RawReceived(source="import", topic=record.topic, shop=shop, body=record.body, received_at=now)
        envelope = raw.to_envelope(record.key)
        publisher.publish(ORDERS_RAW, envelope)
        yield envelope.id
