"""When an import should stop: (nearly) every record refused for one reason, and the fix to name.

A GBP shop importing into a USD base with no rates gets every order refused as ``no_rate``; going
on only fills the dead letters and ends with a success. The rule: once ``MIN_HANDLED`` records
have been handled (or the whole file, when it is shorter), an import whose refusals for one reason
code are ``SHARE`` or more of the records handled so far stops and exits non-zero, naming the
reason and its fix. A reason code groups its details: ``no_rate (GBP to USD)`` and ``no_rate
(EUR to USD)`` are one reason (no rates were loaded), and so are ``missing`` at any field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

MIN_HANDLED = 200  # enough records that one reason's share means the file, not a few bad rows
SHARE = 0.95  # a shop with 5 % bad rows still imports; one refused for a single reason does not

_RATES = "load rates with `audiencesync rates load FILE`"
_LAYOUT = "is this the right file for this import? (docs/import.md)"
_FIXES = {
    "unknown_currency": "currencies must be ISO 4217 codes such as EUR",
    # A phone alone passes validation but keys no customer (shared/identity/customer_key.py).
    "no_customer_identifier": "each record needs a customer id or a usable email (a phone alone"
    " is not enough)",
    "placeholder_email": "each record needs a customer id or a real email (not noemail@...)",
    "not_a_datetime": "dates must be ISO 8601 (2025-02-03 or 2025-02-03T10:00:00+01:00)",
    "not_a_decimal": "amounts must be plain decimals with a dot (1200.50)",
    "refund_without_order": "import the orders first",
    "too_many_line_items": "raise MAX_LINE_ITEMS if these orders are real",
    # A spreadsheet that opened the file rewrote 6101234560001 as 6.10123E+12: the digits are lost.
    "not_an_id": "ids must be whole numbers as Shopify writes them; a spreadsheet that saved the file"
    " may have rewritten them (6.10123E+12): import the file as exported, unopened",
    "negative_amount": "amounts are written without a minus sign: a refund or discount is money"
    " returned or taken off, a positive amount",
    "amount_too_large": "amounts must be under 10^12, and under 10^14 once multiplied or converted;"
    " check the rates and the amount columns",
    "too_large": "a record may be at most 5 MiB; trim or split the records over it",
    "duplicate_key": "a record repeats a field name; fix the program that wrote the file",
    "too_deep": "a record nests arrays or objects too deeply to read; fix the program that wrote the file",
}
_NOT_RECORDS = frozenset({"empty_body", "not_utf8", "not_json", "truncated_json", "not_an_object"})


@dataclass(frozen=True)
class Verdict:
    """Why an import stops: ``refused`` of ``handled`` records refused for one reason code."""

    code: str
    field_path: str | None
    details: tuple[str, ...]  # the reasons' details, most frequent first (``GBP to USD``)
    refused: int
    handled: int
    fix: str

    def __str__(self) -> str:
        shown = f"{self.code} ({', '.join(self.details[:3])}{', ...' if len(self.details) > 3 else ''})"
        reason = shown if self.details else self.code
        at = f" at {self.field_path}" if self.field_path and self.field_path != "$" else ""
        return f"{self.refused:,} of {self.handled:,} records refused as {reason}{at}; {self.fix}"


def reason_code(reason: str) -> tuple[str, str]:
    """``no_rate (GBP to USD)`` as (``no_rate``, ``GBP to USD``); ``handler_error: X at f:1`` as
    (``handler_error``, ``X at f:1``)."""
    code, _, detail = reason.partition(" (")
    if detail:
        return code, detail.removesuffix(")")
    code, _, detail = reason.partition(": ")
    return code, detail


def judge(handled: int, refusals: Mapping[tuple[str, str | None], int], *, finished: bool) -> Verdict | None:
    """The verdict on an import so far (``refusals``: count per reason and field path), or None."""
    if handled == 0 or (handled < MIN_HANDLED and not finished):
        return None
    by_code: Counter[str] = Counter()
    details: dict[str, Counter[str]] = {}
    paths: dict[str, Counter[str | None]] = {}
    for (reason, path), count in refusals.items():
        code, detail = reason_code(reason)
        by_code[code] += count
        if detail:
            details.setdefault(code, Counter())[detail] += count
        paths.setdefault(code, Counter())[path] += count
    if not by_code:
        return None
    code, refused = by_code.most_common(1)[0]
    if refused < SHARE * handled:
        return None
    shown = tuple(d for d, _ in details.get(code, Counter()).most_common())
    path = paths[code].most_common(1)[0][0]
    return Verdict(code, path, shown, refused, handled, fix(code, path, shown))


def fix(code: str, field_path: str | None, details: tuple[str, ...]) -> str:
    """What to do about a file refused for ``code``, in one clause."""
    if code == "no_rate":
        currencies = list(dict.fromkeys(d.split(" to ")[0] for d in details))
        if len(currencies) == 1:
            return f"set BASE_CURRENCY={currencies[0]} or {_RATES}"
        if currencies:
            return f"{_RATES} (for {', '.join(currencies[:5])}{', ...' if len(currencies) > 5 else ''})"
        return _RATES
    if code in ("missing", "null"):
        return f"every record needs {field_path}; {_LAYOUT}" if field_path else _LAYOUT
    if code in _NOT_RECORDS:
        return f"the records are not JSON objects; {_LAYOUT}"
    return _FIXES.get(code, "see `audiencesync dead-letters list` and docs/import.md")
