"""The batch path for email columns: a few passes over the whole column, not a regex per value.

The distinct values are joined into one text and lowercased once; one regex pass finds the
lines that are plainly valid addresses needing nothing but lowercasing (almost all), and two
literal searches catch misplaced dots and hyphens that pass cannot see. Lines padded with
spaces are stripped and checked again. Every other line (non-ASCII, unusual but valid forms,
invalid input) takes the scalar path, so both paths give identical results (a property test
checks it). Repeated values are done once. The passes run in C; the only per-value Python
work left is hashing and building the result tuple.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Sequence

from shared.identity.emails import MAX_ADDRESS, PLACEHOLDER_LOCALS, EmailStyle, fold_gmail
from shared.identity.result import Normalized, Reason, Rejected, new_sha256

# Plainly valid once lowercased: a common-character local part that starts with no dot and
# is not a placeholder, "@", a domain starting with a letter or digit, an alphabetic TLD.
_PLAIN = re.compile(
    r"^(?!(?:"
    + "|".join(map(re.escape, sorted(PLACEHOLDER_LOCALS)))
    + r")@)[a-z0-9_+'-][a-z0-9_+'.-]{0,63}@[a-z0-9][a-z0-9.-]*\.[a-z]{2,63}$",
    re.MULTILINE,
)
_PLAIN_LINE = re.compile(_PLAIN.pattern.removeprefix("^").removesuffix("$"))
# What _PLAIN lets through but the full syntax refuses: "..", ".@", ".-" and "-.". Two
# patterns with literal prefixes scan much faster than one alternation.
_DOT_THEN = re.compile(r"\.[.@-]")
_HYPHEN_DOT = re.compile(r"-\.")
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
    lines = lowered.split("\n")
    encoded = lowered.encode().split(b"\n")
    scalar_lines = _lines_for_scalar(lines, lowered, text, unique)
    _take_back_padded(lines, encoded, scalar_lines)
    if style is EmailStyle.GOOGLE_DM:
        _fold_gmail_lines(lines, encoded, scalar_lines)

    # Lines for the scalar path are hashed too and overwritten below: cheaper than a test per line.
    new, sha = tuple.__new__, new_sha256
    results: list[Normalized | Rejected] = [
        new(Normalized, (field, line, sha(data).hexdigest()))
        for line, data in zip(lines, encoded, strict=True)
    ]
    for index in scalar_lines:
        results[index] = scalar(unique[index])
    if len(unique) == len(values):
        return results
    by_value = dict(zip(unique, results, strict=True))
    return list(map(by_value.__getitem__, values))


def _lines_for_scalar(lines: list[str], lowered: str, text: str, unique: list[object]) -> set[int]:
    """Indexes of the lines the fast path must not decide (usually very few)."""
    marks = _PLAIN.sub(_MARK, lowered).split("\n")
    flagged = set(itertools.compress(itertools.count(), map(_MARK.__ne__, marks)))
    suspects = [
        m.end() - 1 for m in itertools.chain(_DOT_THEN.finditer(lowered), _HYPHEN_DOT.finditer(lowered))
    ]
    if suspects:
        flagged.update(_line_indexes(lines, suspects))
    if not text.isascii():
        # Non-ASCII input needs NFKC screening: lowercasing alone is not the whole story.
        flagged.update(i for i, raw in enumerate(unique) if not str(raw).isascii())
    if max(map(len, lines)) > MAX_ADDRESS:
        flagged.update(i for i, line in enumerate(lines) if len(line) > MAX_ADDRESS)
    return flagged


def _take_back_padded(lines: list[str], encoded: list[bytes], scalar_lines: set[int]) -> None:
    """Keep on the fast path the lines whose only flaw is surrounding spaces or tabs."""
    for index in [i for i in scalar_lines if lines[i][:1] in " \t" or lines[i][-1:] in " \t"]:
        stripped = lines[index].strip(" \t")
        if (
            stripped.isascii()
            and len(stripped) <= MAX_ADDRESS
            and _PLAIN_LINE.fullmatch(stripped)
            and not _DOT_THEN.search(stripped)
            and not _HYPHEN_DOT.search(stripped)
        ):
            lines[index] = stripped
            encoded[index] = stripped.encode()
            scalar_lines.discard(index)


def _line_indexes(lines: list[str], offsets: Iterable[int]) -> set[int]:
    """The line each character offset of the joined text falls on."""
    lengths_before = itertools.accumulate(map(len, lines), initial=0)
    starts = list(map(operator.add, lengths_before, range(len(lines))))  # one "\n" per line
    return {bisect.bisect_right(starts, offset) - 1 for offset in offsets}


def _fold_gmail_lines(lines: list[str], encoded: list[bytes], scalar_lines: set[int]) -> None:
    """Data Manager API: drop dots and +tags of Gmail local parts, in place."""
    is_gmail = map(operator.methodcaller("endswith", _GMAIL_SUFFIXES), lines)
    for index in itertools.compress(itertools.count(), is_gmail):
        if index in scalar_lines:
            continue
        folded = fold_gmail(lines[index])
        if isinstance(folded, Reason):
            scalar_lines.add(index)  # the scalar path returns the same rejection
        else:
            lines[index] = folded
            encoded[index] = folded.encode()
