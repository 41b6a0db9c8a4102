"""The batch path for email columns: a few passes over the whole column, not a regex per value.

A column is joined into one text, lowercased once, and one regex pass marks the addresses that
are plainly valid and need nothing but lowercasing (almost all of them). Only those are
normalized here; everything else (whitespace, non-ASCII, unusual but valid forms, invalid
input) takes the scalar path, so both paths give identical results (a property test checks it).
Repeated addresses are normalized and hashed once.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from collections.abc import Callable, Sequence

from shared.identity.emails import MAX_ADDRESS, PLACEHOLDER_LOCALS, EmailStyle, fold_gmail
from shared.identity.result import Normalized, Reason, Rejected, new_sha256

# Plainly valid once lowercased: common local-part characters, dotted domain, alphabetic TLD.
# Dot and hyphen placement is left to _NEEDS_SCALAR, which is cheaper over the whole column.
_PLAIN = re.compile(r"^[a-z0-9_+'.-]{1,64}@[a-z0-9.-]+\.[a-z]{2,63}$", re.MULTILINE)
# Anything that may be invalid or a placeholder even when _PLAIN matched: misplaced dots or
# hyphens, or a placeholder local part at the start of a line.
_NEEDS_SCALAR = re.compile(
    r"\.\.|\.@|@\.|\n\.|-\.|\.-|@-|\n(?:" + "|".join(map(re.escape, sorted(PLACEHOLDER_LOCALS))) + ")@"
)
_MARK = "\x00"
_GMAIL_SUFFIXES = ("@gmail.com", "@googlemail.com")

Scalar = Callable[[object], "Normalized | Rejected"]


def email_column(
    field: str, values: Sequence[object], style: EmailStyle, scalar: Scalar
) -> list[Normalized | Rejected] | None:
    """Results for a column of emails, or None when it needs the general path (non-text values)."""
    try:
        unique = list(dict.fromkeys(values))
        text = "\n".join(unique)  # type: ignore[arg-type]  # TypeError: not all str
    except TypeError:
        return None
    if text.count("\n") != len(unique) - 1 or _MARK in text:
        return None  # a value holds a line break or our marker: lines would not line up
    lowered = text.lower()
    marks = _PLAIN.sub(_MARK, lowered).split("\n")
    lines = lowered.split("\n")
    _send_to_scalar(marks, lines, unique, text, lowered)

    fold = style is EmailStyle.GOOGLE_DM
    new = tuple.__new__
    results: list[Normalized | Rejected] = []
    append = results.append
    for raw, line, mark in zip(unique, lines, marks, strict=True):
        if mark != _MARK:
            append(scalar(raw))
            continue
        if fold and line.endswith(_GMAIL_SUFFIXES):
            folded = fold_gmail(line)
            if isinstance(folded, Reason):
                append(new(Rejected, (field, folded)))
                continue
            line = folded
        append(new(Normalized, (field, line, new_sha256(line.encode()).hexdigest())))
    if len(unique) == len(values):
        return results
    by_value = dict(zip(unique, results, strict=True))
    return list(map(by_value.__getitem__, values))


def _send_to_scalar(
    marks: list[str], lines: list[str], unique: list[object], text: str, lowered: str
) -> None:
    """Unmark the lines the fast path must not decide (rare: usually nothing to do)."""
    flagged: set[int] = set()
    suspects = list(_NEEDS_SCALAR.finditer("\n" + lowered))
    if suspects:
        # Offset of each line in ``lowered``: lengths so far plus one "\n" per earlier line.
        lengths_before = itertools.accumulate(map(len, lines), initial=0)
        starts = list(map(operator.add, lengths_before, range(len(lines))))
        # A match's last character is on the suspect line; "\n" + lowered shifts offsets by 1.
        flagged.update(bisect.bisect_right(starts, m.end() - 2) - 1 for m in suspects)
    if not text.isascii():
        # Non-ASCII input goes through NFKC screening: lowercase alone is not the whole story.
        flagged.update(i for i, raw in enumerate(unique) if not str(raw).isascii())
    if max(map(len, lines)) > MAX_ADDRESS:
        flagged.update(i for i, line in enumerate(lines) if len(line) > MAX_ADDRESS)
    for index in flagged:
        marks[index] = ""
