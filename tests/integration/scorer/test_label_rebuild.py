"""A full rescore's labels table rebuilt and swapped in, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from services.scorer.adapters.aggregates import load_aggregates
from services.scorer.adapters.label_rebuild import drop_replaced
from services.scorer.adapters.labels import load_snapshot, write_labels
from services.scorer.adapters.runs import latest_calibration
from services.scorer.domain import material_change, score
from services.scorer.rescoring import full_rescore
from shared.definitions.scoring import DEFAULT_SCORING
from shared.store.db import Store
from shared.store.migrate import upgrade
from shared.store.models import Customer, Label, LabelHistory
from tests.conftest import _postgres_schema_url
from tests.integration.scorer.shop import AS_OF, key, random_shop
from tests.integration.scorer.test_rescoring import announced, count, labels

pytestmark = pytest.mark.integration


@contextmanager
def _rescored_shop(server: str, customers: int) -> Iterator[tuple[str, Store, list[str]]]:
    """A PostgreSQL schema of its own holding a random shop of ``customers``, rescored once:
    its URL, its store and the customers' names."""
    with contextmanager(_postgres_schema_url)(server) as url:
        upgrade(url)
        store = Store(url)
        try:
            names = random_shop(store, customers)
            full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
            yield url, store, names
        finally:
            store.dispose()


def _rebuild_with(store: Store, keys: list[str], as_of: datetime) -> np.ndarray:
    """What a full rescore of only ``keys`` writes (the stored calibration); returns ``changed``."""
    with store.transaction() as s:
        aggregates = load_aggregates(s, as_of, keys=keys)
        scored = score(aggregates, DEFAULT_SCORING, as_of, calibration=latest_calibration(s))
        previous = load_snapshot(s, scored.customer_key)
        changed = material_change(previous, scored.snapshot(), DEFAULT_SCORING.material_change)
        write_labels(s, scored, changed, as_of=as_of, scored_at=datetime.now(UTC), rebuild=True)
    drop_replaced(store)
    return changed


def test_a_rebuild_keeps_the_labels_of_customers_it_did_not_score(store: Store) -> None:
    ours = random_shop(store, 50, prefix="a")
    theirs = random_shop(store, 30, prefix="b", seed=5)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
    before, history_before = labels(store), count(store, LabelHistory)
    later = AS_OF + timedelta(days=400)  # a year on, every one of ours has a new recency
    changed = _rebuild_with(store, [key(n) for n in ours], later)
    after = labels(store)
    assert set(after) == set(before)
    assert {key(n): after[key(n)] for n in theirs} == {key(n): before[key(n)] for n in theirs}
    with store.session() as s:
        as_of = {k: v for k, v in s.execute(select(Label.customer_key, Label.as_of))}
    assert {as_of[key(n)] for n in ours} == {later} and {as_of[key(n)] for n in theirs} == {AS_OF}
    assert int(changed.sum()) > 0 and count(store, LabelHistory) == history_before + int(changed.sum())


def _as_of(store: Store) -> set[datetime]:
    """The dates the stored labels were scored as of (one date: one rescore wrote them all)."""
    with store.session() as s:
        return set(s.scalars(select(Label.as_of)))


def _shape(store: Store) -> dict[str, Any]:
    table = inspect(store.engine)
    return {
        "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in table.get_columns("labels")],
        "primary_key": table.get_pk_constraint("labels"),
        "foreign_keys": table.get_foreign_keys("labels"),
        "indexes": sorted(
            (i["name"], tuple(i["column_names"]), i["unique"]) for i in table.get_indexes("labels")
        ),
        "tables": sorted(t for t in table.get_table_names() if t.startswith("labels")),
    }


def test_the_rebuilt_table_is_the_migrated_one_and_its_foreign_key_acts(store: Store) -> None:
    names = random_shop(store, 40)
    migrated = _shape(store)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF + timedelta(days=1), announce=False)
    assert _shape(store) == migrated
    gone = key(names[0])
    with store.transaction() as s:
        s.execute(delete(Customer).where(Customer.customer_key == gone))  # cascades to the label
    assert gone not in labels(store) and len(labels(store)) == len(names) - 1
    row = dict(labels(store)).popitem()
    with pytest.raises(IntegrityError), store.transaction() as s:  # no label without its customer
        s.execute(
            text(
                "INSERT INTO labels (customer_key, label, reasons, as_of, scored_at) "
                "SELECT :k, label, reasons, as_of, scored_at FROM labels WHERE customer_key = :row"
            ),
            {"k": "f" * 64, "row": row[0]},
        )


