"""The label store: current labels upserted in bulk, history for changed rows, erasures.

A million labels are written set-based: rows go into a temporary staging table (PostgreSQL
``COPY``, SQLite ``executemany`` on the raw connection, in chunks), then one
``INSERT .. SELECT .. ON CONFLICT DO UPDATE`` upserts ``labels`` and one ``INSERT .. SELECT``
appends ``label_history`` for the rows flagged as changed. Rows of customers deleted meanwhile
(an erasure racing the rescore) are skipped by joining ``customers``.

``label_history`` holds exactly the changes announced on ``labels.changed`` (label, stage or a
material value move), so "the label at time T" is the latest history row at or before T.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.orm import Session

from services.scorer.adapters.aggregates import CHUNK_ROWS, KEY_BATCH, byte_keys
from services.scorer.domain import LabelSnapshot, ScoredCustomers
from shared.store.models import Label, LabelHistory
from shared.store.types import UtcDateTime

# What ``labels.features`` keeps per customer: enough for the export and the ICP report.
MONEY_FEATURES = ("aov", "ltv")
NUMBER_FEATURES = (
    "orders",
    "orders_per_year",
    "return_rate",
    "return_rate_orders",
    "discount_share",
    "mean_discount_depth",
    "min_discount_depth",
    "tickets_per_order",
    "recency_days",
    "tenure_days",
)
TEXT_FEATURES = ("country", "channel", "top_category")
PREDICTION_FEATURES = ("expected_orders",)

_STAGE_COLUMNS = "customer_key, label, stage, reasons, value, p_alive, features, changed"
_STAGE_DDL = {
    "postgresql": "CREATE TEMP TABLE label_stage (customer_key varchar(64), label varchar(16), "
    "stage varchar(24), reasons json, value numeric(18, 4), p_alive double precision, features json, "
    "changed boolean) ON COMMIT DROP",
    "sqlite": "CREATE TEMP TABLE label_stage (customer_key VARCHAR(64), label VARCHAR(16), stage VARCHAR(24), "
    "reasons TEXT, value NUMERIC(18, 4), p_alive FLOAT, features TEXT, changed BOOLEAN)",
}
_UPSERT = f"""
    INSERT INTO labels (customer_key, label, stage, reasons, value, p_alive, features, as_of, scored_at)
    SELECT s.customer_key, s.label, s.stage, s.reasons, s.value, s.p_alive, s.features, :as_of, :scored_at
    FROM label_stage s JOIN customers c ON c.customer_key = s.customer_key
    WHERE 1 = 1
    ON CONFLICT (customer_key) DO UPDATE SET
        {", ".join(f"{c} = excluded.{c}" for c in Label.__table__.columns.keys() if c != "customer_key")}"""
_HISTORY = """
    INSERT INTO label_history (customer_key, label, stage, reasons, value, scored_at)
    SELECT s.customer_key, s.label, s.stage, s.reasons, s.value, :scored_at
    FROM label_stage s JOIN customers c ON c.customer_key = s.customer_key
    WHERE s.changed"""
_TIME = UtcDateTime()


def _numbers(values: npt.NDArray[np.float64], digits: int) -> list[str]:
    """JSON numbers with ``digits`` decimals; NaN and infinities become null."""
    finite = np.where(np.isfinite(values), values, np.nan)
    return [f"{v:.{digits}f}" if v == v else "null" for v in finite.tolist()]


def _texts(values: npt.NDArray[np.object_]) -> list[str]:
    """JSON strings, each distinct value encoded once (countries and channels repeat)."""
    plain = values.tolist()
    encoded = {v: json.dumps(v or "") for v in set(plain)}
    return [encoded[v] for v in plain]


def features_json(scored: ScoredCustomers, rows: slice) -> list[str]:
    """The compact ``features`` JSON of each customer in ``rows``."""
    f = scored.features
    columns: list[tuple[str, list[str]]] = []
    columns += [(name, _numbers(getattr(f, name)[rows], 2)) for name in MONEY_FEATURES]
    columns += [(name, _numbers(getattr(f, name)[rows], 4)) for name in NUMBER_FEATURES]
    columns += [(name, _numbers(getattr(scored, name)[rows], 4)) for name in PREDICTION_FEATURES]
    columns += [(name, _texts(getattr(f, name)[rows])) for name in TEXT_FEATURES]
    columns += [("accepts_email", ["true" if v else "false" for v in f.accepts_email[rows].tolist()])]
    template = "{" + ",".join(f'"{name}":%s' for name, _ in columns) + "}"
    return [template % values for values in zip(*(c for _, c in columns), strict=True)]


def reasons_json(reasons: Sequence[str]) -> list[str]:
    """``a;b`` reason strings as JSON lists (``[]`` for none)."""
    out = []
    for r in reasons:
        if not r:
            out.append("[]")
        elif '"' in r or "\\" in r:
            out.append(json.dumps(r.split(";")))
        else:
            out.append('["' + r.replace(";", '","') + '"]')
    return out


def reasons_list(reasons: str) -> list[str]:
    """One ``ScoredCustomers.reasons`` entry as the list stored and sent."""
    return reasons.split(";") if reasons else []


def _stage_rows(scored: ScoredCustomers, changed: npt.NDArray[np.bool_]) -> Iterator[list[tuple[Any, ...]]]:
    """Staging rows in chunks (values as exact 4-decimal text for the Numeric column)."""
    for start in range(0, len(scored), CHUNK_ROWS):
        rows = slice(start, start + CHUNK_ROWS)
        value = _numbers(scored.value[rows], 4)
        p_alive = [v if v == v else None for v in scored.p_alive[rows].tolist()]
        yield list(
            zip(
                scored.customer_key[rows].tolist(),
                scored.label[rows].tolist(),
                scored.stage[rows].tolist(),
                reasons_json(scored.reasons[rows].tolist()),
                [None if v == "null" else v for v in value],
                p_alive,
                features_json(scored, rows),
                changed[rows].tolist(),
                strict=True,
            )
        )


def _fill_stage(session: Session, scored: ScoredCustomers, changed: npt.NDArray[np.bool_]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(text("DROP TABLE IF EXISTS temp.label_stage"))
    session.execute(text(_STAGE_DDL[dialect]))
    raw = session.connection().connection.driver_connection
    assert raw is not None
    if dialect == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY label_stage ({_STAGE_COLUMNS}) FROM STDIN") as copy:
            for chunk in _stage_rows(scored, changed):
                for row in chunk:
                    copy.write_row(row)
    else:
        cursor = raw.cursor()
        try:
            for chunk in _stage_rows(scored, changed):
                cursor.executemany("INSERT INTO temp.label_stage VALUES (?, ?, ?, ?, ?, ?, ?, ?)", chunk)
        finally:
            cursor.close()


def write_labels(
    session: Session,
    scored: ScoredCustomers,
    changed: npt.NDArray[np.bool_],
    *,
    as_of: datetime,
    scored_at: datetime,
) -> None:
    """Upsert every scored customer's label; append history for the ``changed`` ones."""
    if len(scored) == 0:
        return
    _fill_stage(session, scored, changed)
    times = {"as_of": as_of, "scored_at": scored_at}
    upsert = text(_UPSERT).bindparams(bindparam("as_of", type_=_TIME), bindparam("scored_at", type_=_TIME))
    session.execute(upsert, times)
    history = text(_HISTORY).bindparams(bindparam("scored_at", type_=_TIME))
    session.execute(history, {"scored_at": scored_at})
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DROP TABLE temp.label_stage"))


