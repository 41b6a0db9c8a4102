"""The staging table a rescore's labels pass through on their way into ``labels``.

Rows are loaded in bulk (PostgreSQL ``COPY``, SQLite ``executemany`` on the raw connection) as
plain columns, numbers rounded in numpy; the compact ``features`` JSON is then built by the
database (``json_build_object`` / ``json_object``) while copying into ``labels``: formatting a
million JSON objects in Python would cost more than the rest of the write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.scorer.domain import ScoredCustomers

CHUNK = 50_000
TABLE = "label_stage"

# Feature name -> decimals kept. All come from ``ScoredCustomers.features`` except these:
# Kept short on purpose: every value costs a formatting step per customer on each full rescore.
FEATURES: tuple[tuple[str, int], ...] = (
    ("aov", 2),
    ("ltv", 2),
    ("orders_per_year", 3),
    ("return_rate", 3),
    ("discount_share", 3),
    ("mean_discount_depth", 3),
    ("min_discount_depth", 3),
    ("tickets_per_order", 3),
    ("recency_days", 1),
    ("expected_orders", 3),
)
FROM_PREDICTION = frozenset({"expected_orders"})
TEXT_FEATURES = ("country", "channel", "top_category")

# (column, PostgreSQL type, SQLite type)
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("customer_key", "varchar(64)", "TEXT"),
    ("label", "varchar(16)", "TEXT"),
    ("stage", "varchar(24)", "TEXT"),
    ("reasons", "json", "TEXT"),
    ("value", "double precision", "REAL"),
    ("p_alive", "double precision", "REAL"),
    ("changed", "boolean", "INTEGER"),
    ("orders", "bigint", "INTEGER"),
    *((name, "double precision", "REAL") for name, _ in FEATURES),
    *((name, "text", "TEXT") for name in TEXT_FEATURES),
    ("accepts_email", "boolean", "INTEGER"),
)
COLUMN_NAMES = tuple(name for name, _, _ in _COLUMNS)
# Each column's type as written by a binary COPY (no per-field type on the wire: json arrives as
# its text, which the server parses as it would a text COPY's).
_BINARY = {"double precision": "float8", "boolean": "bool", "bigint": "int8"}  # else text
BINARY_TYPES = tuple(_BINARY.get(pg, "text") for _, pg, _ in _COLUMNS)


def create(session: Session) -> None:
    """An empty staging table for this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        columns = ", ".join(f"{name} {pg}" for name, pg, _ in _COLUMNS)
        session.execute(text(f"CREATE TEMP TABLE {TABLE} ({columns}) ON COMMIT DROP"))
    else:
        session.execute(text(f"DROP TABLE IF EXISTS temp.{TABLE}"))
        columns = ", ".join(f"{name} {lite}" for name, _, lite in _COLUMNS)
        session.execute(text(f"CREATE TEMP TABLE {TABLE} ({columns})"))


def drop(session: Session) -> None:
    """Drop the staging table (PostgreSQL drops it at commit by itself)."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(text(f"DROP TABLE temp.{TABLE}"))


def features_sql(dialect: str) -> str:
    """The SQL expression building ``features`` JSON from a staging row ``s`` (NaN -> null)."""
    numbers = [("orders", "s.orders")]
    if dialect == "postgresql":
        numbers += [(name, f"NULLIF(s.{name}, 'NaN')") for name, _ in FEATURES]
        pairs = [*numbers, *((n, f"s.{n}") for n in TEXT_FEATURES), ("accepts_email", "s.accepts_email")]
        return "json_build_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"
    numbers += [(name, f"s.{name}") for name, _ in FEATURES]  # SQLite stores NaN as NULL already
    flag = "json(CASE WHEN s.accepts_email THEN 'true' ELSE 'false' END)"
    pairs = [*numbers, *((n, f"s.{n}") for n in TEXT_FEATURES), ("accepts_email", flag)]
    return "json_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"


LABEL_COLUMNS = "customer_key, label, stage, reasons, value, p_alive, features, as_of, scored_at"


def labels_select(dialect: str, *, only_known: bool = True) -> str:
    """``labels`` rows (``LABEL_COLUMNS``) from the staged ones, ``:as_of`` and ``:scored_at``
    bound; rows of customers deleted meanwhile (an erasure racing the rescore) are left out
    unless ``only_known`` is False (a caller that drops them itself)."""
    # NaN values (none expected) become NULL: NULLIF on PostgreSQL, SQLite stores NaN as NULL.
    value = "NULLIF(s.value, 'NaN')" if dialect == "postgresql" else "s.value"
    p_alive = "NULLIF(s.p_alive, 'NaN')" if dialect == "postgresql" else "s.p_alive"
    return f"""
        SELECT s.customer_key, s.label, s.stage, s.reasons, {value}, {p_alive}, {features_sql(dialect)},
               :as_of, :scored_at
        FROM {TABLE} s{" JOIN customers c ON c.customer_key = s.customer_key" if only_known else ""}"""  # noqa: S608 - constant fragments only


def _rounded(values: npt.NDArray[np.float64], digits: int) -> list[float]:
    finite = np.where(np.isfinite(values), values, np.nan)
    rounded: list[float] = np.round(finite, digits).tolist()
    return rounded


def reasons_json(reasons: Sequence[str]) -> list[str]:
    """``a;b`` reason strings as JSON lists (``[]`` for none); reasons hold no quotes."""
    import json

    out = []
    for r in reasons:
        if not r:
            out.append("[]")
        elif '"' in r or "\\" in r:
            out.append(json.dumps(r.split(";")))
        else:
            out.append('["' + r.replace(";", '","') + '"]')
    return out


def rows(scored: ScoredCustomers, changed: npt.NDArray[np.bool_]) -> Iterator[list[tuple[Any, ...]]]:
    """Staging rows in chunks, in ``COLUMN_NAMES`` order."""
    f = scored.features
    for start in range(0, len(scored), CHUNK):
        part = slice(start, start + CHUNK)
        columns: list[list[Any]] = [
            scored.customer_key[part].tolist(),
            scored.label[part].tolist(),
            scored.stage[part].tolist(),
            reasons_json(scored.reasons[part].tolist()),
            _rounded(scored.value[part], 4),
            _rounded(scored.p_alive[part], 6),
            changed[part].tolist(),
            f.orders[part].astype(np.int64).tolist(),
        ]
        for name, digits in FEATURES:
            source = scored if name in FROM_PREDICTION else f
            columns.append(_rounded(getattr(source, name)[part], digits))
        columns += [[v or "" for v in getattr(f, name)[part].tolist()] for name in TEXT_FEATURES]
        columns.append(f.accepts_email[part].tolist())
        yield list(zip(*columns, strict=True))


def fill(session: Session, scored: ScoredCustomers, changed: npt.NDArray[np.bool_]) -> None:
    """Create the staging table and load every scored customer into it."""
    create(session)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    if session.get_bind().dialect.name == "postgresql":
        # Binary: no number formatted as text by psycopg and parsed back by the server (14 a row).
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {TABLE} ({', '.join(COLUMN_NAMES)}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(list(BINARY_TYPES))
            for chunk in rows(scored, changed):
                for row in chunk:
                    copy.write_row(row)
        return
    marks = ", ".join("?" * len(COLUMN_NAMES))
    cursor = raw.cursor()
    try:
        for chunk in rows(scored, changed):
            cursor.executemany(f"INSERT INTO temp.{TABLE} VALUES ({marks})", chunk)  # noqa: S608 - constant
    finally:
        cursor.close()