def test_a_full_rescore_announces_and_records_only_material_changes_through_the_rebuild(store: Store) -> None:
    names = random_shop(store, 50)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=True)
    first = announced(store)
    assert sorted(m.customer_key for m in first) == sorted(key(n) for n in names)
    assert all(m.previous_label is None for m in first)
    stored = labels(store)
    assert {m.customer_key: m.label for m in first} == {k: v[0] for k, v in stored.items()}
    later, _ = full_rescore(store, DEFAULT_SCORING, as_of=AS_OF + timedelta(days=300), announce=True)
    moved = announced(store)[len(first) :]
    assert 0 < later.changed == len(moved) <= len(names)
    now = labels(store)
    assert {m.customer_key: (m.previous_label, m.label) for m in moved} == {
        m.customer_key: (stored[m.customer_key][0], now[m.customer_key][0]) for m in moved
    }
    assert count(store, LabelHistory) == len(names) + len(moved)


def test_readers_see_the_old_or_the_new_labels_never_a_partial_table(store: Store) -> None:
    names = random_shop(store, 80)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                with store.session() as s:
                    query = select(func.count(), func.count(func.distinct(Label.scored_at)))
                    total, runs = s.execute(query).one()
                seen.append((int(total), int(runs)))
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for day in range(1, 4):
            full_rescore(store, DEFAULT_SCORING, as_of=AS_OF + timedelta(days=30 * day), announce=False)
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert not errors
    assert seen and set(seen) == {(len(names), 1)}


@pytest.mark.postgres
def test_a_label_whose_customer_was_erased_during_the_rebuild_is_dropped(postgres_server: str) -> None:
    from services.scorer.adapters import label_rebuild

    with _rescored_shop(postgres_server, 10) as (_url, store, names):
        with store.transaction() as s:  # staged, then erased before the foreign key is added
            s.execute(text("CREATE TABLE labels_rebuild AS SELECT * FROM labels"))
            s.execute(delete(Customer).where(Customer.customer_key == key(names[0])))
            label_rebuild._add_foreign_key(s)
            left = s.scalars(text("SELECT customer_key FROM labels_rebuild")).all()
            s.execute(text("DROP TABLE labels_rebuild"))
        assert sorted(left) == sorted(key(n) for n in names[1:])


@pytest.mark.postgres
@pytest.mark.parametrize("rebuilt", [True, False])
def test_a_customer_erased_during_the_rebuild_keeps_no_new_label_history(
    postgres_server: str, monkeypatch: pytest.MonkeyPatch, rebuilt: bool
) -> None:
    from services.scorer.adapters import label_rebuild
    from services.scorer.adapters import labels as label_store

    with _rescored_shop(postgres_server, 12) as (_url, store, names):
        with store.transaction() as s:  # every label new again: each customer gets a history row
            s.execute(text("TRUNCATE label_history, labels"))
        erased = key(names[0])
        add_foreign_key = label_rebuild._add_foreign_key

        def erase(session: Any) -> None:  # after the rows were staged and the history appended
            session.execute(delete(Customer).where(Customer.customer_key == erased))

        def erased_then_checked(session: Any) -> bool:
            erase(session)
            return add_foreign_key(session)

        def erased_then_gave_way(session: Any, **_: Any) -> bool:  # as when readers hold labels
            erase(session)
            return False

        if rebuilt:
            monkeypatch.setattr(label_rebuild, "_add_foreign_key", erased_then_checked)
        else:
            monkeypatch.setattr(label_store, "rebuild_labels", erased_then_gave_way)
        full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
        with store.session() as s:
            history = s.scalars(select(LabelHistory.customer_key)).all()
            stored = s.scalars(select(Label.customer_key)).all()
        assert sorted(history) == sorted(stored) == sorted(key(n) for n in names[1:])


