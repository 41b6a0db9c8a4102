"""PostgreSQL: a full rescore's labels written as a new table that replaces ``labels`` at commit.

Upserting a million rows costs, per row, a new heap version, an entry in each of the three
indexes, and when the label is new a foreign-key trigger that locks the customer's row
(1,000,000 customers: ~30 s, ~41 s when every label is new). A full rescore rewrites every
label anyway, so it fills an unindexed copy of the table from the staged rows, builds its
indexes once, checks its foreign key with one anti-join, carries over the labels of customers
the run did not score (created after it read the customers, or kept apart), and renames it
into place. (SQLite upserts: there the rebuild measured slower, see ``labels.write_labels``.)

Readers never see a partial table: the new one becomes ``labels`` only when the rescore's
transaction commits; a reader arriving during the rename waits for the commit, then reads the
new table by name. Locks, taken at the end only and held until the commit: the new foreign key
takes ``SHARE ROW EXCLUSIVE`` on ``customers`` (customer writes wait, reads do not; writers
in progress past ``SWAP_WAIT`` make the caller upsert), then the
rename ``ACCESS EXCLUSIVE`` on ``labels`` (label reads wait, ~1-2 s at 1,000,000 labels; when
readers hold it past ``SWAP_WAIT`` the rebuild is rolled back to a savepoint and the caller
upserts);
``customers`` before ``labels``, the order of an erasure's cascade, so the two cannot deadlock;
a transaction that locks them the other way round (reads a label, then writes a customer) can,
and the rebuild gives way as it does to slow readers.
Dropping the replaced table locks ``customers`` exclusively (its foreign key's triggers live
there), so that happens in a short transaction of its own after the commit, given up after
``DROP_WAIT`` when readers hold ``customers`` and retried before the next full rescore, which
upserts while the table is still there.
Table privileges are not copied (the schema grants none; a deployment that adds some must
grant them on the schema's future tables).
"""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from services.scorer.adapters import label_stage as stage
from services.scorer.adapters.aggregates import WORK_MEM
from shared.log import get_logger
from shared.store.db import Store
from shared.store.types import UtcDateTime

log = get_logger(__name__)
# How full rescores wrote labels on PostgreSQL: ``rebuilt``, or why they upserted instead. Many
# upserts mean long readers or writers keep the swap from its locks (each costs ~20 s more).
REBUILDS = Counter(
    "audiencesync_scorer_label_rebuilds_total", "Full-rescore label writes on PostgreSQL", ["outcome"]
)

NEW = "labels_rebuild"
OLD = "labels_replaced"
DROP_WAIT = "5s"
# How long the swap waits for customer writers (the foreign key) and for label readers (a
# streamed export), each, before upserting instead; those arriving meanwhile wait behind it.
SWAP_WAIT = "3s"
# Lock waits the rebuild gives way on (upserting instead): ``SWAP_WAIT`` passed, or a deadlock
# PostgreSQL broke by failing the rebuild. A transaction that read ``labels`` and then writes a
# customer (the ingestor: a data request, then an order, in one batch) waits for the rebuild's
# lock on ``customers`` while the rebuild waits for its lock on ``labels``; the rebuild, waiting
# first, is the one PostgreSQL fails after ``deadlock_timeout`` (1 s), and the whole rescore failed.
_GIVE_WAY = frozenset({"55P03", "40P01"})  # lock_not_available, deadlock_detected
# One rebuild at a time per schema (advisory locks are database-wide). A second one would wait
# for the first's uncommitted table of the same name while holding ``labels`` from its snapshot
# read, and the first then waits for ``labels``: a deadlock PostgreSQL broke by failing the whole
# second rescore. The second upserts instead; the first gives way to its lock or takes over.
REBUILD_LOCK_CLASS = 0x4C41424C  # "LABL"
_ONE_AT_A_TIME = "SELECT pg_try_advisory_xact_lock(:cls, hashtext(current_schema()))"
# As the migrations name them (``shared/store/migrations``); a test compares the rebuilt table's
# indexes and constraints with a freshly migrated one's.
PRIMARY_KEY = "pk_labels"
FOREIGN_KEY = "fk_labels_customer_key_customers"
INDEXES = (("ix_labels_label", "label"), ("ix_labels_stage", "stage"))

