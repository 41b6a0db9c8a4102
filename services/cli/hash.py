"""``audiencesync hash``: normalize and hash customer identifiers for one ad platform.

Two modes:

* JSON lines: reads ``{"field": "...", "value": "...", "country": "US"}`` per line on stdin and
  writes one line per input, in order: ``{"field", "normalized", "sha256"}`` (``sha256`` null
  for fields the platform takes unhashed) or ``{"field", "error"}`` with a reason code.
* ``--csv IN --out OUT``: turns a customer CSV into the platform's upload file, with a progress
  bar and a summary of what was sent and rejected on stderr.

No raw value is ever printed to stderr or logged. Exit status: 0 when every input was read
(rejected values are results, not failures), 1 when a JSON line was malformed or named an
unknown field, 2 for usage or file errors.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from shared.config import Settings

# The Platform values, spelled out so that registering the command imports nothing heavy.
PLATFORMS = ("meta", "google-ads", "google-dm")
CHUNK_ROWS = 5_000
# Errors about the line itself rather than the value in it; they make the exit status 1.
_MALFORMED = frozenset({"invalid_json", "invalid_line", "invalid_country", "unknown_field"})


def register(subparsers: Any) -> None:
    """Add ``hash`` to the ``audiencesync`` parser."""
    parser = subparsers.add_parser(
        "hash",
        help="normalize and hash identifiers for Meta or Google",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--platform", required=True, choices=PLATFORMS)
    parser.add_argument("--csv", metavar="IN", type=Path, help="customer CSV to convert")
    parser.add_argument("--out", metavar="OUT", type=Path, help="upload file to write")
    parser.add_argument("--country", metavar="CC", help="country for inputs that carry none (code or name)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``audiencesync hash``; returns the exit status."""
    from shared.identity import Platform

    platform = Platform(args.platform)
    if args.csv is None and args.out is None:
        return hash_json_lines(platform, sys.stdin, sys.stdout, args.country)
    if args.csv is None or args.out is None:
        print("audiencesync hash: --csv and --out go together", file=sys.stderr)
        return 2
    return hash_csv(platform, args.csv, args.out, args.country)


def hash_json_lines(
    platform: Any, lines: Iterable[str], out: IO[str], default_country: str | None = None
) -> int:
    """One output line per non-blank input line, in order; 1 if any line was malformed."""
    from shared.log import get_logger

    counts: Counter[str] = Counter()
    for line in lines:
        if not line.strip():
            continue
        result = _hash_line(platform, line, default_country)
        counts["error" if "error" in result else "hashed"] += 1
        if result.get("error") in _MALFORMED:
            counts["malformed"] += 1
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    get_logger("audiencesync.hash").info("hash.lines_done", platform=str(platform), **counts)
    return 1 if counts["malformed"] else 0


def _hash_line(platform: Any, line: str, default_country: str | None) -> dict[str, Any]:
    from shared.identity import Normalized, UnknownFieldError, normalize

    try:
        item = json.loads(line)
    except ValueError:
        return {"field": None, "error": "invalid_json"}
    if not isinstance(item, dict) or not isinstance(item.get("field"), str):
        return {"field": None, "error": "invalid_line"}
    field: str = item["field"]
    country = item.get("country") or default_country
    if country is not None and not isinstance(country, str):
        return {"field": field, "error": "invalid_country"}
    try:
        result = normalize(platform, field, item.get("value"), country=country)
    except UnknownFieldError:
        return {"field": field, "error": "unknown_field"}
    if isinstance(result, Normalized):
        return {"field": field, "normalized": result.normalized, "sha256": result.sha256}
    return {"field": field, "error": str(result.reason)}


def hash_csv(platform: Any, source: Path, target: Path, default_country: str | None) -> int:
    """Convert a customer CSV into ``platform``'s upload file; 2 on unreadable or unusable input."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from shared.identity.customer_file import convert, plan

    console = Console(stderr=True)
    summary = _Summary()
    try:
        total = _count_rows(source)
        with source.open(encoding="utf-8-sig", newline="") as infile:
            reader = csv.reader(infile)
            header = next(reader, None)
            if header is None:
                console.print(f"audiencesync hash: {source} is empty")
                return 2
            file_plan = plan(platform, header, default_country=default_country is not None)
            if not file_plan.columns:
                console.print(f"audiencesync hash: no column of {source} is an identifier {platform} takes")
                return 2
            with target.open("w", encoding="utf-8", newline="") as outfile:
                writer = csv.writer(outfile)
                writer.writerow(file_plan.header)
                columns = (TextColumn("hashing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
                with Progress(*columns, console=console, transient=True) as progress:
                    task = progress.add_task("rows", total=total)
                    for chunk in _chunks(reader, CHUNK_ROWS):
                        converted = convert(platform, file_plan, chunk, default_country)
                        writer.writerows(converted.rows)
                        summary.add(len(chunk), converted)
                        progress.advance(task, len(chunk))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        console.print(f"audiencesync hash: cannot convert {source}: {type(exc).__name__}")
        return 2
    summary.show(console, file_plan.ignored, target)
    return 0


class _Summary:
    """Counts across chunks, shown once at the end (never any value)."""

    def __init__(self) -> None:
        self.rows = 0
        self.dropped = 0
        self.sent: Counter[str] = Counter()
        self.rejected: Counter[tuple[str, str]] = Counter()

    def add(self, rows: int, converted: Any) -> None:
        self.rows += rows
        self.dropped += converted.dropped
        self.sent.update(converted.sent)
        self.rejected.update(converted.rejected)

    def show(self, console: Any, ignored: Iterable[str], target: Path) -> None:
        from rich.table import Table

        from shared.log import get_logger

        table = Table(title=f"{self.rows - self.dropped} of {self.rows} rows written to {target}")
        for title in ("field", "sent", "not sent: reason x count"):
            table.add_column(title)
        for field in dict.fromkeys([*self.sent, *(f for f, _ in self.rejected)]):
            reasons = ", ".join(f"{r} x{n}" for (f, r), n in sorted(self.rejected.items()) if f == field)
            table.add_row(field, str(self.sent[field]), reasons)
        console.print(table)
        if ignored:
            console.print("ignored columns: " + ", ".join(ignored))
        get_logger("audiencesync.hash").info(
            "hash.csv_done", rows=self.rows, written=self.rows - self.dropped, dropped=self.dropped
        )


def _count_rows(source: Path) -> int:
    with source.open(encoding="utf-8-sig", newline="") as infile:
        return max(sum(1 for _ in csv.reader(infile)) - 1, 0)


def _chunks(rows: Iterator[list[str]], size: int) -> Iterator[list[list[str]]]:
    chunk: list[list[str]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
