"""First look at a raw value: its type, emptiness, placeholders and mangled Unicode.

Every field normalizer starts here, so nothing empty, placeholder-like or mis-decoded is ever
hashed. Screening only decides whether there is text worth normalizing; the field rules decide
what that text must look like.
"""

from __future__ import annotations

import re
import unicodedata

from shared.identity.result import Reason

# Invisible characters copy-pasted from web forms and spreadsheets: zero-width space, joiners,
# word joiner, byte-order mark, soft hyphen. They carry no identity and break matching.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# C0 and C1 control characters other than the whitespace that .strip() handles.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NOT_ALNUM = re.compile(r"[\W_]+")
# Spellings of "nothing here" seen in exports; compared after lowercasing and dropping
# everything but letters and digits, so "N/A", "n.a." and "--" are caught too. Words that are
# also real names ("Na", "Nil", "Blank") are deliberately absent.
_PLACEHOLDER_WORDS = frozenset(
    {
        "null",
        "none",
        "nan",
        "undefined",
        "unknown",
        "notprovided",
        "notavailable",
        "notapplicable",
        "noemail",
        "nomail",
        "nophone",
        "nonumber",
        "noname",
        "xx",
        "xxx",
        "xxxx",
        "asdf",
        "dummy",
    }
)
_NOT_APPLICABLE = frozenset({"n/a", "#n/a", "n.a.", "n.a", "n / a"})


def to_text(value: object, *, numbers: bool = False) -> str | Reason:
    """The value as text: strings as they are, integers only where a field allows them."""
    if isinstance(value, str):
        return value
    if value is None:
        return Reason.EMPTY
    if isinstance(value, bool):
        return Reason.INVALID_TYPE
    if isinstance(value, int) and numbers:
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return Reason.MANGLED_UNICODE
    return Reason.INVALID_TYPE


def screen(
    value: object, *, numbers: bool = False, placeholders: bool = True, fold: bool = True
) -> str | Reason:
    """Stripped, NFKC-folded text worth normalizing, or why there is none.

    ``placeholders=False`` skips the placeholder-word check (emails check their local part
    instead); ``fold=False`` keeps compatibility characters (opaque ids are kept verbatim).
    """
    text = to_text(value, numbers=numbers)
    if isinstance(text, Reason):
        return text
    if not text.isascii():
        if "\ufffd" in text or is_mojibake(text):
            return Reason.MANGLED_UNICODE
        text = text.translate(_INVISIBLE)
        if fold:
            text = unicodedata.normalize("NFKC", text)
    if not text.isprintable() and _CONTROL.search(text):  # isprintable: a cheap first look
        return Reason.MANGLED_UNICODE
    text = text.strip()
    if not text:
        return Reason.EMPTY
    if placeholders and is_placeholder(text):
        return Reason.PLACEHOLDER
    return text


def is_placeholder(text: str) -> bool:
    """True for "nothing here" spellings: N/A, null, None, "--", "xxx" and the like."""
    lowered = text.lower()
    if lowered in _NOT_APPLICABLE:
        return True
    squashed = _NOT_ALNUM.sub("", lowered)
    return not squashed or squashed in _PLACEHOLDER_WORDS


def is_mojibake(text: str) -> bool:
    """True if ``text`` is UTF-8 that was decoded as Windows-1252 or Latin-1 ("JosÃ©")."""
    for wrong_codec in ("cp1252", "latin-1"):
        try:
            repaired = text.encode(wrong_codec).decode("utf-8")
        except UnicodeError:
            continue
        if repaired != text:
            return True
    return False
