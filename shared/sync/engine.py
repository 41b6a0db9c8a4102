"""The sync engine: one run of one destination, on any platform adapter.

Plan, guardrails, send by difference, read back, finish. Two passes over the same key-ordered
streams: the first counts the diff (the plan a dry run prints and the guardrails judge), the
second sends it in batches at the adapter's cap. Nothing to send means no API call. A run left
``running`` by a dead process is resumed under the destination's lock: the adapter continues
its sessions and only what the ledger does not yet hold is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain

from prometheus_client import Counter

from shared.log import get_logger
from shared.sync.batching import batches, planned_calls
from shared.sync.diff import (
    Change,
    Changes,
    Direction,
    Reason,
    Synced,
    count_changes,
    diff,
    replace_set,
    tally,
)
from shared.sync.errors import Kind, PlatformError, ReplaceNotStarted, SessionClosed
from shared.sync.guardrails import Guardrails
from shared.sync.ledger import BatchRecord, Ledger
from shared.sync.locks import destination_lock
from shared.sync.membership import ConsentRule, Destination
from shared.sync.outcome import RunReport, SyncOptions, plan_counts
from shared.sync.ports import AudiencePlatform, AudienceSpec
from shared.sync.reconcile import Reconciler
from shared.sync.rows import Member, to_member
from shared.sync.runs import DestinationRecord, Runs
from shared.sync.status import BatchStatus, DestinationStatus, RunStatus
from shared.sync.uploads import RunContext, Uploader

__all__ = ["DestinationSync", "RunReport", "SyncOptions"]
log = get_logger(__name__)
KEEP_IN_MEMORY = 20_000  # changes sent from the plan pass; bigger deltas are streamed again
REFUSED = Counter(
    "audiencesync_sync_guardrail_refusals_total", "Runs refused by a guardrail", ["platform", "audience"]
)
STOPPED = Counter(
    "audiencesync_sync_runs_stopped_total", "Runs stopped by a platform error", ["platform", "status"]
)


class DestinationSync:
    """Syncs destinations of one platform account through its adapter."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        runs: Runs,
        platform: AudiencePlatform,
        uploader: Uploader,
        reconciler: Reconciler,
        consent: ConsentRule,
        guardrails: Guardrails,
        batch_size: int,
        name_prefix: str,
        refresh_after: Callable[[Destination], timedelta | None] | None = None,
    ) -> None:
        if not 1 <= batch_size <= platform.caps.max_rows:
            raise ValueError(
                f"batch size {batch_size} outside 1..{platform.caps.max_rows} for {platform.platform}"
            )
        self.ledger, self.runs, self.platform = ledger, runs, platform
        self.uploader, self.reconciler = uploader, reconciler
        self.consent, self.guardrails = consent, guardrails
        self.batch_size, self.name_prefix = batch_size, name_prefix
        # How long a member may go unsent before it is sent again unchanged (Google drops members
        # after the list's membership life span); None: never.
        self.refresh_after = refresh_after

    def members(self, destination: Destination, scope: Iterable[str] | None = None) -> Iterator[Member]:
        """The destination's desired members in key order."""
        for customer in self.ledger.customers(scope):
            if destination.wants(customer, self.consent):
                member = to_member(customer, self.platform.rows, value_based=destination.value_based)
                if member is not None:
                    yield member

    def audience_name(self, destination: Destination) -> str:
        """The platform audience's name: the installation's prefix and the audience key."""
        return f"{self.name_prefix} {destination.key}"

    def run(self, destination: Destination, options: SyncOptions) -> RunReport:
        """Sync one destination (or plan it, for a dry run)."""
        record = self.runs.destination(destination.audience, destination.account)
        if options.dry_run:
            return self._dry_run(destination, record, options)
        with destination_lock(self.ledger.store, record.id) as taken:
            if not taken:
                message = "another process is syncing this destination"
                return RunReport(destination.key, destination.account, RunStatus.BUSY, "-", message=message)
            return self._locked(destination, record, options)

    def _synced(
        self, destination: Destination, record: DestinationRecord, scope: Iterable[str] | None
    ) -> Iterator[Synced]:
        age = self.refresh_after(destination) if self.refresh_after is not None else None
        stale_before = datetime.now(UTC) - age if age is not None else None
        return self.ledger.synced(record.id, scope, stale_before=stale_before)

    def _plan(
        self, destination: Destination, record: DestinationRecord, scope: Iterable[str] | None, keep: int = 0
    ) -> Changes:
        members, synced = self.members(destination, scope), self._synced(destination, record, scope)
        return count_changes(members, synced, keep=keep)

    def _diff(
        self, destination: Destination, record: DestinationRecord, scope: Iterable[str] | None
    ) -> Iterator[Change]:
        return diff(self.members(destination, scope), self._synced(destination, record, scope))

    def _dry_run(
        self, destination: Destination, record: DestinationRecord, options: SyncOptions
    ) -> RunReport:
        """The plan, the guardrails' verdict and the calls it would take; nothing is sent."""
        plan = self._plan(destination, record, options.scope)
        refusal = self.guardrails.refusal(plan, size_before=self.ledger.size(record.id), force=options.force)
        if options.repair and not refusal and self.platform.caps.replace:
            calls = planned_calls(0, 0, plan.desired, self.batch_size)
        else:
            calls = planned_calls(
                0 if refusal else plan.adds, plan.erased if refusal else plan.removes, 0, self.batch_size
            )
        if record.platform_audience_id is None and plan.adds and not refusal:
            calls += 2  # look for an audience a crash left behind, then create it
        feedback = {"plan": plan_counts(plan), "planned_calls": calls, "refusal": refusal}
        run_id = self.runs.start(record.id, "dry_run", desired=plan.desired, status=RunStatus.DRY_RUN)
        self.runs.finish(
            run_id, status=RunStatus.DRY_RUN, desired=plan.desired, api_calls=0, feedback=feedback
        )
        report = RunReport(destination.key, destination.account, RunStatus.DRY_RUN, "dry_run", plan=plan)
        report.run, report.message, report.feedback = self.runs.get(run_id), refusal, feedback
        report.platform_audience_id = record.platform_audience_id
        return report

    def _locked(self, destination: Destination, record: DestinationRecord, options: SyncOptions) -> RunReport:
        start_calls = self.platform.calls
        unfinished = self.runs.unfinished(record.id)
        scope = None if unfinished else options.scope  # a resumed run's scope is unknown: widen
        repair = unfinished.mode == "repair" if unfinished else options.repair and self.platform.caps.replace
        # As a sync request names them: ``delta`` compares the whole audience with the ledger and
        # sends the differences (runs recorded before 2026-12-06 say ``full`` for it); ``repair``
        # replaces it (a request's ``full``); ``incremental`` is a micro-batch's scope only.
        mode = "repair" if repair else ("incremental" if scope is not None else "delta")
        size_before = self.ledger.size(record.id)
        stream: Iterable[Change] | None = None
        counting = size_before == 0 and not repair and unfinished is None
        if counting:
            # Nothing synced yet, so nothing can be removed and no guardrail can object: count
            # while sending instead of a separate planning pass (a first upload of millions).
            plan, counted = tally(self.members(destination, scope), self.ledger.synced(record.id, scope))
            first = next(counted, None)
            stream = chain([first], counted) if first is not None else None
        else:
            plan = self._plan(destination, record, scope, keep=0 if repair else KEEP_IN_MEMORY)
            stream = plan.kept
        report = RunReport(destination.key, destination.account, RunStatus.SUCCEEDED, mode, plan=plan)
        if plan.total == 0 and not repair and unfinished is None:
            if not options.record_noop and not self.reconciler.due(record):
                return report  # a micro-batch that changed nothing leaves no trace and makes no call
            run_id = self.runs.start(record.id, mode, desired=plan.desired)
            return self._finish(destination, report, run_id, start_calls, changed=False)
        refusal = self.guardrails.refusal(plan, size_before=size_before, force=options.force)
        if repair and plan.desired == 0:
            refusal = "a replace needs at least one member; a normal sync with --force empties an audience"
        if unfinished is not None:
            run_id, report.resumed = unfinished.id, True
            unconfirmed = self.ledger.close_open_batches(run_id, BatchStatus.UNCONFIRMED)
            log.info(
                "sync.resumed",
                platform=self.platform.platform,
                run=run_id,
                audience=destination.key,
                unconfirmed=unconfirmed,
            )
        else:
            run_id = self.runs.start(record.id, mode, desired=plan.desired)
        recorded = self.ledger.batches_of(run_id)
        ctx = RunContext(
            run_id=run_id,
            destination_id=record.id,
            audience_id="",
            seq=max((b.seq for b in recorded), default=0),
            prior_calls=unfinished.api_calls if unfinished else 0,
            calls_at_start=start_calls,
            # Planned rows per direction (Meta's estimated_num_total hint): known after a plan pass.
            planned={}
            if counting
            else {Direction.ADD: plan.adds, Direction.REMOVE: plan.removes, Direction.REPLACE: plan.desired},
        )
        try:
            ctx.audience_id = self._ensure_audience(destination, record)
            self.platform.resume(ctx.audience_id, [b.sent() for b in recorded])
            if refusal:
                # Guardrail: every change is held back except erasures, which are a legal duty.
                REFUSED.labels(self.platform.platform, destination.key).inc()
                report.status, report.message = RunStatus.REFUSED, refusal
                erased = (c for c in self._diff(destination, record, None) if c.reason is Reason.ERASED)
                self._send(ctx, erased)
            elif repair:
                self._repair(ctx, destination, record, recorded)
            else:
                self._send(ctx, stream if stream is not None else self._diff(destination, record, scope))
        except PlatformError as exc:
            # Stop now: nothing after the failed batch is sent (transient errors only get here
            # after their retries). The ledger holds every acknowledged batch; the next sync
            # starts from it, so nothing acknowledged is ever sent twice.
            STOPPED.labels(self.platform.platform, exc.failure.status).inc()
            report.status = exc.failure.status
            report.message = exc.failure.operator_message(destination.account)
            self.ledger.close_open_batches(run_id, BatchStatus.FAILED)
            log.error(
                "sync.stopped",
                platform=self.platform.platform,
                audience=destination.key,
                status=report.status,
                code=exc.failure.code,
            )
            return self._finish(
                destination,
                report,
                run_id,
                start_calls,
                changed=False,
                prior_calls=ctx.prior_calls,
                reconcile=False,
            )
        changed = ctx.acknowledged > 0
        return self._finish(
            destination, report, run_id, start_calls, changed=changed, prior_calls=ctx.prior_calls
        )

    def _send(self, ctx: RunContext, changes: Iterable[Change]) -> None:
        for batch in batches(changes, self.batch_size, cap=self.platform.caps.max_rows):
            self.uploader.send(ctx, batch)

    def _repair(
        self,
        ctx: RunContext,
        destination: Destination,
        record: DestinationRecord,
        recorded: Sequence[BatchRecord],
    ) -> None:
        """A staged replace (Meta usersreplace): the platform swaps the new set in at the last batch."""
        sent = frozenset(
            b.id for b in recorded if b.direction == "replace" and b.status == BatchStatus.ACKNOWLEDGED
        )
        try:
            self._send(ctx, replace_set(self.members(destination), self.ledger.synced(record.id), sent))
        except ReplaceNotStarted:
            # The replace never started on the platform's side (its first batch was lost in a
            # crash): the old audience is intact; the adapter opened a fresh session, start again.
            self._send(ctx, replace_set(self.members(destination), self.ledger.synced(record.id)))
            self.ledger.keep_only_run(record.id, ctx.run_id)
            return
        except SessionClosed:
            # The replace ended early (Meta's 90-minute window, or its last batch landed before a
            # crash): the platform holds exactly what this replace delivered; the ledger follows,
            # then a top-up.
            self.ledger.keep_only_run(record.id, ctx.run_id)
            self._send(ctx, self._diff(destination, record, None))
            return
        except PlatformError as exc:
            if exc.failure.kind is not Kind.TOO_LARGE_TO_REPLACE:
                raise
            # Too large to replace (Meta: 100M+, 2650/1870144): repair by difference instead.
            self._send(ctx, self._diff(destination, record, None))
            return
        if sent or ctx.acknowledged:
            self.ledger.keep_only_run(record.id, ctx.run_id)

    def _ensure_audience(self, destination: Destination, record: DestinationRecord) -> str:
        """The platform audience's id: remembered, found by name (created before a crash), or created."""
        if record.platform_audience_id:
            return record.platform_audience_id
        spec = AudienceSpec(
            name=self.audience_name(destination),
            description=destination.audience.description or destination.key,
            value_based=destination.value_based,
            role=destination.audience.role,
            definition=destination.audience,
        )
        audience_id = self.platform.ensure_audience(spec)
        self.runs.set_platform_audience(record.id, audience_id, status=DestinationStatus.ACTIVE)
        return audience_id

    def _finish(
        self,
        destination: Destination,
        report: RunReport,
        run_id: int,
        start_calls: int,
        *,
        changed: bool,
        prior_calls: int = 0,
        reconcile: bool = True,
    ) -> RunReport:
        """Read back (snapshot, lookalikes), then close the run with its status and call count."""
        record = self.runs.destination(destination.audience, destination.account)
        report.platform_audience_id = record.platform_audience_id
        if reconcile:
            desired = report.plan.desired if report.plan else 0
            try:
                report.readback, report.feedback = self.reconciler.after_run(
                    destination, record, changed=changed, desired=desired
                )
            except PlatformError as exc:
                # The sync itself stands; a failed read-back is noted on the run and retried next time.
                report.feedback = {"readback_error": exc.failure.operator_message(destination.account)}
        calls = prior_calls + self.platform.calls - start_calls
        self.runs.finish(
            run_id,
            status=report.status,
            desired=report.plan.desired if report.plan else 0,
            api_calls=calls,
            message=report.message,
            errors=0 if report.status in (RunStatus.SUCCEEDED, RunStatus.REFUSED) else 1,
            feedback=report.feedback,
        )
        report.run = self.runs.get(run_id)
        return report
