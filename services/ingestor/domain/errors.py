"""Why an inbound payload was refused: machine-readable reasons with field paths, never raw values.

Every validation failure in the ingestor's domain is an ``InvalidPayload`` carrying one or more
``Problem``s. A problem names *where* (``line_items.3.price``) and *why* (``not_a_decimal``), and
nothing else: messages are built from fixed reason codes, positions and counts, so no email,
phone or name can leak into a dead letter or a log line through an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

ROOT = "$"  # the path of the whole document (a body that is not JSON, or has no identifier)


class Reason(StrEnum):
    """Why a payload or one of its fields was refused (or an identifier dropped)."""

    # the body as a whole
    EMPTY_BODY = "empty_body"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    TRUNCATED_JSON = "truncated_json"
    DUPLICATE_KEY = "duplicate_key"
    TOO_DEEP = "too_deep"
    TOO_LARGE = "too_large"
    # a field's presence or type
    MISSING = "missing"
    NULL = "null"
    NOT_AN_OBJECT = "not_an_object"
    NOT_A_LIST = "not_a_list"
    NOT_A_STRING = "not_a_string"
    NOT_AN_INTEGER = "not_an_integer"
    NOT_A_DECIMAL = "not_a_decimal"
    NOT_A_BOOLEAN = "not_a_boolean"
    NOT_A_DATETIME = "not_a_datetime"
    NOT_AN_ID = "not_an_id"
    # a field's value
    NEGATIVE_AMOUNT = "negative_amount"
    AMOUNT_TOO_LARGE = "amount_too_large"
    NEGATIVE_QUANTITY = "negative_quantity"
    DATETIME_OUT_OF_RANGE = "datetime_out_of_range"
    UNKNOWN_CURRENCY = "unknown_currency"
    UNKNOWN_COUNTRY = "unknown_country"
    TOO_LONG = "too_long"
    TOO_MANY_ITEMS = "too_many_items"
    TOO_MANY_LINE_ITEMS = "too_many_line_items"
    INVALID = "invalid"
    # the payload's meaning
    NO_CUSTOMER_IDENTIFIER = "no_customer_identifier"
    PLACEHOLDER_EMAIL = "placeholder_email"
    NO_RATE = "no_rate"
    REFUND_WITHOUT_ORDER = "refund_without_order"  # raised by the store, which knows the orders
    # identifiers dropped from an otherwise valid payload (warnings, not refusals)
    BAD_EMAIL = "bad_email"
    PHONE_HAS_LETTERS = "phone_has_letters"
    PHONE_TOO_SHORT = "phone_too_short"

    @property
    def text(self) -> str:
        """The human wording: the code with spaces (``not_a_decimal`` -> ``not a decimal``)."""
        return self.value.replace("_", " ")


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason at one field path; ``detail`` holds only positions, counts or field names."""

    path: str
    reason: Reason
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.path}: {self.reason.text}"
        return f"{text} ({self.detail})" if self.detail else text


class InvalidPayload(ValueError):  # noqa: N818 - a fact about a payload, not a program error
    """A payload that can never be ingested; it goes to the dead letters with its problems.

    ``reason`` and ``field_path`` describe the first problem (the same attribute names as the bus
    envelope's ``InvalidMessage``, so the consumer runner can dead-letter either the same way).
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("InvalidPayload needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = len(self.problems) - 5
        super().__init__(f"{shown}; and {more} more" if more > 0 else shown)

    def __reduce__(self) -> tuple[type[InvalidPayload], tuple[tuple[Problem, ...]]]:
        """Pickled as its problems (the parse worker sends refusals back to the writer)."""
        return (InvalidPayload, (self.problems,))

    @property
    def reason(self) -> str:
        """The first problem's reason code."""
        return self.problems[0].reason.value

    @property
    def field_path(self) -> str:
        """The first problem's field path."""
        return self.problems[0].path


def invalid(path: str, reason: Reason, detail: str = "") -> InvalidPayload:
    """A one-problem ``InvalidPayload``."""
    return InvalidPayload([Problem(path, reason, detail)])