def load_snapshot(session: Session, keys: npt.NDArray[np.object_]) -> LabelSnapshot:
    """Stored label, stage and value for ``keys``, in their order; absent customers get
    label and stage None and value NaN (which ``material_change`` flags as changed)."""
    n = len(keys)
    label = np.full(n, None, dtype=object)
    stage = np.full(n, None, dtype=object)
    value = np.full(n, np.nan)
    if n == 0:
        return LabelSnapshot(keys, label, stage, value)
    wide = byte_keys(keys.tolist())
    order = np.argsort(wide, kind="stable")
    ordered = wide[order]
    names: dict[Any, Any] = {}  # one str object per distinct label / stage, not a million copies
    for chunk in _stored_labels(session, keys, full=n > KEY_BATCH * 20):
        cols = list(zip(*chunk, strict=True))
        found = byte_keys(cols[0])
        pos = np.minimum(np.searchsorted(ordered, found), n - 1)
        hit = ordered[pos] == found
        rows = order[pos[hit]]
        label[rows] = np.array([names.setdefault(v, v) for v in cols[1]], dtype=object)[hit]
        stage[rows] = np.array([names.setdefault(v, v) for v in cols[2]], dtype=object)[hit]
        value[rows] = np.array(cols[3], dtype=np.float64)[hit]
    return LabelSnapshot(keys, label, stage, value)


def _stored_labels(session: Session, keys: npt.NDArray[np.object_], *, full: bool) -> Iterator[list[Any]]:
    """Stored rows of ``keys``: a full scan when most customers are asked for, else IN batches."""
    columns = select(Label.customer_key, Label.label, Label.stage, Label.value)
    if full:
        result = session.execute(columns, execution_options={"yield_per": CHUNK_ROWS})
        for part in result.partitions(CHUNK_ROWS):
            yield list(part)
        return
    wanted = keys.tolist()
    for start in range(0, len(wanted), KEY_BATCH):
        batch = wanted[start : start + KEY_BATCH]
        rows = list(session.execute(columns.where(Label.customer_key.in_(batch))))
        if rows:
            yield rows


def delete_labels(session: Session, keys: Sequence[str]) -> dict[str, str | None]:
    """Forget erased customers' labels and label history; returns each one's last label."""
    previous: dict[str, str | None] = dict.fromkeys(keys)
    for start in range(0, len(keys), KEY_BATCH):
        batch = list(keys[start : start + KEY_BATCH])
        latest = select(LabelHistory.customer_key, LabelHistory.label).where(
            LabelHistory.customer_key.in_(batch)
        )
        for key, label in session.execute(latest.order_by(LabelHistory.id)):
            previous[key] = label
        current = select(Label.customer_key, Label.label).where(Label.customer_key.in_(batch))
        previous.update(dict(session.execute(current).tuples().all()))
        session.execute(delete(Label).where(Label.customer_key.in_(batch)))
        session.execute(delete(LabelHistory).where(LabelHistory.customer_key.in_(batch)))
    return previous
