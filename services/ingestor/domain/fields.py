"""marshmallow fields for shop payloads, each failing with a fixed reason code and never a value.

Shopify is loose about JSON types (ids as numbers or strings, money as strings or numbers, the
same payload differing by topic), so these fields accept every spelling Shopify uses and refuse
the rest with a ``Reason`` code as the message (``decoding.problems_of`` turns it into a path).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing

from services.ingestor.domain.errors import Reason

MAX_AMOUNT = Decimal(10) ** 12  # far above any order; stops 1e300 before it reaches arithmetic
MAX_QUANTITY = 1_000_000
MAX_ID = 2**63 - 1  # Shopify ids are signed 64-bit
MAX_REF = 64  # a shop's own id (generic layouts): the store's id columns are String(64)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})
_GID_PREFIX = "gid://shopify/"
_INTEGER = re.compile(r"-?[0-9]{1,18}")
# A whole number as a float column writes it (pandas with an empty cell, a spreadsheet): "2.0".
_WHOLE_DECIMAL = re.compile(r"-?[0-9]{1,18}\.0{1,8}")
_FIELD_MESSAGES: dict[str, str | list[Any] | dict[Any, Any]] = {
    "required": Reason.MISSING.value,
    "null": Reason.NULL.value,
}
_OBJ_MESSAGES: dict[str, str | list[Any] | dict[Any, Any]] = {
    **_FIELD_MESSAGES,
    "type": Reason.NOT_AN_OBJECT.value,
}
_LIST_MESSAGES: dict[str, str | list[Any] | dict[Any, Any]] = {
    **_FIELD_MESSAGES,
    "invalid": Reason.NOT_A_LIST.value,
}


def fail(reason: Reason, detail: str = "") -> ValidationError:
    """A marshmallow error whose message is a reason code (and an optional safe detail)."""
    return ValidationError(f"{reason.value}:{detail}" if detail else reason.value)


class Base(Schema):
    """Every payload schema: unknown fields are ignored (and never even looked at)."""

    class Meta:
        unknown = EXCLUDE

    error_messages = {"type": Reason.NOT_AN_OBJECT.value}  # noqa: RUF012 - marshmallow's API


class Lean(fields.Field[Any]):
    """marshmallow's ``deserialize`` minus the per-value hook machinery we never use.

    For every value it loads, marshmallow builds an ``And`` of the field's (empty) validators and
    walks its pre/post-load lists; at ~100 fields an order that was a fifth of validation time
    (cProfile). Fields with validators or hooks still take the full path. Null is allowed (reads
    as absent) unless the field is required.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", not kwargs.get("required", False))
        super().__init__(*args, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        """Missing and null handling, then ``_deserialize``."""
        if self.validators or self.pre_load or self.post_load:
            return super().deserialize(value, attr, data, **kwargs)
        if value is missing:
            if self.required:
                raise self.make_error("required")
            return self.load_default() if callable(self.load_default) else self.load_default
        if value is None:
            if self.allow_none:
                return None
            raise self.make_error("null")
        return self._deserialize(value, attr, data, **kwargs)


class ShopField(Lean):
    """Our scalar field base: reason codes as error messages."""

    default_error_messages = _FIELD_MESSAGES


class Text(ShopField):
    """A string, stripped; blank becomes None (or ``missing`` when the field is required).

    ``digits``: a JSON integer is read as its digits too. Phones and zip codes written by a
    producer's own JSON (``"postal_code": 75001``) are numbers as often as strings, and refusing
    the whole order over the spelling of a contact field lost orders that were fine.
    """

    def __init__(self, *, max_len: int = 255, digits: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_len = max_len
        self.digits = digits

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if self.digits and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            value = str(value)
        if not isinstance(value, str):
            raise fail(Reason.NOT_A_STRING)
        text = value.strip()
        if len(text) > self.max_len:
            raise fail(Reason.TOO_LONG, f"over {self.max_len} characters")
        if not text:
            if self.required:
                raise fail(Reason.MISSING)
            return None
        if not text.isascii():
            try:  # a lone surrogate from a \ud800 escape cannot be stored or hashed
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise fail(Reason.NOT_UTF8) from None
        if "\x00" in text:
            raise fail(Reason.INVALID, "NUL character")
        return text


class Id(ShopField):
    """A Shopify id: a non-negative integer, its digits as a string, or a ``gid://`` URI; as str."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value <= MAX_ID:
                return str(value)
            raise fail(Reason.NOT_AN_ID)
        if isinstance(value, str):
            text = value.strip()
            if text.startswith(_GID_PREFIX):
                text = text.rpartition("/")[2]
            if text.isdigit() and text.isascii() and len(text) <= 19 and int(text) <= MAX_ID:
                return text
        raise fail(Reason.NOT_AN_ID)


class Ref(ShopField):
    """A shop's own reference (generic layout ids like ``A-1001``): a short string or integer.

    At most ``MAX_REF`` characters, the width of the store's id columns (orders.order_id,
    customers.shop_customer_id, refunds, tickets, checkouts): a longer one is refused here with
    its reason rather than by the database, which would fail the whole write.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise fail(Reason.NOT_AN_ID)
        text = value.strip()
        if len(text) > MAX_REF:
            raise fail(Reason.TOO_LONG, f"at most {MAX_REF} characters")
        if "\x00" in text or not text.isprintable():
            raise fail(Reason.NOT_AN_ID)
        if not text and self.required:
            raise fail(Reason.MISSING)
        return text or None


class Money(ShopField):
    """A decimal amount from a JSON string or number; non-negative unless told otherwise."""

    def __init__(self, *, allow_negative: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allow_negative = allow_negative

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal | None:
        if isinstance(value, Decimal):
            amount = value
        elif isinstance(value, str):
            text = value.strip()
            if not text:  # an empty CSV cell
                if self.required:
                    raise fail(Reason.MISSING)
                return None
            if len(text) > 40:
                raise fail(Reason.NOT_A_DECIMAL)
            try:
                amount = Decimal(text)
            except InvalidOperation:
                raise fail(Reason.NOT_A_DECIMAL) from None
        elif isinstance(value, int) and not isinstance(value, bool):
            amount = Decimal(value)
        elif isinstance(value, float):  # only from Python callers; JSON floats arrive as Decimal
            amount = Decimal(repr(value))
        else:
            raise fail(Reason.NOT_A_DECIMAL)
        if not amount.is_finite():
            raise fail(Reason.NOT_A_DECIMAL)
        if abs(amount) >= MAX_AMOUNT:
            raise fail(Reason.AMOUNT_TOO_LARGE)
        if amount < 0 and not self.allow_negative:
            raise fail(Reason.NEGATIVE_AMOUNT)
        return amount


class Quantity(ShopField):
    """A whole, non-negative count (``1``, ``"1"``, ``1.0`` or ``"1.0"``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise fail(Reason.NOT_AN_INTEGER)
        if isinstance(value, int):
            count = value
        elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            count = int(value)
        elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            count = int(value.strip())
        elif isinstance(value, str) and _WHOLE_DECIMAL.fullmatch(value.strip()):
            count = int(value.strip().partition(".")[0])  # "2.0": a float column written out
        else:
            raise fail(Reason.NOT_AN_INTEGER)
        if count < 0:
            raise fail(Reason.NEGATIVE_QUANTITY)
        if count > MAX_QUANTITY:
            raise fail(Reason.TOO_LARGE, f"over {MAX_QUANTITY}")
        return count


class Timestamp(ShopField):
    """An ISO 8601 date-time as an aware UTC datetime; a naive one is taken to be UTC."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime | None:
        if not isinstance(value, str) or len(value) > 64:
            raise fail(Reason.NOT_A_DATETIME)
        text = value.strip()
        if not text:
            if self.required:
                raise fail(Reason.MISSING)
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise fail(Reason.NOT_A_DATETIME) from None
        try:
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
            raise fail(Reason.DATETIME_OUT_OF_RANGE) from None
        if not EARLIEST <= moment < LATEST:
            raise fail(Reason.DATETIME_OUT_OF_RANGE)
        return moment


class Flag(ShopField):
    """A boolean: JSON true/false, or the usual spellings in a CSV cell (yes/no, 1/0...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool | None:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            if not text:
                return None
        raise fail(Reason.NOT_A_BOOLEAN)


class Obj(Lean, fields.Nested):
    """A nested object; null reads as absent."""

    default_error_messages = _OBJ_MESSAGES

    def _deserialize(
        self,
        value: Any,
        attr: str | None,
        data: Mapping[str, Any] | None,
        partial: bool | Sequence[str] | AbstractSet[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        if not isinstance(value, Mapping):
            raise fail(Reason.NOT_AN_OBJECT)
        return super()._deserialize(value, attr, data, partial=partial, **kwargs)


class Many(Lean, fields.List[Any]):
    """A list with a length cap checked before any element is read (a huge list costs nothing)."""

    default_error_messages = _LIST_MESSAGES

    def __init__(
        self,
        inner: fields.Field[Any],
        *,
        max_items: int = 250,
        too_many: Reason = Reason.TOO_MANY_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(inner, **kwargs)
        self.inner.allow_none = False  # a null element is an error, not an absent one
        self.max_items = max_items
        self.too_many = too_many

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list):
            raise fail(Reason.NOT_A_LIST)
        if len(value) > self.max_items:
            raise fail(self.too_many, f"{len(value)} over the cap of {self.max_items}")
        result: list[Any] = super()._deserialize(value, attr, data, **kwargs)
        return result
