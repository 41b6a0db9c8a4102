"""Bulk import: a file's records published to ``orders.raw`` for the same ingestor as webhooks.

Formats (docs/import.md): orders as Shopify order JSON / JSONL, the generic layout as CSV or
JSONL, or Shopify's admin order export CSV; refunds and customers as Shopify's REST JSON / JSONL
or their generic layouts (CSV or JSONL); helpdesk tickets and checkouts as JSONL; any of them
gzip-compressed (``.gz``). CSV layouts are in ``layouts.py``. The file as a whole is checked
before anything is published (``file_check.py``, re-exported here). The records themselves are
not validated here: the ingestor validates every record the same way, whatever its edge.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import IO, Any

from services.ingestor import layouts
from services.ingestor.file_check import (
    ImportInputError,
    Ticker,
    check_file,
    check_text_file,
    csv_rows,
    document,
    is_csv,
    is_jsonl,
    items_of,
    leading_lines,
    loads,
    open_text,
    page_items,
    record_unit,
)
from services.ingestor.layouts import LayoutError, Record, customer_group
from shared.bus.producer import Publisher, partition_keys
from shared.bus.topics import ORDERS_RAW
from shared.messages import MAX_RAW_BODY_BYTES, RawBatch, RawReceived
from shared.shops import InvalidShopDomain, normalize_shop_domain

KINDS = ("orders", "refunds", "customers", "tickets", "checkouts")
# Records per ``RawBatch`` message, and the body text one may carry. 200 makes the per-message
# work (fetch, envelope, handled-id bookkeeping) a small share of each record's; 512 KiB of
# bodies (~90 Shopify orders, ~1,500 generic rows) stays under Apache Kafka's default 1 MB
# message even before compression.
BATCH_RECORDS = 200
BATCH_BYTES = 512 << 10

__all__ = [
    "KINDS",
    "CheckedFile",
    "ImportInputError",
    "ImportStalledError",
    "Published",
    "check_file",
    "check_import",
    "check_text_file",
    "import_shop",
    "publish_batches",
    "publish_records",
    "read_records",
    "record_unit",
]


class ImportStalledError(RuntimeError):
    """The in-process ingestor stopped, or handled nothing for ``bulk.STALL_SECONDS``."""


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed its check: the shop it is imported for, its records and what one is."""

    shop: str
    records: int
    unit: str  # "order" for an export whose orders span lines, else "record"


def check_import(
    path: Path, kind: str, fmt: str, shop: str | None, setting: str, *, on_bytes: Ticker | None = None
) -> CheckedFile:
    """The file and shop checked before anything starts (``--shop`` else the ``SHOP`` setting);
    raises ``ImportInputError`` with one line. Apart from the import itself, so that a refusal
    costs neither the broker nor the ingestor's modules (``audiencesync import`` loads them after)."""
    stored_as = import_shop(shop, setting)
    records = check_file(path, kind, fmt, on_bytes=on_bytes)
    return CheckedFile(stored_as, records, record_unit(path, kind, fmt))


def import_shop(flag: str | None, setting: str) -> str:
    """The shop an import stores under: ``--shop``, normalized as the webhook edge does, else ``SHOP``.

    ``SHOP`` is taken as the webhook edge takes it for a delivery without a shop header (a plain
    name such as ``default`` included), except a domain spelled otherwise than Shopify sends it
    (``Demo.myshopify.com``): stored that way, every customer would be split from its webhooks.
    """
    if flag is not None:
        try:
            return normalize_shop_domain(flag)
        except InvalidShopDomain as exc:
            raise ImportInputError(f"--shop: {exc}") from None
    try:
        domain = normalize_shop_domain(setting)
    except InvalidShopDomain:
        return setting  # a name, not a domain: webhooks without a shop header use it the same way
    if domain != setting:
        raise ImportInputError(f"SHOP: write {setting!r} as Shopify sends it: {domain}")
    return setting


def _json_records(handle: IO[str], kind: str) -> Iterator[bytes | dict[str, Any]]:
    """JSONL lines as bytes (never re-encoded); a whole JSON document's records as decoded values."""
    head = leading_lines(handle)
    if is_jsonl(head[-1], kind):
        yield from _lines(chain((head[-1],), handle), kind)
        return
    text = "".join(head) + handle.read()
    doc = document(text)
    if doc is None:  # JSONL whose first line is a page of records, or broken (dead-lettered alone)
        yield from _lines(text.splitlines(), kind)
        return
    yield from items_of(doc, kind)


def _lines(lines: Iterable[str], kind: str) -> Iterator[bytes | dict[str, Any]]:
    """JSON Lines records: a line as its bytes, or a page line's records (``page_items``)."""
    for line in lines:
        if line.strip():
            items = page_items(line, kind)
            if items is None:
                yield line.rstrip("\r\n").encode("utf-8")
            else:
                yield from items


def _field(record: bytes | dict[str, Any], *names: str) -> str | None:
    if isinstance(record, bytes):
        try:
            record = loads(record)
        except ValueError:
            return None
    if not isinstance(record, dict):
        return None
    for name in names:
        if record.get(name) not in (None, ""):
            return str(record[name])
    return None


def read_records(path: Path, kind: str, shop: str, fmt: str = "auto") -> Iterator[Record]:
    """Records of ``path`` in file order, with their raw topic and key (``check_file`` it first)."""
    with open_text(path) as handle:
        if is_csv(path):
            rows = csv_rows(handle)
            header = layouts.header_names(next(rows, []))
            try:
                layout = layouts.choose(header, kind, fmt)
            except LayoutError as exc:
                raise ImportInputError(f"{path}: {exc}") from None
            yield from layouts.records(header, rows, layout, shop)
            return
        for raw in _json_records(handle, kind):
            body = raw if isinstance(raw, bytes) else json.dumps(raw, ensure_ascii=False).encode()
            yield _json_record(raw, body, kind, shop, fmt)


