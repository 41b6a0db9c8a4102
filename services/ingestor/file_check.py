"""The file check of an import: a file read whole before anything starts, and what it holds.

A file must exist, be a readable regular file, be UTF-8 (a byte-order mark is fine), hold records
in a format we read (JSON, JSON Lines, or CSV when its name ends in ``.csv``; ``.gz`` for any),
and a CSV's header must have its layout's required columns (``layouts.py``). Each problem is one
``ImportInputError`` line, raised before any broker starts or anything is stored; the count of
records it returns drives the progress bar and the summary.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from services.ingestor import layouts
from services.ingestor.layouts import LayoutError
from shared.messages import MAX_RAW_BODY_BYTES

Ticker = Callable[[int, int], None]  # (bytes of the file on disk read so far, its size)
_TICK_LINES = 20_000  # lines between two reports of how far the file check has read
_SAMPLE_LINES = 20  # lines tried before a file whose first line is not JSON is called "not JSON"


class ImportInputError(Exception):
    """An import that cannot start: the file or the shop is not usable. The message is one line."""


def loads(text: str | bytes) -> Any:
    """``json.loads``, with JSON nested deeper than the parser's recursion limit as a ``ValueError``.

    ``json.loads`` raises ``RecursionError`` for ``[[[[...`` a few thousand levels deep; read as
    a broken record, such a line is dead-lettered alone (``too_deep``) instead of ending the import.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def open_text(path: Path) -> IO[str]:
    """``path`` as UTF-8 text, gunzipped when its name ends in ``.gz``, without a leading BOM."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")  # a spreadsheet export may start with a BOM


def csv_rows(handle: IO[str]) -> Any:
    """A ``csv.reader`` whose cells may be as long as a record may be (``MAX_RAW_BODY_BYTES``).

    The module's default of 128 KiB per cell refused a whole order export over one long ``Notes``
    or ``Note Attributes`` cell, which the import does not even read.
    """
    if csv.field_size_limit() < MAX_RAW_BODY_BYTES:
        csv.field_size_limit(MAX_RAW_BODY_BYTES)
    return csv.reader(handle)


def is_csv(path: Path) -> bool:
    """Whether ``path`` is read as CSV: its name ends in ``.csv`` (or ``.csv.gz``)."""
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
    if fmt == layouts.SHOPIFY_EXPORT and (kind != "orders" or not is_csv(path)):
        raise ImportInputError(f"{path}: --format shopify-csv reads Shopify's order export, a .csv of orders")
    with _reading(path):
        if is_csv(path):
            return _check_csv(path, kind, fmt, on_bytes)
        return _check_json(path, kind, on_bytes)
    raise AssertionError("unreachable")  # pragma: no cover - _reading only re-raises


def record_unit(path: Path, kind: str, fmt: str = "auto") -> str:
    """What one record of a checked file is, for the summary: an export's orders span lines."""
    if not is_csv(path):
        return "record"
    with open_text(path) as handle:
        header = layouts.header_names(next(csv_rows(handle), []))
    try:
        return "order" if layouts.choose(header, kind, fmt) == layouts.SHOPIFY_EXPORT else "record"
    except LayoutError:
        return "record"


def check_text_file(path: Path) -> None:
    """Raise ``ImportInputError`` unless ``path`` is a readable, non-empty UTF-8 regular file."""
    _check_path(path)
    with _reading(path), open_text(path) as handle:
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
    with path.open("rb") as handle:
        _check_magic(path, handle.read(4))


# Files that are not text, told by their first bytes, with what to do (the UTF-8 check would only
# say "line 1 is not UTF-8"): a compressed file without ``.gz``, a workbook, Excel's "Unicode text".
_MAGIC = (
    (b"\x1f\x8b", "gzip-compressed but its name does not end in .gz; name it {name}.gz"),
    (b"PK\x03\x04", "a zip archive (an Excel workbook?), not text; export it as CSV UTF-8"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode text'); save it as UTF-8 (CSV UTF-8)"),
    (b"\xfe\xff", "UTF-16 text; save it as UTF-8"),
)


def _check_magic(path: Path, head: bytes) -> None:
    """Refuse a file whose first bytes say it is not (uncompressed, when so named) UTF-8 text."""
    if path.suffix == ".gz":
        if not head.startswith(b"\x1f\x8b"):
            raise ImportInputError(f"{path}: not a gzip file, though its name ends in .gz")
        return
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise ImportInputError(f"{path}: {what.format(name=path.name)}")


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
    with open_text(path) as handle:
        reader = csv_rows(handle)
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
            twice = layouts.repeated(names, layout)
            if twice:
                spelled = " and ".join(repr(first[i].strip()) for i, n in enumerate(names) if n == twice[0])
                raise ImportInputError(
                    f"{path}: the header has {spelled}, all read as {twice[0]}; keep one of them"
                )
            count = layouts.count(names, _Ticking(reader, handle, on_bytes), layout)
        except LayoutError as exc:
            raise ImportInputError(f"{path}: {exc}") from None
    if count == 0:
        raise ImportInputError(f"{path}: a header but no rows")
    return count


def _parses(line: str) -> bool:
    try:
        loads(line)
    except ValueError:
        return False
    return True


def _too_deep(text: str) -> bool:
    """Whether ``text`` fails to parse only because it nests deeper than the parser can follow."""
    try:
        json.loads(text)
    except RecursionError:
        return True
    except ValueError:
        return False
    return False


def _check_json(path: Path, kind: str, on_bytes: Ticker | None) -> int:
    with open_text(path) as handle:
        head = leading_lines(handle)
        if not head[-1].strip():
            raise ImportInputError(f"{path}: only blank lines, no records")
        if is_jsonl(head[-1], kind):
            rest = _Ticking(iter(handle), handle, on_bytes)
            return 1 + sum(_records_in_line(line, kind) for line in rest if line.strip())
        text = "".join(head) + handle.read()
    doc = document(text)
    if doc is not None:
        count = len(items_of(doc, kind))
        if count == 0:
            raise ImportInputError(f"{path}: a JSON document with no records in it")
        return count
    lines = [line for line in text.splitlines() if line.strip()]
    if not any(_parses(line) for line in lines[: 1 + _SAMPLE_LINES]):
        if _too_deep(text):
            raise ImportInputError(
                f"{path}: JSON nested too deeply to read (arrays or objects in thousands of levels)"
            )
        raise ImportInputError(f"{path}: not JSON or JSON Lines (a CSV file's name must end in .csv)")
    # JSON Lines whose first line is a page of records, or is broken (dead-lettered alone)
    count = sum(_records_in_line(line, kind) for line in lines)
    if count == 0:
        raise ImportInputError(f"{path}: pages of JSON with no records in them")
    return count


def page_items(line: str, kind: str) -> list[Any] | None:
    """The records of a JSON Lines line that is a whole page (``{"orders": [...]}``), else None.

    A script saving each page of Shopify's REST API as it comes writes one page a line; read as
    one record, each page of 250 orders was refused as ``missing at id``. Only a line starting
    with the page's key is decoded here: record lines stay as they are, never parsed twice.
    """
    if not line.lstrip().startswith(f'{{"{kind}"'):
        return None
    try:
        value = loads(line)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get(kind), list):
        items: list[Any] = value[kind]
        return items
    return None


def _records_in_line(line: str, kind: str) -> int:
    items = page_items(line, kind)
    return 1 if items is None else len(items)


def is_jsonl(first: str, kind: str) -> bool:
    """Whether a file whose first non-blank line is ``first`` is JSON Lines (one record a line).

    A first line that is a whole list (``[...]`` or ``{"orders": [...]}``) starts a document.
    """
    try:
        value = loads(first)
    except ValueError:
        return False
    return not (isinstance(value, list) or (isinstance(value, dict) and isinstance(value.get(kind), list)))


def leading_lines(handle: IO[str]) -> list[str]:
    """Lines up to and including the first non-blank one (``[""]`` for a blank file)."""
    head: list[str] = []
    for line in handle:
        head.append(line)
        if line.strip():
            break
    return head or [""]


def document(text: str) -> Any | None:
    """``text`` as one JSON document, or None when it is not one (JSON Lines, or broken)."""
    try:
        return loads(text)
    except ValueError:
        return None


def items_of(doc: Any, kind: str) -> list[Any]:
    """A JSON document's records: a list, ``{"orders": [...]}`` as Shopify's REST API returns (or
    ``refunds``, ``customers``, ``tickets``, ``checkouts``), or one record."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get(kind), list):
        items: list[Any] = doc[kind]
        return items
    return [doc]
