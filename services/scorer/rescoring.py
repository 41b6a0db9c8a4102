"""Full and incremental rescoring: aggregate in SQL, score in the domain, store, announce.

A full rescore fits the model and resolves the percentile cutoffs on every customer, stores that
calibration in ``scoring_runs`` and rewrites every label. An incremental rescore reuses the latest
stored calibration, so a handful of changed customers get exactly the labels a full rescore with
that calibration would give them; before the first full rescore there is none, so one runs.
Only material changes (``material_change``) reach ``label_history`` and ``labels.changed``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.scorer.adapters.aggregates import load_aggregates
from services.scorer.adapters.label_rebuild import drop_replaced
from services.scorer.adapters.labels import delete_labels, load_snapshot, reasons_list, write_labels
from services.scorer.adapters.outbox import queue_label_changes
from services.scorer.adapters.runs import FULL, latest_calibration, save_run
from services.scorer.domain import (
    Calibration,
    CalibrationMismatchError,
    LabelSnapshot,
    ScoredCustomers,
    material_change,
    score,
)
from services.scorer.history import load_history
from shared.definitions.scoring import ScoringConfig
from shared.log import get_logger
from shared.messages import LabelChanged
from shared.store.db import Store
from shared.store.models import Customer

log = get_logger(__name__)


@dataclass
class RescoreResult:
    """What a rescore did, for the CLI summary, the run record and the logs."""

    mode: str
    customers: int = 0
    changed: int = 0
    erased: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    stages: Counter[str] = field(default_factory=Counter)
    value_by_label: dict[str, float] = field(default_factory=dict)
    method: str = ""
    value_choice: dict[str, object] = field(default_factory=dict)  # method, reason, backtest figures
    seconds: dict[str, float] = field(default_factory=dict)  # aggregate, aggregate_history, score, write
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # the same stages, this process's CPU

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Record a stage's wall and CPU time (all threads of this process: SQLite works in them)."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[stage] = time.perf_counter() - wall
            self.cpu_seconds[stage] = time.process_time() - cpu

    def summary(self) -> dict[str, object]:
        """JSON-ready counts for ``scoring_runs.summary``."""
        return {
            "labels": dict(self.labels),
            "stages": dict(self.stages),
            "value_by_label": self.value_by_label,
            "method": self.method,
            "value_choice": self.value_choice,
            "erased": self.erased,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "cpu_seconds": {k: round(v, 3) for k, v in self.cpu_seconds.items()},
        }


def _changes(
    scored: ScoredCustomers, previous: LabelSnapshot, changed: npt.NDArray[np.bool_]
) -> Iterator[LabelChanged]:
    for i in np.flatnonzero(changed).tolist():
        value = float(scored.value[i])
        yield LabelChanged(
            customer_key=str(scored.customer_key[i]),
            label=str(scored.label[i]),
            previous_label=previous.label[i],
            stage=str(scored.stage[i]),
            value=round(value, 4) if np.isfinite(value) else None,
            reasons=tuple(reasons_list(str(scored.reasons[i]))),
        )


def _store(
    session: Session,
    scored: ScoredCustomers,
    config: ScoringConfig,
    result: RescoreResult,
    *,
    as_of: datetime,
    announce: bool,
    rebuild: bool = False,
    previous: LabelSnapshot | None = None,
) -> None:
    """Compare with the stored labels (``previous``, read on ``session`` if not given), queue the
    material changes, write the labels (last: a ``rebuild`` holds its locks until the commit)."""
    if previous is None or not np.array_equal(previous.customer_key, scored.customer_key):
        previous = load_snapshot(session, scored.customer_key)
    changed = material_change(previous, scored.snapshot(), config.material_change)
    if announce:
        queue_label_changes(session, _changes(scored, previous, changed))
    write_labels(session, scored, changed, as_of=as_of, scored_at=datetime.now(UTC), rebuild=rebuild)
    result.customers += len(scored)
    result.changed += int(changed.sum())
    result.labels.update(scored.label.tolist())
    result.stages.update(scored.stage.tolist())
    for name in result.labels:
        total = float(scored.value[scored.label == name].sum())
        result.value_by_label[name] = result.value_by_label.get(name, 0.0) + total
    result.method = scored.calibration.model.method


def full_rescore(
    store: Store, config: ScoringConfig, *, as_of: datetime, announce: bool
) -> tuple[RescoreResult, ScoredCustomers]:
    """Rescore every customer from facts up to ``as_of``; store labels and the calibration."""
    started = datetime.now(UTC)
    result = RescoreResult(FULL)
    with result.timed("aggregate"), store.session() as session:
        aggregates = load_aggregates(session, as_of)
    with result.timed("aggregate_history"), store.session() as session:
        history = load_history(session, aggregates, as_of, config.model)
    drop_replaced(store)  # a table an earlier rebuild could not drop, before locking anything
    with store.transaction() as session:
        # SQLite: the stored labels are read on the write transaction while the domain scores
        # (1,000,000 customers: ~2 s less; the write lock is taken that much earlier). Not on
        # PostgreSQL: ~1 s less there, but ~130 MiB more at the peak (1,451 MiB).
        with result.timed("score"), ThreadPoolExecutor(1, thread_name_prefix="label-snapshot") as pool:
            beside = store.dialect == "sqlite"
            stored = pool.submit(load_snapshot, session, aggregates.customer_key) if beside else None
            scored = score(aggregates, config, as_of, history=history)
            del aggregates, history
            previous = stored.result() if stored is not None else None
        result.value_choice = scored.calibration.value_choice.to_dict()
        result.value_choice.pop("learned")  # the model itself is in the calibration
        with result.timed("write"):
            _store(
                session,
                scored,
                config,
                result,
                as_of=as_of,
                announce=announce,
                rebuild=True,
                previous=previous,
            )
        save_run(
            session,
            mode=FULL,
            profile=config.profile,
            as_of=as_of,
            started_at=started,
            finished_at=datetime.now(UTC),
            customers=result.customers,
            changed=result.changed,
            calibration=scored.calibration,
            summary=result.summary(),
        )
    with result.timed("drop_replaced"):
        drop_replaced(store)
    seconds = {stage: round(value, 3) for stage, value in result.seconds.items()}
    log.info("rescore.full", customers=result.customers, changed=result.changed, **seconds)
    return result, scored


def erase(session: Session, keys: Collection[str]) -> int:
    """Delete erased customers' labels and announce their removal; returns how many."""
    previous = delete_labels(session, sorted(keys))
    return queue_label_changes(
        session,
        (LabelChanged(key, None, previous_label=label, erased=True) for key, label in previous.items()),
    )