@pytest.mark.postgres
def test_a_reader_holding_labels_past_the_wait_gets_an_upsert_instead(
    postgres_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.scorer.adapters import label_rebuild

    monkeypatch.setattr(label_rebuild, "SWAP_WAIT", "200ms")
    with _rescored_shop(postgres_server, 30) as (_url, store, names):
        migrated, history = _shape(store), count(store, LabelHistory)
        later = AS_OF + timedelta(days=200)
        gave_way = _rebuilds("gave_way")
        with store.session() as reader:  # an export streaming labels, its transaction open
            before = reader.execute(select(func.count()).select_from(Label)).scalar()
            result, _ = full_rescore(store, DEFAULT_SCORING, as_of=later, announce=False)
            assert reader.execute(select(func.count()).select_from(Label)).scalar() == before
        assert _rebuilds("gave_way") == gave_way + 1  # counted for the operator (/metrics)
        stored = _as_of(store)
        shape, history_after = _shape(store), count(store, LabelHistory)
        assert stored == {later} and before == len(names)
        assert shape == migrated  # no table left behind, nothing renamed
        assert history_after == history + result.changed


def _rebuilds(outcome: str) -> float:
    """The scorer's count of full-rescore label writes that went ``outcome``."""
    return REGISTRY.get_sample_value("audiencesync_scorer_label_rebuilds_total", {"outcome": outcome}) or 0.0


_SWAP_WAITING = """
    SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                   WHERE c.relname = 'labels' AND c.relnamespace = current_schema()::regnamespace
                     AND l.mode = 'AccessExclusiveLock' AND NOT l.granted)"""


def _full_rescore(store: Store, as_of: datetime, failures: list[BaseException]) -> None:
    """A full rescore in a thread of its own; what it raises is reported by the test's thread."""
    try:
        full_rescore(store, DEFAULT_SCORING, as_of=as_of, announce=False)
    except BaseException as exc:
        failures.append(exc)


@pytest.mark.postgres
def test_a_transaction_that_read_labels_then_writes_a_customer_does_not_fail_the_rescore(
    postgres_server: str,
) -> None:
    """The ingestor's shape: a data request reads the customer's label, a later record of the
    same batch writes a customer. The rebuild holds ``customers`` and waits for ``labels``;
    the ingestor holds ``labels`` and waits for ``customers``: PostgreSQL breaks the deadlock by
    failing one of them, and the rescore (waiting first, so checking first) must give way."""
    import psycopg

    with _rescored_shop(postgres_server, 20) as (url, store, names):
        later = AS_OF + timedelta(days=200)
        failures: list[BaseException] = []
        plain = url.replace("+psycopg", "")
        with psycopg.connect(plain) as ingestor, psycopg.connect(plain, autocommit=True) as watch:
            ingestor.execute("SELECT label FROM labels WHERE customer_key = %s", (key(names[0]),))
            worker = threading.Thread(target=_full_rescore, args=(store, later, failures))
            worker.start()
            while worker.is_alive() and not watch.execute(_SWAP_WAITING).fetchone()[0]:  # type: ignore[index]
                threading.Event().wait(0.02)
            ingestor.execute(
                "UPDATE customers SET updated_at = updated_at WHERE customer_key = %s", (key(names[1]),)
            )
            ingestor.commit()
            worker.join()
        stored = _as_of(store)
        shape = _shape(store)
        assert not failures, failures
        assert stored == {later}
        assert shape["tables"] == ["labels"]


# The rescore's own transaction (the one that wrote label history) waiting to lock customers
# exclusively: every reader of customers (api, syncers, ingestor) queues behind it until it commits.
_REBUILD_LOCKS_CUSTOMERS = """
    SELECT EXISTS (
        SELECT 1 FROM pg_locks w JOIN pg_class c ON c.oid = w.relation
        WHERE c.relname = 'customers' AND c.relnamespace = current_schema()::regnamespace
          AND w.mode = 'AccessExclusiveLock' AND NOT w.granted
          AND EXISTS (SELECT 1 FROM pg_locks h JOIN pg_class n ON n.oid = h.relation
                      WHERE h.pid = w.pid AND n.relname = 'label_history'
                        AND n.relnamespace = c.relnamespace AND h.mode = 'RowExclusiveLock'))"""


@pytest.mark.postgres
def test_a_replaced_table_left_behind_is_not_dropped_inside_the_rescore(
    postgres_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replaced table whose drop gave up (a long reader of customers) and is still there at the
    next full rescore: dropping it in the rescore's transaction would lock customers exclusively,
    waiting without limit for that reader with every other reader of customers queued behind,
    then holding them off until the commit. The rescore upserts instead."""
    import psycopg

    from services.scorer.adapters import label_rebuild

    monkeypatch.setattr(label_rebuild, "DROP_WAIT", "100ms")
    with _rescored_shop(postgres_server, 20) as (url, store, _names):
        later = AS_OF + timedelta(days=200)
        failures: list[BaseException] = []
        blocked = False
        plain = url.replace("+psycopg", "")
        with psycopg.connect(plain) as reader, psycopg.connect(plain, autocommit=True) as watch:
            reader.execute("SELECT count(*) FROM customers")  # a long export, its transaction open
            full_rescore(store, DEFAULT_SCORING, as_of=AS_OF + timedelta(days=100), announce=False)
            left = _shape(store)["tables"]
            worker = threading.Thread(target=_full_rescore, args=(store, later, failures))
            worker.start()
            while worker.is_alive() and not blocked:
                blocked = bool(watch.execute(_REBUILD_LOCKS_CUSTOMERS).fetchone()[0])  # type: ignore[index]
                threading.Event().wait(0.02)
            reader.rollback()
            worker.join()
        stored = _as_of(store)
        assert left == ["labels", "labels_replaced"]
        assert not blocked and not failures, failures
        assert stored == {later}


_WAITS_FOR_A_TRANSACTION = """
    SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                   WHERE l.locktype = 'transactionid' AND NOT l.granted
                     AND a.query LIKE 'CREATE TABLE labels_rebuild%%')"""
_WAITS_FOR_CUSTOMERS = """
    SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                   WHERE c.relname = 'customers' AND c.relnamespace = current_schema()::regnamespace
                     AND l.mode = 'ShareRowExclusiveLock' AND NOT l.granted)"""


@pytest.mark.postgres
def test_two_full_rescores_at_once_both_store_their_labels(postgres_server: str) -> None:
    """Two scorers finding the calibration stale at once both run a full rescore. The second
    one's new table waits for the first's (same name, not committed) while holding ``labels``
    from its own snapshot read, and the first then waits for ``labels``: PostgreSQL failed the
    second rescore, whose wait began first. One rebuild at a time; the other upserts."""
    import psycopg

    with _rescored_shop(postgres_server, 20) as (url, store, names):
        failures: list[BaseException] = []
        plain = url.replace("+psycopg", "")
        with psycopg.connect(plain) as writer, psycopg.connect(plain, autocommit=True) as watch:
            # A customer write in progress holds the first rebuild before its foreign key.
            writer.execute(
                "UPDATE customers SET updated_at = updated_at WHERE customer_key = %s", (key(names[0]),)
            )
            first = threading.Thread(
                target=_full_rescore, args=(store, AS_OF + timedelta(days=100), failures)
            )
            first.start()
            while first.is_alive() and not watch.execute(_WAITS_FOR_CUSTOMERS).fetchone()[0]:  # type: ignore[index]
                threading.Event().wait(0.01)
            second = threading.Thread(
                target=_full_rescore, args=(store, AS_OF + timedelta(days=200), failures)
            )
            second.start()
            while second.is_alive() and not watch.execute(_WAITS_FOR_A_TRANSACTION).fetchone()[0]:  # type: ignore[index]
                threading.Event().wait(0.01)
            writer.commit()
            first.join()
            second.join()
        stored = _as_of(store)
        shape = _shape(store)
        assert not failures, failures
        assert len(stored) == 1 and shape["tables"] == ["labels"]


@pytest.mark.postgres
def test_a_reader_with_a_prepared_label_query_reads_the_new_table_and_the_schema_still_matches_the_models(
    postgres_server: str,
) -> None:
    """psycopg prepares a query run 5 times; the server re-plans it against the renamed-in table
    (same columns, so no 'cached plan must not change result type'). Autogenerate still finds
    the migrated schema after a rebuild."""
    import psycopg
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from shared.store.models import Base

    query = "SELECT * FROM labels WHERE as_of = %s ORDER BY customer_key"
    with _rescored_shop(postgres_server, 20) as (url, store, names):
        later = AS_OF + timedelta(days=100)
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as reader:
            before = [len(reader.execute(query, (AS_OF,)).fetchall()) for _ in range(7)]
            prepared = reader.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
            full_rescore(store, DEFAULT_SCORING, as_of=later, announce=False)
            after = [len(reader.execute(query, (later,)).fetchall()) for _ in range(7)]
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert prepared == (1,)
        assert before == after == [len(names)] * 7
        assert diff == []


@pytest.mark.postgres
def test_a_customer_write_held_open_past_the_wait_gets_an_upsert_instead(
    postgres_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The foreign key waits for customer writers in progress, and every customer write arriving
    meanwhile (the ingestor, an erasure) queues behind it: bounded by ``SWAP_WAIT`` like the
    wait for label readers, then the labels are upserted. (Unbounded, this test never ends.)"""
    import psycopg

    from services.scorer.adapters import label_rebuild

    monkeypatch.setattr(label_rebuild, "SWAP_WAIT", "200ms")
    with _rescored_shop(postgres_server, 20) as (url, store, names):
        later = AS_OF + timedelta(days=200)
        with psycopg.connect(url.replace("+psycopg", "")) as writer:
            writer.execute(
                "UPDATE customers SET updated_at = updated_at WHERE customer_key = %s", (key(names[0]),)
            )
            full_rescore(store, DEFAULT_SCORING, as_of=later, announce=False)
            writer.commit()
        stored = _as_of(store)
        shape = _shape(store)
        assert stored == {later} and shape["tables"] == ["labels"]
