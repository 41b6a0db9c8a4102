"""Person names and first initials: lowercase letters of any script, titles and suffixes dropped.

Meta: "a-z only, lowercase, no punctuation; special characters in UTF-8", so accents and
non-Latin scripts are kept and spaces go. Google (both APIs): lowercase, no punctuation, no
prefixes such as "Mrs." or suffixes such as "Jr.", single spaces between words kept.
"""

from __future__ import annotations

import enum
import re
import unicodedata

from shared.identity.result import Reason
from shared.identity.screening import is_placeholder, screen

# Titles dropped from the start of a given name and suffixes from the end of a family name,
# only while another word remains ("Dr" alone stays a name). Compared without punctuation.
_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mme", "mlle", "sr", "sra"}
)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq", "dds"})
_ASCII_NON_LETTERS = re.compile(r"[^a-z]+")
# A letter next to "?" is a character lost to a lossy export ("M?ller"), never a real name.
_LOST_CHARACTER = re.compile(r"\w\?|\?\w")


class NamePart(enum.Enum):
    """Which end of a name may carry a title or a suffix."""

    GIVEN = "given"
    FAMILY = "family"


_GIVEN = NamePart.GIVEN  # looked up once: Enum attribute access is slow before Python 3.12


def person_name(value: object, part: NamePart, *, spaces: bool) -> str | Reason:
    """The name as lowercase letters (and marks) of any script; words joined by a space or not."""
    text = screen(value)
    if isinstance(text, Reason):
        return text
    if _LOST_CHARACTER.search(text):
        return Reason.MANGLED_UNICODE
    tokens = text.lower().split()
    if part is _GIVEN:
        while len(tokens) > 1 and letters(tokens[0]) in _TITLES:
            del tokens[0]
    else:
        while len(tokens) > 1 and letters(tokens[-1]) in _SUFFIXES:
            del tokens[-1]
    words = [word for word in map(letters, tokens) if word]
    if not words:
        return Reason.NAME_INVALID
    name = (" " if spaces else "").join(words)
    return Reason.PLACEHOLDER if is_placeholder(name) else name


def first_initial(value: object) -> str | Reason:
    """Meta's FI: the first letter (with its combining marks) of the normalized given name."""
    name = person_name(value, _GIVEN, spaces=False)
    if isinstance(name, Reason):
        return name
    end = 1
    while end < len(name) and unicodedata.category(name[end])[0] == "M":
        end += 1
    return name[:end]


def letters(text: str) -> str:
    """Only the letters of ``text`` (any script) and the marks that follow a letter.

    Marks matter outside Latin scripts (Devanagari vowel signs, Thai tone marks), so keeping
    "letters only" must not drop them; a mark with no letter before it is dropped. Dropping a
    character can bring a letter and a mark together ("ø ́" from NFKC of "ø´"), so the result
    is composed again (NFC): normalizing a normalized value must give it back unchanged.
    """
    if text.isascii():
        return _ASCII_NON_LETTERS.sub("", text)
    kept: list[str] = []
    for char in text:
        kind = unicodedata.category(char)[0]
        if kind == "L" or (kind == "M" and kept):
            kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))