# A calibration from a much smaller shop (the first messages of an initial import) misjudges
# everyone who came after: recalibrate once the shop has doubled. Counting is cheap below this.
GROWTH_CHECK_BELOW = 100_000


def _usable(session: Session, calibration: Calibration | None, config: ScoringConfig) -> bool:
    """A stored calibration for this profile, from a shop at least half today's size."""
    if calibration is None or calibration.profile != config.profile:
        return False
    if calibration.customers >= GROWTH_CHECK_BELOW:
        return True
    customers = session.scalar(select(func.count()).select_from(Customer)) or 0
    return customers <= 2 * calibration.customers + 50


def rescore_customers(
    store: Store,
    config: ScoringConfig,
    keys: Collection[str],
    *,
    erased: Collection[str] = (),
    now: datetime,
) -> RescoreResult:
    """Rescore ``keys`` as of ``now`` with the stored calibration; erase ``erased``.

    Customers no longer in the store (deleted with all their facts) are treated as erased.
    Without a usable calibration (none yet, another profile, or the shop has doubled since) a
    full rescore runs instead.
    """
    result = RescoreResult("incremental")
    wanted = sorted(set(keys) - set(erased))
    with store.transaction() as session:
        result.erased = erase(session, set(erased)) if erased else 0
        calibration = latest_calibration(session)
        usable = bool(wanted) and _usable(session, calibration, config)
        if not usable:
            scored = None
        else:
            aggregates = load_aggregates(session, now, keys=wanted)
            gone = set(wanted) - set(aggregates.customer_key.tolist())
            result.erased += erase(session, gone) if gone else 0
            try:
                scored = score(aggregates, config, now, calibration=calibration) if len(aggregates) else None
            except CalibrationMismatchError:
                usable, scored = False, None
            if scored is not None:
                _store(session, scored, config, result, as_of=now, announce=True)
    if wanted and not usable:
        log.info("rescore.no_calibration", profile=config.profile, customers=len(wanted))
        full, _ = full_rescore(store, config, as_of=now, announce=True)
        full.erased = result.erased
        return full
    return result