_TIME = UtcDateTime()


def rebuild_labels(session: Session, *, as_of: object, scored_at: object) -> bool:
    """Replace ``labels`` by the staged rows plus the stored labels of customers not staged.

    Call last in the rescore's transaction: the locks it takes are held until the commit.
    False (nothing changed) when label readers held the table past ``SWAP_WAIT``, a deadlock
    was broken by failing the rebuild, another rebuild is running, or the last replaced table
    could not be dropped yet: the caller upserts instead.
    """
    # Rows of customers erased since staging are dropped when the foreign key is added
    # (``_add_foreign_key``), not by joining customers here (~1 s at 1,000,000 labels).
    rows = stage.labels_select("postgresql", only_known=False)
    fill = text(f"INSERT INTO {NEW} ({stage.LABEL_COLUMNS}) {rows}")
    fill = fill.bindparams(bindparam("as_of", type_=_TIME), bindparam("scored_at", type_=_TIME))
    outcome = _postgresql(session, fill, {"as_of": as_of, "scored_at": scored_at})
    REBUILDS.labels(outcome).inc()
    return outcome == "rebuilt"


def _run(session: Session, *statements: str) -> None:
    for statement in statements:
        session.execute(text(statement))


_CARRY_OVER = f"""
    INSERT INTO {NEW} SELECT l.* FROM labels l
    WHERE NOT EXISTS (SELECT 1 FROM {NEW} n WHERE n.customer_key = l.customer_key)"""  # noqa: S608 - constants
# A SELECT can run in parallel workers, an INSERT .. SELECT cannot (PostgreSQL 15): asking first
# costs ~1 s at 1,000,000 labels instead of ~3.7 s, and there is normally nothing to carry over.
_ANY_TO_CARRY = f"""
    SELECT EXISTS (SELECT 1 FROM labels l
                   WHERE NOT EXISTS (SELECT 1 FROM {NEW} n WHERE n.customer_key = l.customer_key))"""  # noqa: S608
_ORPHANS = f"""
    DELETE FROM {NEW} n
    WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_key = n.customer_key)"""  # noqa: S608 - constants
_FOREIGN_KEY = f"""
    ALTER TABLE {NEW} ADD CONSTRAINT {FOREIGN_KEY} FOREIGN KEY (customer_key)
    REFERENCES customers (customer_key) ON DELETE CASCADE"""


