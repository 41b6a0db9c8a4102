"""Parses and validates the ``payload`` of /users and /usersreplace the way Meta does.

Request-level problems (bad JSON, unknown schema keys, more than 10,000 rows) raise
``GraphError`` code 100. Row-level problems (an unhashed email, wrong arity, a negative
LOOKALIKE_VALUE) only count the row as invalid: Meta applies the valid rows of a batch and
reports ``num_invalid_entries`` with up to 100 ``invalid_entry_samples``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from services.sandbox_meta.domain import errors

MAX_ROWS = 10_000  # "each request can take up to 10,000 users" (custom-audiences guide)
MAX_SAMPLES = 100  # invalid_entry_samples holds up to 100 entries (users reference)

# Single-key schemas and the identifier kind each one carries.
SINGLE_KEY: dict[str, str] = {
    "EMAIL_SHA256": "EMAIL",
    "PHONE_SHA256": "PHONE",
    "MOBILE_ADVERTISER_ID": "MADID",
    "UID": "UID",
}
# Multi-key fields that must be SHA-256 of the normalised value.
HASHED_KEYS = frozenset(
    {"EMAIL", "PHONE", "GEN", "DOBY", "DOBM", "DOBD", "LN", "FN", "FI", "CT", "ST", "ZIP", "COUNTRY"}
)
# Fields sent unhashed: the advertiser's id, device ids and app/page-scoped user ids.
RAW_ID_KEYS = frozenset({"EXTERN_ID", "MADID", "APPUID", "PAGEUID"})
# Identifiers strong enough to stand for one person on their own.
STRONG_KEYS = frozenset({"EMAIL", "PHONE", "MADID", "EXTERN_ID", "UID", "APPUID", "PAGEUID"})
VALUE_KEY = "LOOKALIKE_VALUE"
DPO_KEYS = frozenset(
    {"DATA_PROCESSING_OPTIONS", "DATA_PROCESSING_OPTIONS_COUNTRY", "DATA_PROCESSING_OPTIONS_STATE"}
)
MULTI_KEYS = HASHED_KEYS | RAW_ID_KEYS | DPO_KEYS | {VALUE_KEY}

SINGLE_SHAPE = "HASHES_OR_USER_IDS"  # data_source.sub_type of single-key uploads
MULTI_SHAPE = "MULTI_HASHES"  # data_source.sub_type of multi-key uploads

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_MADID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DIGITS = re.compile(r"^[0-9]{1,20}$")


@dataclass(frozen=True)
class Row:
    """One valid row: identifiers that resolve it to a person, all fields, and its value."""

    identifiers: tuple[str, ...]
    fields: dict[str, str]
    value: float | None = None


@dataclass
class Batch:
    """A parsed payload: its schema, shape, valid rows and the invalid-entry report."""

    schema: tuple[str, ...]
    shape: str
    rows: list[Row] = field(default_factory=list)
    received: int = 0
    invalid: int = 0
    samples: dict[str, str] = field(default_factory=dict)

    @property
    def has_value(self) -> bool:
        """Whether the schema carries a LOOKALIKE_VALUE column."""
        return VALUE_KEY in self.schema

    def reject(self, entry: Any, reason: str) -> None:
        """Count a row as invalid and keep a sample of it."""
        self.invalid += 1
        if len(self.samples) < MAX_SAMPLES:
            key = entry if isinstance(entry, str) else json.dumps(entry, separators=(",", ":"))
            self.samples.setdefault(key, reason)


def parse_payload(raw: str | None) -> Batch:
    """Decode and validate a ``payload`` parameter; raise ``GraphError`` for request errors."""
    if raw is None or raw == "":
        raise errors.invalid_parameter("The parameter payload is required")
    try:
        payload = json.loads(raw)
    except ValueError:
        raise errors.invalid_json("payload") from None
    if not isinstance(payload, dict):
        raise errors.invalid_parameter("payload must be a JSON object with schema and data")
    schema, shape = _parse_schema(payload.get("schema"))
    _check_id_sources(schema, payload)
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise errors.invalid_parameter("payload.data must be a non-empty array of users")
    if len(data) > MAX_ROWS:
        raise errors.invalid_parameter(
            f"Too many users in one request: {len(data)} sent, at most {MAX_ROWS} allowed. "
            "Split the upload into batches of 10,000 with a session.",
            title="Too Many Users",
        )
    batch = Batch(schema=schema, shape=shape, received=len(data))
    for entry in data:
        if shape == SINGLE_SHAPE:
            _single_row(batch, entry)
        else:
            _multi_row(batch, entry)
    return batch


def check_value_column(batch: Batch, *, value_based: bool, adding: bool) -> None:
    """LOOKALIKE_VALUE is required to add to value-based audiences and invalid elsewhere."""
    if batch.has_value and not value_based:
        raise errors.invalid_parameter(
            "LOOKALIKE_VALUE can only be uploaded to a value-based custom audience "
            "(created with is_value_based=true)",
            title="Not a Value-Based Audience",
        )
    if value_based and adding and not batch.has_value:
        raise errors.invalid_parameter(
            "Uploads to a value-based custom audience must include the LOOKALIKE_VALUE key "
            "in a multi-key schema",
            title="Missing Customer Value",
        )


def _parse_schema(schema: object) -> tuple[tuple[str, ...], str]:
    if isinstance(schema, str):
        if schema not in SINGLE_KEY:
            raise errors.invalid_parameter(
                f"Invalid schema: {schema}. Use EMAIL_SHA256, PHONE_SHA256, "
                "MOBILE_ADVERTISER_ID or an array of multi-key fields",
                title="Invalid Schema",
            )
        return (schema,), SINGLE_SHAPE
    if not isinstance(schema, list) or not schema:
        raise errors.invalid_parameter("payload.schema is required", title="Invalid Schema")
    keys: list[str] = []
    for key in schema:
        if not isinstance(key, str) or key not in MULTI_KEYS:
            raise errors.invalid_parameter(
                f"Invalid schema key {key!r} in payload.schema", title="Invalid Schema"
            )
        if key in keys:
            raise errors.invalid_parameter(
                f"Duplicate schema key {key} in payload.schema", title="Invalid Schema"
            )
        keys.append(key)
    if not any(k in HASHED_KEYS or k in RAW_ID_KEYS for k in keys):
        raise errors.invalid_parameter(
            "payload.schema must contain at least one identifying key", title="Invalid Schema"
        )
    return tuple(keys), MULTI_SHAPE


def _check_id_sources(schema: tuple[str, ...], payload: dict[str, Any]) -> None:
    """App- and page-scoped user ids need the app_ids / page_ids they were collected by."""
    app_ids, page_ids = payload.get("app_ids"), payload.get("page_ids")
    for name, value in (("app_ids", app_ids), ("page_ids", page_ids)):
        if value is not None and not (isinstance(value, list) and all(_DIGITS.match(str(v)) for v in value)):
            raise errors.invalid_parameter(f"payload.{name} must be a list of ids")
    if "UID" in schema and not (app_ids or page_ids):
        raise errors.invalid_parameter("Custom Audiences with schema UID require app_ids")
    if "APPUID" in schema and not app_ids:
        raise errors.invalid_parameter("The APPUID key requires payload.app_ids")
    if "PAGEUID" in schema and not page_ids:
        raise errors.invalid_parameter("The PAGEUID key requires payload.page_ids")


def _single_row(batch: Batch, entry: object) -> None:
    kind = SINGLE_KEY[batch.schema[0]]
    if not isinstance(entry, str) or entry == "":
        batch.reject(entry, f"{batch.schema[0]}: expected a non-empty string")
        return
    problem, value = _check_field(kind, entry)
    if problem:
        batch.reject(entry, f"{batch.schema[0]}: {problem}")
        return
    batch.rows.append(Row(identifiers=(f"{kind}:{value}",), fields={kind: value}))


def _multi_row(batch: Batch, entry: object) -> None:
    if not isinstance(entry, list) or len(entry) != len(batch.schema):
        got = len(entry) if isinstance(entry, list) else "no"
        batch.reject(entry, f"Row has {got} values but the schema has {len(batch.schema)} keys")
        return
    fields: dict[str, str] = {}
    value: float | None = None
    for key, cell in zip(batch.schema, entry, strict=True):
        if key == VALUE_KEY:
            number = _lookalike_value(cell)
            if number is None:
                batch.reject(entry, "LOOKALIKE_VALUE: must be a non-negative number")
                return
            value = number
            continue
        if key in DPO_KEYS:
            if not _valid_dpo(key, cell):
                batch.reject(entry, f"{key}: invalid data processing option")
                return
            continue
        if cell is None or cell == "":
            continue  # "In case a key is unknown, it should be left blank"
        if not isinstance(cell, str):
            batch.reject(entry, f"{key}: expected a string")
            return
        problem, normalised = _check_field(key, cell)
        if problem:
            batch.reject(entry, f"{key}: {problem}")
            return
        fields[key] = normalised
    identifiers = _identifiers(fields)
    if not identifiers:
        batch.reject(entry, "Row has no identifying value")
        return
    batch.rows.append(Row(identifiers=identifiers, fields=fields, value=value))


def _check_field(key: str, cell: str) -> tuple[str | None, str]:
    """``(problem, normalised value)``; hashes are compared case-insensitively."""
    if key in HASHED_KEYS:
        if not _SHA256.match(cell):
            return "expected a SHA-256 hex digest of the normalised value", cell
        return None, cell.lower()
    if key == "MADID":
        if not (_MADID.match(cell) or _SHA256.match(cell)):
            return "expected a mobile advertiser id (IDFA/AAID)", cell
        return None, cell.lower()
    if key in ("UID", "APPUID", "PAGEUID"):
        if not _DIGITS.match(cell):
            return "expected a numeric user id", cell
        return None, cell
    return None, cell  # EXTERN_ID: the advertiser's own id, sent as is


def _identifiers(fields: dict[str, str]) -> tuple[str, ...]:
    strong = tuple(f"{k}:{v}" for k, v in sorted(fields.items()) if k in STRONG_KEYS)
    if strong:
        return strong
    if not fields:
        return ()
    # Only demographic keys: the combination is what identifies the person.
    return ("COMBO:" + "|".join(f"{k}={v}" for k, v in sorted(fields.items())),)


def _lookalike_value(cell: object) -> float | None:
    """A JSON number >= 0 (0 is allowed in the docs' own example); anything else is invalid."""
    if isinstance(cell, bool) or not isinstance(cell, (int, float)):
        return None
    number = float(cell)
    if math.isnan(number) or math.isinf(number) or number < 0:
        return None
    return number


def _valid_dpo(key: str, cell: object) -> bool:
    if key == "DATA_PROCESSING_OPTIONS":
        return isinstance(cell, list) and all(v == "LDU" for v in cell)
    if key == "DATA_PROCESSING_OPTIONS_COUNTRY":
        return cell in (0, 1, "0", "1", "", None)
    return cell in (0, 1000, "0", "1000", "", None)
