"""The shop at the value-model backtest's earlier cuts, read from the store for a full rescore.

``value_choice`` decides between BG/NBD + Gamma-Gamma, the learned model and their blend on the
shop's latest window; it needs the same customers' aggregates as of ``T - 2h`` and ``T - h``
(``value_choice.cuts``). Two more aggregation passes, over a sample of at most
``learned_sample`` customers, skipped when the learned model is off or the shop too small or its
history too short to use them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from services.scorer.adapters.aggregates import load_aggregates
from services.scorer.domain import CustomerAggregates, epoch_days
from services.scorer.domain.value_choice import MIN_STEP_DAYS, History, cuts
from shared.definitions.scoring import ModelConfig

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def moment(days: float) -> datetime:
    """Epoch days as an aware UTC datetime."""
    return _EPOCH + timedelta(days=days)


def load_history(
    session: Session, now: CustomerAggregates, as_of: datetime, config: ModelConfig
) -> History | None:
    """``now``'s customers as of the two earlier cuts; None when the learned model is off.

    A small shop or a short history is not read again: the choice refuses it before looking at
    the cuts, and says which of the two kept BG/NBD + Gamma-Gamma.
    """
    when = epoch_days(as_of)
    step, cut_a, cut_b = cuts(now, when, config)
    if not config.learned:
        return None
    if step < MIN_STEP_DAYS or int((now.n_orders > 0).sum()) < config.learned_min_buyers:
        return History(now, now, now, step, when)
    bound = sample_bound(now.customer_key, config.learned_sample)
    # The two cuts at once, the earlier on a connection of its own: each pass streams on one
    # backend (PostgreSQL) or one thread (SQLite), and one after the other left a core idle
    # (1,000,000 customers: ~5.7 s on one connection).
    with ThreadPoolExecutor(1, thread_name_prefix="history") as pool:
        earlier = pool.submit(_aggregates_apart, session.get_bind(), moment(cut_a), bound)
        middle = load_aggregates(session, moment(cut_b), key_below=bound)
        first = earlier.result()
    if bound is not None:  # the sample as the database compares keys
        now = now.aligned(middle.customer_key)
    before = first.aligned(now.customer_key)
    return History(before, middle.aligned(now.customer_key), now, step, when)


def _aggregates_apart(bind: Engine | Connection, as_of: datetime, bound: str | None) -> CustomerAggregates:
    """``load_aggregates`` on a session (and connection) of its own."""
    with Session(bind) as session:
        return load_aggregates(session, as_of, key_below=bound)


def sample_bound(keys: npt.NDArray[np.object_], sample: int) -> str | None:
    """The key below which about ``sample`` of the (sorted) ``keys`` lie; None: take them all.

    Reading the earlier cuts for a sample costs a fraction of reading them whole (each pass
    still scans the orders, but groups and computes for the sample only); the learned model is
    trained and the candidates compared on it, then applied to everyone. Keys are SHA-256 hex,
    so the customers below a bound are a uniform sample.
    """
    if len(keys) <= sample:
        return None
    return str(keys[sample])
