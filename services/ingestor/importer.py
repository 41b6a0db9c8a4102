"""Bulk import: a file's records published to ``orders.raw`` for the same ingestor as webhooks.

Formats (docs/import.md): orders as Shopify order JSON / JSONL, the generic layout as CSV or
JSONL, or Shopify's admin order export CSV; refunds and customers as Shopify's REST JSON / JSONL
or their generic layouts (CSV or JSONL); helpdesk tickets and checkouts as JSONL; any of them
gzip-compressed (``.gz``). CSV layouts are in ``layouts.py``. The file as a
whole is checked before anything is published (``check_file``): it exists, is a readable regular
file, is UTF-8, holds records in a format we read, and a CSV's header has the layout's required
columns. The records themselves are not validated here: the ingestor validates every record the
same way, whatever its edge.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import stat
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from services.ingestor import layouts
from services.ingestor.layouts import LayoutError, Record
from shared.bus.producer import Publisher
from shared.bus.topics import ORDERS_RAW
from shared.messages import RawReceived
from shared.shops import InvalidShopDomain, normalize_shop_domain

KINDS = ("orders", "refunds", "customers", "tickets", "checkouts")
Ticker = Callable[[int, int], None]  # (bytes of the file on disk read so far, its size)
_TICK_LINES = 20_000  # lines between two reports of how far the file check has read
_SAMPLE_LINES = 20  # lines tried before a file whose first line is not JSON is called "not JSON"


class ImportInputError(Exception):
    """An import that cannot start: the file or the shop is not usable. The message is one line."""


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


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")  # a spreadsheet export may start with a BOM


def _is_csv(path: Path) -> bool:
    return (Path(path.stem).suffix if path.suffix == ".gz" else path.suffix).lower() == ".csv"


def check_file(path: Path, kind: str, fmt: str = "auto", *, on_bytes: Ticker | None = None) -> int:
    """The number of records in ``path``; raises ``ImportInputError`` saying what is wrong with it.

    ``fmt``: ``auto`` (from a CSV's header or each JSON record's fields), ``shopify`` (Shopify's
    REST JSON), ``generic`` (the generic layouts) or ``shopify-csv`` (Shopify's order export).

    Reads the whole file once (every byte must be UTF-8, and the count drives the progress bar),
    before any broker starts or anything is published. ``on_bytes`` hears how far the check has
    read every ``_TICK_LINES`` lines (a file shorter than that is checked before a bar would show).
    """
    _check_path(path)
    if fmt == layouts.SHOPIFY_EXPORT and (kind != "orders" or not _is_csv(path)):
        raise ImportInputError(f"{path}: --format shopify-csv reads Shopify's order export, a .csv of orders")
    with _reading(path):
        if _is_csv(path):
            return _check_csv(path, kind, fmt, on_bytes)
        return _check_json(path, kind, on_bytes)
    raise AssertionError("unreachable")  # pragma: no cover - _reading only re-raises


def record_unit(path: Path, kind: str, fmt: str = "auto") -> str:
    """What one record of a checked file is, for the summary: an export's orders span lines."""
    if not _is_csv(path):
        return "record"
    with _open(path) as handle:
        header = layouts.header_names(next(csv.reader(handle), []))
    try:
        return "order" if layouts.choose(header, kind, fmt) == layouts.SHOPIFY_EXPORT else "record"
    except LayoutError:
        return "record"


def check_text_file(path: Path) -> None:
    """Raise ``ImportInputError`` unless ``path`` is a readable, non-empty UTF-8 regular file."""
    _check_path(path)
    with _reading(path), _open(path) as handle:
        while handle.read(1 << 20):
            pass


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Read errors of ``path`` as one ``ImportInputError`` line each."""
    try:
        yield
    except UnicodeDecodeError:
        where = _first_non_utf8_line(path)
        raise ImportInputError(f"{path}: line {where} is not UTF-8 text; save the file as UTF-8") from None
    except (gzip.BadGzipFile, zlib.error):
        raise ImportInputError(f"{path}: not a gzip file, though its name ends in .gz") from None
    except EOFError:
        raise ImportInputError(f"{path}: the gzip stream is cut short (an incomplete download?)") from None
    except csv.Error as exc:
        raise ImportInputError(f"{path}: not a CSV file we can read ({exc})") from None
    except OSError as exc:
        raise ImportInputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None


def _check_path(path: Path) -> None:
    try:
        mode = path.stat().st_mode
        if stat.S_ISREG(mode):
            path.open("rb").close()
    except (FileNotFoundError, NotADirectoryError):
        raise ImportInputError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImportInputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if stat.S_ISDIR(mode):
        raise ImportInputError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise ImportInputError(f"{path}: not a regular file (a pipe or device cannot be read twice)")
    if path.stat().st_size == 0:
        raise ImportInputError(f"{path}: the file is empty")


def _first_non_utf8_line(path: Path) -> int:
    """The 1-based line holding the first byte that is not UTF-8 (a newline is never inside one)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0  # pragma: no cover - only called after decoding failed


_LAYOUT_NAMES = {
    layouts.GENERIC_ORDERS: "the generic orders layout",
    layouts.SHOPIFY_EXPORT: "Shopify's order export",
    layouts.REFUNDS: "the refunds layout",
    layouts.CUSTOMERS: "the customers layout",
}


class _Ticking:
    """Lines (or CSV rows) as they come, telling ``on_bytes`` how far into the file they are."""

    def __init__(self, lines: Iterator[Any], handle: IO[str], on_bytes: Ticker | None) -> None:
        self.lines = lines
        self.on_bytes = on_bytes
        buffer = getattr(handle, "buffer", None)
        # The bytes on disk: a gzip file's compressed position (GzipFile keeps it as ``fileobj``).
        self.raw: Any = getattr(buffer, "fileobj", buffer)
        self.size = os.fstat(self.raw.fileno()).st_size if self.raw is not None else 0
        self.count = 0

    def __iter__(self) -> _Ticking:
        return self

    def __next__(self) -> Any:
        line = next(self.lines)
        self.count += 1
        if self.on_bytes is not None and self.raw is not None and self.count % _TICK_LINES == 0:
            self.on_bytes(self.raw.tell(), self.size)
        return line

    @property
    def line_num(self) -> int:
        """The CSV reader's line number (a quoted cell may span lines)."""
        return int(getattr(self.lines, "line_num", self.count))


def _check_csv(path: Path, kind: str, fmt: str, on_bytes: Ticker | None) -> int:
    with _open(path) as handle:
        reader = csv.reader(handle)
        first = next(reader, None)
        if first is None:
            raise ImportInputError(f"{path}: no header and no rows")
        header = layouts.header_names(first)
        try:
            layout = layouts.choose(header, kind, fmt)
            names = layouts.columns(header, layout)
            missing = layouts.missing(names, layout)
            if missing:
                hint = (
                    "; is it separated by ';' or tabs? save it comma-separated"
                    if len(first) == 1 and (";" in first[0] or "\t" in first[0])
                    else f" ({_LAYOUT_NAMES[layout]}: docs/import.md)"
                )
                raise ImportInputError(f"{path}: the header lacks {missing}{hint}")
            count = layouts.count(names, _Ticking(reader, handle, on_bytes), layout)
        except LayoutError as exc:
            raise ImportInputError(f"{path}: {exc}") from None
    if count == 0:
        raise ImportInputError(f"{path}: a header but no rows")
    return count


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _check_json(path: Path, kind: str, on_bytes: Ticker | None) -> int:
    with _open(path) as handle:
        head = _leading_lines(handle)
        if not head[-1].strip():
            raise ImportInputError(f"{path}: only blank lines, no records")
        if _is_jsonl(head[-1], kind):
            return 1 + sum(1 for line in _Ticking(iter(handle), handle, on_bytes) if line.strip())
        text = "".join(head) + handle.read()
    doc = _document(text)
    if doc is not None:
        count = len(_items(doc, kind))
        if count == 0:
            raise ImportInputError(f"{path}: a JSON document with no records in it")
        return count
    lines = [line for line in text.splitlines() if line.strip()]
    if not any(_parses(line) for line in lines[: 1 + _SAMPLE_LINES]):
        raise ImportInputError(f"{path}: not JSON or JSON Lines (a CSV file's name must end in .csv)")
    return len(lines)  # JSON Lines with a broken first line: each broken line is dead-lettered alone


def _is_jsonl(first: str, kind: str) -> bool:
    """Whether a file whose first non-blank line is ``first`` is JSON Lines (one record a line).

    A first line that is a whole list (``[...]`` or ``{"orders": [...]}``) starts a document.
    """
    try:
        value = json.loads(first)
    except ValueError:
        return False
    return not (isinstance(value, list) or (isinstance(value, dict) and isinstance(value.get(kind), list)))


def _leading_lines(handle: IO[str]) -> list[str]:
    """Lines up to and including the first non-blank one (``[""]`` for a blank file)."""
    head: list[str] = []
    for line in handle:
        head.append(line)
        if line.strip():
            break
    return head or [""]


def _document(text: str) -> Any | None:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _items(doc: Any, kind: str) -> list[Any]:
    """A JSON document's records: a list, ``{"orders": [...]}`` as Shopify's REST API returns (or
    ``tickets`` / ``checkouts``), or one record."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get(kind), list):
        items: list[Any] = doc[kind]
        return items
    return [doc]


def _json_records(handle: IO[str], kind: str) -> Iterator[bytes | dict[str, Any]]:
    """JSONL lines as bytes (never re-encoded); a whole JSON document's records as decoded values."""
    head = _leading_lines(handle)
    if _is_jsonl(head[-1], kind):
        for line in (head[-1], *handle):
            if line.strip():
                yield line.rstrip("\r\n").encode("utf-8")
        return
    text = "".join(head) + handle.read()
    doc = _document(text)
    if doc is None:  # JSONL whose first line is broken: each line is dead-lettered alone
        yield from (line.encode("utf-8") for line in text.splitlines() if line.strip())
        return
    yield from _items(doc, kind)


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


def read_records(path: Path, kind: str, shop: str, fmt: str = "auto") -> Iterator[Record]:
    """Records of ``path`` in file order, with their raw topic and key (``check_file`` it first)."""
    with _open(path) as handle:
        if _is_csv(path):
            rows = csv.reader(handle)
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
    """Publish each record; yields the envelope ids (to track what was stored)."""
    now = datetime.now(UTC)
    for record in records:
        raw = RawReceived(source="import", topic=record.topic, shop=shop, body=record.body, received_at=now)
        envelope = raw.to_envelope(record.key)
        publisher.publish(ORDERS_RAW, envelope)
        yield envelope.id
