"""Structured logging (JSON in deployments, readable in a terminal) with a PII guard.

The guard is the last processor before rendering: any string in an event that looks like a raw
email address or phone number is replaced by ``[redacted-email]`` / ``[redacted-phone]``, so a
mistake upstream cannot leak contact data into log storage. 64-hex hashes pass untouched.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# A run of 7+ digits, optionally with a leading + and the usual separators; ISO dates and times,
# ids glued to letters and 64-hex hashes are not phone-shaped under this rule.
_PHONE = re.compile(r"(?<![\w\-:.])\+?\(?\d[\d\s().\-]{6,}\d(?![\w\-:])")
_DATEISH = re.compile(r"^\d{4}-\d{2}-\d{2}")


def redact(text: str) -> str:
    """Replace email- and phone-shaped substrings with markers."""
    text = _EMAIL.sub("[redacted-email]", text)

    def _phone(match: re.Match[str]) -> str:
        token = match.group(0)
        digits = sum(ch.isdigit() for ch in token)
        if _DATEISH.match(token) or digits < 7 or (digits > 15 and token.isdigit()):
            return token
        return "[redacted-phone]"

    return _PHONE.sub(_phone, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v) for v in value)
    return value


# Fields naming an ad platform account (a Google Ads customer id is 10 digits, phone-shaped):
# their all-digit values come from configuration, never from a customer, and operators need them.
ACCOUNT_FIELDS = frozenset({"account", "account_id", "login_customer"})


def pii_guard(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: redact raw contact data from every field of the event."""
    for key, value in list(event_dict.items()):
        if key in ACCOUNT_FIELDS and isinstance(value, str) and value.isdigit():
            continue
        event_dict[key] = _scrub(value)
    return event_dict


class _StderrLogger:
    """Writes each rendered line to the *current* ``sys.stderr`` (looked up per line, so a
    replaced or captured stream never leaves a logger holding a closed file)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


class _StreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stdlib handler that also resolves ``sys.stderr`` at emit time."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(*, fmt: str = "console", level: str = "INFO", service: str | None = None) -> None:
    """Configure structlog and route stdlib logging (SDKs, kafka) through the same guard."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, pii_guard, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=lambda *_: _StderrLogger(),
        cache_logger_on_first_use=False,
    )
    handler = _StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                pii_guard,
                renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kafka-python is chatty at INFO about every connection; keep its warnings.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; bind context with ``.bind(...)``."""
    return structlog.get_logger(name)
