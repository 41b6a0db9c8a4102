"""Reads of the stored labels for the export and the ICP report (streamed, never per customer)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from services.scorer.adapters.aggregates import CHUNK_ROWS
from shared.store.models import Customer, Label, Order
from shared.store.types import UtcDateTime


@dataclass(frozen=True)
class ExportRow:
    """One customer's label with the shop's own customer id, as the export writes it."""

    customer_key: str
    customer_id: str | None
    label: str
    stage: str | None
    reasons: list[str]
    value: float | None
    p_alive: float | None
    features: dict[str, Any]
    as_of: datetime


def export_rows(session: Session) -> Iterator[ExportRow]:
    """Every labelled customer, in key order, streamed."""
    query = (
        select(
            Label.customer_key,
            Customer.shop_customer_id,
            Label.label,
            Label.stage,
            Label.reasons,
            Label.value,
            Label.p_alive,
            Label.features,
            Label.as_of,
        )
        .join(Customer, Customer.customer_key == Label.customer_key)
        .order_by(Label.customer_key)
    )
    result = session.execute(query, execution_options={"yield_per": CHUNK_ROWS})
    for key, shop_id, label, stage, reasons, value, p_alive, features, as_of in result:
        yield ExportRow(
            key,
            shop_id,
            label,
            stage,
            list(reasons or []),
            None if value is None else float(value),
            p_alive,
            dict(features or {}),
            as_of,
        )


@dataclass(frozen=True)
class LabelColumns:
    """The stored labels as columns, for the report's computations."""

    customer_key: npt.NDArray[np.object_]
    label: npt.NDArray[np.object_]
    reasons: list[list[str]]
    value: npt.NDArray[np.float64]
    features: dict[str, npt.NDArray[Any]]


def label_columns(session: Session, numbers: tuple[str, ...], texts: tuple[str, ...]) -> LabelColumns:
    """Label, reasons, value and the named ``features`` of every labelled customer."""
    keys: list[str] = []
    labels: list[str] = []
    reasons: list[list[str]] = []
    values: list[float] = []
    feature_rows: list[dict[str, Any]] = []
    query = select(Label.customer_key, Label.label, Label.reasons, Label.value, Label.features)
    for key, label, why, value, features in session.execute(
        query, execution_options={"yield_per": CHUNK_ROWS}
    ):
        keys.append(key)
        labels.append(label)
        reasons.append(list(why or []))
        values.append(np.nan if value is None else float(value))
        feature_rows.append(features or {})
    columns: dict[str, npt.NDArray[Any]] = {}
    for name in numbers:
        raw = [row.get(name) for row in feature_rows]
        columns[name] = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
    for name in texts:
        columns[name] = np.array([row.get(name) or "" for row in feature_rows], dtype=object)
    return LabelColumns(
        np.array(keys, dtype=object),
        np.array(labels, dtype=object),
        reasons,
        np.array(values, dtype=np.float64),
        columns,
    )


def current_labels(session: Session) -> dict[str, str]:
    """Every customer's current label."""
    result = session.execute(
        select(Label.customer_key, Label.label), execution_options={"yield_per": CHUNK_ROWS}
    )
    return {key: label for key, label in result}


def labels_at(session: Session, moment: datetime) -> dict[str, str]:
    """Each customer's label as it stood at ``moment``: their latest history row by then."""
    query = text(
        """SELECT h.customer_key, h.label FROM label_history h JOIN (
               SELECT MAX(id) AS id FROM label_history WHERE scored_at <= :moment GROUP BY customer_key
           ) latest ON latest.id = h.id"""
    ).bindparams(bindparam("moment", type_=UtcDateTime()))
    result = session.execute(query, {"moment": moment}, execution_options={"yield_per": CHUNK_ROWS})
    return {key: label for key, label in result}


def last_order_at(session: Session) -> datetime | None:
    """When the latest stored order was placed (the default end of a backtest's holdout)."""
    return session.scalar(select(func.max(Order.created_at)))
