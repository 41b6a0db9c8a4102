"""Invalid entries Meta reports, mapped back to the customers whose rows they were.

Meta returns up to 100 ``invalid_entry_samples`` per batch, as a map or a list (users
reference). A sample quotes the offending row or one of its cells, so any SHA-256 it quotes
identifies the customer within the batch; a sample quoting none is kept without a customer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from shared.sync.ports import InvalidEntry
from shared.sync.rows import Member

_HEX = re.compile(r"[0-9a-fA-F]{64}")


def _samples(raw: object) -> list[tuple[str, str]]:
    if isinstance(raw, dict):
        return [(str(entry), str(reason)) for entry, reason in raw.items()]
    if isinstance(raw, list):
        out = []
        for item in raw:
            if isinstance(item, dict):
                reason = str(item.get("reason") or item.get("error") or "invalid entry")
                out.append((json.dumps(item, sort_keys=True), reason))
            else:
                out.append((item if isinstance(item, str) else json.dumps(item), "invalid entry"))
        return out
    return []


def invalid_entries(samples: object, members: Sequence[Member]) -> list[InvalidEntry]:
    """Meta's samples for one batch, each with the customer key of the row it quotes."""
    by_cell: dict[str, str] = {}
    by_row: dict[str, str] = {}
    for member in members:
        by_row[json.dumps(member.wire(), separators=(",", ":"))] = member.key
        for cell in member.row:
            if cell:
                by_cell.setdefault(cell.lower(), member.key)
    out: list[InvalidEntry] = []
    for entry, reason in _samples(samples):
        key = by_row.get(entry)
        if key is None:
            key = next((by_cell[h.lower()] for h in _HEX.findall(entry) if h.lower() in by_cell), None)
        out.append(InvalidEntry(key, reason))
    return out