def _json_record(raw: bytes | dict[str, Any], body: bytes, kind: str, shop: str, fmt: str) -> Record:
    """A JSON record's topic and key: Shopify's REST shape or a generic layout (``fmt``, else its fields)."""
    if isinstance(raw, bytes):
        try:
            raw = loads(raw)  # once, for every field read below
        except ValueError:
            raw = {}
    record = _json_topic_and_key(raw, body, kind, shop, fmt)
    return replace(record, group=_json_group(raw, kind, record.topic))


def _json_group(raw: object, kind: str, topic: str) -> str:
    """The customer a JSON record belongs to (``Record.group``), where it says so plainly."""
    if not isinstance(raw, dict) or kind not in ("orders", "customers"):
        return ""
    if topic in ("import/generic", "import/customers"):
        return customer_group(raw.get("customer_id"), raw.get("email"))
    if kind == "customers":
        return customer_group(raw.get("id"), raw.get("email"))
    customer = raw.get("customer")
    customer_id = customer.get("id") if isinstance(customer, dict) else None
    return customer_group(customer_id, raw.get("email") or raw.get("contact_email"))


def _json_topic_and_key(raw: Any, body: bytes, kind: str, shop: str, fmt: str) -> Record:
    if kind == "tickets":
        return Record("import/tickets", f"{shop}/ticket/{_field(raw, 'id', 'ticket_id') or ''}", body)
    if kind == "checkouts":
        return Record("checkouts/create", f"{shop}/checkout/{_field(raw, 'token', 'id') or ''}", body)
    if kind == "refunds":  # keyed by its order: a refund follows the order on its partition
        generic = fmt == "generic" or (fmt == "auto" and _field(raw, "refund_id") is not None)
        topic = "import/refunds" if generic else "refunds/create"
        return Record(topic, f"{shop}/{_field(raw, 'order_id') or ''}", body)
    if kind == "customers":
        generic = fmt == "generic" or (
            fmt == "auto" and _field(raw, "id") is None and _field(raw, "customer_id", "email") is not None
        )
        topic = "import/customers" if generic else "customers/update"
        return Record(topic, f"{shop}/customer/{_field(raw, 'customer_id' if generic else 'id') or ''}", body)
    generic = fmt == "generic" or (
        fmt == "auto" and _field(raw, "order_id") is not None and _field(raw, "line_items") is None
    )
    order_id = _field(raw, "order_id") if generic else _field(raw, "id")
    return Record("import/generic" if generic else "import/shopify", f"{shop}/{order_id or ''}", body)


def publish_records(publisher: Publisher, records: Iterator[Record], shop: str) -> Generator[str, None, None]:
    """Publish each record in a message of its own; yields the envelope ids (to track what was stored).

    ``publish_batches`` sends the same records several to a message, which ingests faster.
    """
    now = datetime.now(UTC)
    for record in records:
        raw = RawReceived(source="import", topic=record.topic, shop=shop, body=record.body, received_at=now)
        envelope = raw.to_envelope(record.key)
        publisher.publish(ORDERS_RAW, envelope)
        yield envelope.id


def _sendable(body: bytes) -> str:
    """A record's body as text that fits a broker message (an import reads its file as UTF-8).

    A record over ``MAX_RAW_BODY_BYTES`` (a 9 MB JSON line) is cut just past the cap: the ingestor
    refuses it as ``too_large`` on its length alone, as the webhook edge answers 413, and whole it
    would not fit a broker message (publishing failed the whole import).
    """
    if len(body) > MAX_RAW_BODY_BYTES:
        body = body[: MAX_RAW_BODY_BYTES + 4]  # still over the cap once a cut character is dropped
        return body.decode("utf-8", "ignore")
    return body.decode("utf-8")


@dataclass(frozen=True)
class Published:
    """One ``RawBatch`` message sent: its envelope id and how many records it carries."""

    envelope_id: str
    records: int


def publish_batches(
    publisher: Publisher, records: Iterator[Record], shop: str, *, first: int = 0
) -> Generator[Published, None, None]:
    """Publish records together in ``RawBatch`` messages; yields each message sent.

    Records are gathered per partition of ``orders.raw``, a customer's always in the same one
    (``Record.group``; a record naming none goes by its key), so with several ingestors one
    customer is written by one of them, in file order, and none waits on another's row locks.
    The records read up to ``first`` are sent as soon as it is reached (an import's probe).
    """
    now = datetime.now(UTC)
    keys = partition_keys(publisher.partitions(ORDERS_RAW))
    open_batches: dict[int, tuple[list[tuple[str, str, str]], list[int]]] = {}

    def send(partition: int) -> Published:
        batch, _ = open_batches.pop(partition)
        envelope = RawBatch(shop=shop, received_at=now, records=tuple(batch)).to_envelope(keys[partition])
        publisher.publish(ORDERS_RAW, envelope)
        return Published(envelope.id, len(batch))

    for read, record in enumerate(records, start=1):
        body = _sendable(record.body)
        partition = zlib.crc32((record.group or record.key).encode()) % len(keys)
        batch, size = open_batches.setdefault(partition, ([], [0]))
        if batch and (len(batch) >= BATCH_RECORDS or size[0] + len(body) > BATCH_BYTES):
            yield send(partition)
            batch, size = open_batches.setdefault(partition, ([], [0]))
        batch.append((record.topic, record.key, body))
        size[0] += len(body)
        if read == first:
            for waiting in sorted(open_batches):
                yield send(waiting)
    for waiting in sorted(open_batches):
        yield send(waiting)
