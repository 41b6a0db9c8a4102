"""The label store: current labels upserted in bulk, history for changed rows, erasures.

A million labels are written set-based: rows go into a temporary staging table
(``label_stage``), then one ``INSERT .. SELECT .. ON CONFLICT DO UPDATE`` upserts ``labels``
(building the features JSON in the database), or for a full rescore a new table is filled and
swapped in (``label_rebuild``), and one ``INSERT .. SELECT`` appends ``label_history`` for the
rows flagged as changed. Rows of customers deleted meanwhile (an erasure racing the rescore) are
skipped by joining ``customers``; a rebuild drops them where it adds its foreign key instead.

``label_history`` holds exactly the changes announced on ``labels.changed`` (label, stage or a
material value move), so "the label at time T" is the latest history row at or before T.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.orm import Session

from services.scorer.adapters import label_stage as stage
from services.scorer.adapters.aggregates import CHUNK_ROWS, KEY_BATCH, positions, row_positions
from services.scorer.adapters.label_rebuild import forget_erased_history, rebuild_labels
from services.scorer.domain import LabelSnapshot, ScoredCustomers
from shared.store.models import Label, LabelHistory
from shared.store.types import UtcDateTime

_TIME = UtcDateTime()


def _upsert_sql(dialect: str) -> str:
    names = [c.name for c in Label.__table__.columns if c.name != "customer_key"]
    updates = ", ".join(f"{n} = excluded.{n}" for n in names)
    return f"""
        INSERT INTO labels ({stage.LABEL_COLUMNS}) {stage.labels_select(dialect)}
        WHERE 1 = 1
        ON CONFLICT (customer_key) DO UPDATE SET {updates}"""


def _history_sql(dialect: str, *, only_known: bool = True) -> str:
    value = "NULLIF(s.value, 'NaN')" if dialect == "postgresql" else "s.value"
    known = " JOIN customers c ON c.customer_key = s.customer_key" if only_known else ""
    return f"""
        INSERT INTO label_history (customer_key, label, stage, reasons, value, scored_at)
        SELECT s.customer_key, s.label, s.stage, s.reasons, {value}, :scored_at
        FROM {stage.TABLE} s{known}
        WHERE s.changed"""  # noqa: S608 - constant fragments only


def reasons_list(reasons: str) -> list[str]:
    """One ``ScoredCustomers.reasons`` entry as the list stored and sent."""
    return reasons.split(";") if reasons else []


def write_labels(
    session: Session,
    scored: ScoredCustomers,
    changed: npt.NDArray[np.bool_],
    *,
    as_of: datetime,
    scored_at: datetime,
    rebuild: bool = False,
) -> None:
    """Store every scored customer's label; append history for the ``changed`` ones.

    ``rebuild`` (a full rescore, called last in its transaction): on PostgreSQL the table is
    rebuilt and swapped in (``label_rebuild``) instead of upserted row by row. SQLite upserts:
    measured at 1,000,000 customers, its rebuild cost more than the upsert (dropping the old
    table alone ~3 s, writing every page anew).
    """
    if len(scored) == 0:
        return
    dialect = session.get_bind().dialect.name
    stage.fill(session, scored, changed)
    rebuilding = rebuild and dialect == "postgresql"
    # A rebuild appends the history without joining customers (a first rescore's 1,000,000 rows:
    # ~1.4 s less); the rows of customers erased since the staging are deleted where the rebuild
    # meets them at its foreign key, or below when it upserts instead.
    history = text(_history_sql(dialect, only_known=not rebuilding))
    session.execute(history.bindparams(bindparam("scored_at", type_=_TIME)), {"scored_at": scored_at})
    rebuilt = rebuilding and rebuild_labels(session, as_of=as_of, scored_at=scored_at)
    if rebuilding and not rebuilt:
        forget_erased_history(session, scored_at=scored_at)
    if not rebuilt:
        upsert = text(_upsert_sql(dialect))
        times = {"as_of": as_of, "scored_at": scored_at}
        session.execute(
            upsert.bindparams(bindparam("as_of", type_=_TIME), bindparam("scored_at", type_=_TIME)), times
        )
    stage.drop(session)


def load_snapshot(session: Session, keys: npt.NDArray[np.object_]) -> LabelSnapshot:
    """Stored label, stage and value for ``keys``, in their order; absent customers get
    label and stage None and value NaN (which ``material_change`` flags as changed)."""
    n = len(keys)
    label = np.full(n, None, dtype=object)
    stage = np.full(n, None, dtype=object)
    value = np.full(n, np.nan)
    if n == 0:
        return LabelSnapshot(keys, label, stage, value)
    ordered = _InOrder(keys)
    names: dict[Any, Any] = {}  # one str object per distinct label / stage, not a million copies
    for chunk in _stored_labels(session, keys, full=n > KEY_BATCH * 20):
        cols = list(zip(*chunk, strict=True))
        found = ordered.positions(cols[0])
        hit = found >= 0
        rows = found[hit]
        label[rows] = np.array([names.setdefault(v, v) for v in cols[1]], dtype=object)[hit]
        stage[rows] = np.array([names.setdefault(v, v) for v in cols[2]], dtype=object)[hit]
        value[rows] = np.array(cols[3], dtype=np.float64)[hit]
    return LabelSnapshot(keys, label, stage, value)


class _InOrder:
    """Rows of ``keys`` (sorted) for chunks of stored keys, often stored in the same order.

    SQLite keeps the labels table in the order a first full rescore inserted it, by key, so a
    chunk of its rows is most often a run of ``keys``: checked by comparing the run instead of
    looking each key up (1,000,000 labels: ~0.9 s of ~2.8 s of CPU). Any other chunk (a rebuilt
    PostgreSQL table is only nearly in key order, and its scans may start mid-table) is looked
    up key by key.
    """

    def __init__(self, keys: npt.NDArray[np.object_]) -> None:
        self.keys = keys
        self.listed: list[str] = keys.tolist()
        self.rows: dict[str, int] | None = None  # built for the first chunk out of order

    def positions(self, stored: Sequence[str]) -> npt.NDArray[np.intp]:
        """The rows of ``stored`` (-1 for a key not among ``keys``)."""
        start = int(np.searchsorted(self.keys, stored[0])) if stored else 0
        if self.listed[start : start + len(stored)] == list(stored):
            return np.arange(start, start + len(stored), dtype=np.intp)
        if self.rows is None:
            self.rows = row_positions(self.keys)
        return positions(self.rows, stored)


def _stored_labels(session: Session, keys: npt.NDArray[np.object_], *, full: bool) -> Iterator[list[Any]]:
    """Stored rows of ``keys``: a full scan when most customers are asked for, else IN batches."""
    columns = "SELECT customer_key, label, stage, CAST(value AS DOUBLE PRECISION) FROM labels"
    if full:
        # The raw driver cursor: a million rows without a Row object or a Decimal each.
        raw = session.connection().connection.driver_connection
        assert raw is not None
        postgres = session.get_bind().dialect.name == "postgresql"
        # Binary on PostgreSQL: values not formatted as text and parsed back (see ``aggregates``).
        cursor = raw.cursor(name="label_snapshot", binary=True) if postgres else raw.cursor()
        try:
            cursor.execute(columns)
            while chunk := cursor.fetchmany(CHUNK_ROWS):
                yield chunk
        finally:
            cursor.close()
        return
    wanted = keys.tolist()
    query = text(columns + " WHERE customer_key IN :keys").bindparams(bindparam("keys", expanding=True))
    for start in range(0, len(wanted), KEY_BATCH):
        rows = list(session.execute(query, {"keys": wanted[start : start + KEY_BATCH]}))
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
        previous.update({key: label for key, label in session.execute(current)})
        session.execute(delete(Label).where(Label.customer_key.in_(batch)))
        session.execute(delete(LabelHistory).where(LabelHistory.customer_key.in_(batch)))
    return previous