def _postgresql(session: Session, fill: object, times: dict[str, object]) -> str:
    """``rebuilt``, or why the caller upserts: ``another_rebuild``, ``replaced_left``, ``gave_way``."""
    # Sorts and hashes of a million keys in memory (the index builds, the anti-joins below).
    _run(session, f"SET LOCAL maintenance_work_mem = '{WORK_MEM}'", f"SET LOCAL work_mem = '{WORK_MEM}'")
    if not session.execute(text(_ONE_AT_A_TIME), {"cls": REBUILD_LOCK_CLASS}).scalar():
        log.warning("labels.rebuild_skipped", reason="another rebuild is running")
        return "another_rebuild"
    if session.execute(text("SELECT to_regclass(:old)"), {"old": OLD}).scalar() is not None:
        # Its drop gave up twice (long readers of customers). Dropping it here would lock
        # customers exclusively inside the rescore's transaction: every reader of customers
        # queued behind an unbounded wait, then held off until the commit. Upsert this time.
        log.warning("labels.rebuild_skipped", reason="replaced table not dropped yet", table=OLD)
        return "replaced_left"
    _run(session, f"CREATE TABLE {NEW} (LIKE labels INCLUDING DEFAULTS INCLUDING STORAGE)")
    session.execute(fill, times)  # type: ignore[call-overload]
    _run(
        session,
        f"ALTER TABLE {NEW} ADD CONSTRAINT {PRIMARY_KEY}_new PRIMARY KEY (customer_key)",
        *(f"CREATE INDEX {name}_new ON {NEW} ({column})" for name, column in INDEXES),
        f"ANALYZE {NEW}",
    )
    swap = session.begin_nested()  # undone whole when label readers hold the table too long
    try:
        # Both locks below wait at most SWAP_WAIT: what arrives while one waits (customer writes,
        # then label reads) queues behind it, so the wait is short; past it the labels are upserted.
        _run(session, f"SET LOCAL lock_timeout = '{SWAP_WAIT}'")
        if _add_foreign_key(session):  # from here on customer writes wait for the commit
            forget_erased_history(session, scored_at=times["scored_at"])
        # From here on label readers wait for the commit too (~1-2 s): no label is written
        # meanwhile, so the labels the run did not score can be carried over.
        _run(session, "LOCK TABLE labels IN ACCESS EXCLUSIVE MODE")
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) not in _GIVE_WAY:
            raise
        swap.rollback()  # the foreign key and its lock on customers go with it
        _run(session, f"DROP TABLE {NEW}")
        log.warning("labels.rebuild_gave_way", waited=SWAP_WAIT, error=str(exc.orig))
        return "gave_way"
    _run(session, "SET LOCAL lock_timeout = DEFAULT")
    if session.execute(text(_ANY_TO_CARRY)).scalar():
        _run(session, _CARRY_OVER)
    _run(
        session,
        f"ALTER TABLE labels RENAME TO {OLD}",
        f"ALTER TABLE {OLD} RENAME CONSTRAINT {PRIMARY_KEY} TO {PRIMARY_KEY}_old",
        *(f"ALTER INDEX {name} RENAME TO {name}_old" for name, _ in INDEXES),
        f"ALTER TABLE {NEW} RENAME TO labels",
        f"ALTER TABLE labels RENAME CONSTRAINT {PRIMARY_KEY}_new TO {PRIMARY_KEY}",
        *(f"ALTER INDEX {name}_new RENAME TO {name}" for name, _ in INDEXES),
    )
    swap.commit()  # releases the savepoint; the transaction goes on
    return "rebuilt"


def _add_foreign_key(session: Session) -> bool:
    """The foreign key, checked by one anti-join instead of a trigger per row; True when rows
    of customers erased since the staging were dropped for it."""
    try:
        with session.begin_nested():
            _run(session, _FOREIGN_KEY)
    except IntegrityError:
        # A customer erased since the rows were staged: the erasure cascaded into the old table
        # only. With customer writes held off, drop such rows and check again.
        log.info("labels.rebuild_dropped_erased")
        _run(session, "LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE", _ORPHANS, _FOREIGN_KEY)
        return True
    return False


_ERASED_HISTORY = f"""
    DELETE FROM label_history h USING {stage.TABLE} s
    WHERE h.customer_key = s.customer_key AND h.scored_at = :scored_at AND s.changed
      AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_key = s.customer_key)"""  # noqa: S608 - constants


def forget_erased_history(session: Session, *, scored_at: object) -> None:
    """Delete the history rows this rescore appended (at ``scored_at``, unjoined) for staged
    customers erased since: the erasure deleted their history before these rows existed."""
    session.execute(
        text(_ERASED_HISTORY).bindparams(bindparam("scored_at", type_=_TIME)), {"scored_at": scored_at}
    )


def drop_replaced(store: Store) -> None:
    """Drop the table a PostgreSQL rebuild replaced, in a short transaction of its own."""
    if store.dialect != "postgresql":
        return
    try:
        with store.transaction() as session:
            _run(session, f"SET LOCAL lock_timeout = '{DROP_WAIT}'", f"DROP TABLE IF EXISTS {OLD}")
    except OperationalError as exc:  # readers held customers: the next full rescore drops it
        log.warning("labels.replaced_table_kept", table=OLD, error=str(exc.orig))
