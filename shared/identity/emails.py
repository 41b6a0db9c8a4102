"""Email addresses: trimmed, lowercased, syntax-checked, then shaped per platform.

The platforms differ only after validation: Meta and the Google Ads API take the lowercased
address as is; Google's Data Manager API also drops dots and a ``+tag`` from the local part of
gmail.com / googlemail.com addresses; the customer key folds those Gmail spellings together too
(see docs/identifiers.md for the sources).
"""

from __future__ import annotations

import enum
import re

from shared.identity.result import Reason
from shared.identity.screening import is_placeholder, screen

# RFC 5322 dot-atom local part; domain of LDH labels ending in an alphabetic (or IDNA "xn--")
# top-level label. Quoted local parts and IP-literal domains are not accepted: no ad platform
# matches on them. Label length is not checked (the whole address is capped at 254).
# Possessive quantifiers (Python 3.11+): a failing address fails in linear time, without the
# backtracking that nested quantifiers would cost on every invalid value.
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]++"
_LABEL = r"[a-z0-9]++(?:-++[a-z0-9]++)*+"
ASCII_ADDRESS = re.compile(
    rf"(?P<local>{_ATOM}(?:\.{_ATOM})*+)@"
    rf"(?P<domain>(?:{_LABEL}\.)++(?:[a-z]{{2,63}}|xn--[a-z0-9-]++))"
)
# Internationalized addresses (RFC 6531): letters and marks of any script are allowed too.
_UATOM = r"[\w!#$%&'*+/=?^`{|}~-]++"
_ULABEL = r"[^\W_]++(?:-++[^\W_]++)*+"
_UNICODE_ADDRESS = re.compile(
    rf"(?P<local>{_UATOM}(?:\.{_UATOM})*+)@(?P<domain>(?:{_ULABEL}\.)++[^\W\d_]{{2,63}})"
)
MAX_LOCAL = 64
MAX_ADDRESS = 254
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
# Local parts that say "no address given"; checked on the local part only, so a real domain
# never turns an address into a placeholder. Every platform path refuses these.
PLACEHOLDER_LOCALS = frozenset(
    {"noemail", "nomail", "none", "null", "noreply", "donotreply", "dontemail", "no-reply"}
)
# What a shop's order stream types when the buyer gave no address (POS walk-ins, phone orders,
# test checkouts): stand-ins that, hashed into a customer key, would merge every walk-in of a
# shop into one giant customer. A superset of PLACEHOLDER_LOCALS by construction. Only the
# ingest edge applies it: a customer file may hold a real ``customer@example.com`` (Google's
# own documented example), so the hashing rules keep the narrow list.
SHOP_PLACEHOLDER_LOCALS = PLACEHOLDER_LOCALS | frozenset(
    {
        "no-email",
        "no_email",
        "no.email",
        "no-mail",
        "na",
        "n/a",
        "nil",
        "do-not-reply",
        "test",
        "guest",
        "unknown",
        "nobody",
        "placeholder",
        "fake",
        "dummy",
        "x",
        "xx",
        "xxx",
        "abc",
        "asdf",
        "walkin",
        "walk-in",
        "pos",
        "customer",
        "noname",
    }
)
SHOP_PLACEHOLDER_DOMAINS = frozenset(
    {
        "none.com",
        "noemail.com",
        "nomail.com",
        "no-email.com",
        "noreply.com",
        "test.com",
        "email.invalid",
        "fake.com",
        "donotreply.com",
    }
)
RESERVED_TLDS = (".invalid", ".test", ".localhost", ".example")  # RFC 2606: never delivered
_WHITESPACE = re.compile(r"\s+")


class EmailStyle(enum.Enum):
    """How a valid address is shaped for its destination."""

    PLAIN = "plain"  # Meta: trim and lowercase only; inner whitespace makes it invalid
    SQUEEZED = "squeezed"  # Google Ads API: all whitespace removed, then lowercased
    GOOGLE_DM = "google-dm"  # Data Manager API: squeezed, Gmail dots and +tag dropped
    CUSTOMER_KEY = "customer-key"  # identity: as GOOGLE_DM, googlemail.com spelled gmail.com


# Enum members looked up once: attribute access on an Enum class is slow before Python 3.12.
_PLAIN_STYLE, _DM_STYLE, _KEY_STYLE = EmailStyle.PLAIN, EmailStyle.GOOGLE_DM, EmailStyle.CUSTOMER_KEY


def email(value: object, style: EmailStyle) -> str | Reason:
    """The address shaped for ``style``, or why it is not a usable address."""
    text = screen(value, placeholders=False)
    if isinstance(text, Reason):
        return text
    if "@" not in text and is_placeholder(text):
        return Reason.PLACEHOLDER
    if style is not _PLAIN_STYLE:
        text = _WHITESPACE.sub("", text)
    address = text.lower()
    match = (ASCII_ADDRESS if address.isascii() else _UNICODE_ADDRESS).fullmatch(address)
    if match is None or len(match["local"]) > MAX_LOCAL or len(address) > MAX_ADDRESS:
        return Reason.EMAIL_INVALID_SYNTAX
    if match["local"] in PLACEHOLDER_LOCALS:
        return Reason.PLACEHOLDER
    if style is _DM_STYLE or style is _KEY_STYLE:
        return fold_gmail(address, unify_domain=style is _KEY_STYLE)
    return address


def fold_gmail(address: str, *, unify_domain: bool = False) -> str | Reason:
    """A valid lowercased Gmail address without dots or ``+tag`` in its local part.

    Other domains pass unchanged: only Gmail documents that dots and plus tags reach the same
    mailbox. ``unify_domain`` also spells googlemail.com as gmail.com (the same mailboxes).
    """
    local, _, domain = address.rpartition("@")
    if domain not in GMAIL_DOMAINS:
        return address
    local = local.partition("+")[0].replace(".", "")
    if not local:
        return Reason.EMAIL_INVALID_SYNTAX
    return f"{local}@{'gmail.com' if unify_domain else domain}"


def is_shop_placeholder(address: str) -> bool:
    """True for an order's stand-in for "no email" (``noemail@shop.com``, ``x@pos.test``).

    The ingest edge drops these before a customer key is derived; see SHOP_PLACEHOLDER_LOCALS.
    """
    local, _, domain = address.strip().lower().rpartition("@")
    return (
        local in SHOP_PLACEHOLDER_LOCALS
        or domain in SHOP_PLACEHOLDER_DOMAINS
        or domain.endswith(RESERVED_TLDS)
    )
