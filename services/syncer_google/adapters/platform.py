"""The engine's port (``shared.sync.ports.AudiencePlatform``) for Google, on either API.

A batch is acknowledged only once Google says it was applied: Data Manager processes each
request asynchronously (PROCESSING, then SUCCESS / PARTIAL_SUCCESS / FAILED), and an Ads API
job runs after its last Add request; both are polled with backoff until done. So the ledger never
holds a member Google did not take, and a process killed while waiting leaves the batch
unconfirmed: its rows are in the next diff (adding a member twice is harmless).

- Data Manager: one ingest or remove request per batch (10,000 members). A repair is Google's
  safe replace: note T (kept in every replace batch's reference, so a resumed repair keeps its
  T), ingest every desired member, and after the last batch succeeded remove everyone last
  added before T; the list is never empty in between.
- Google Ads API: one offline user data job per batch and consent: members whose two ad
  signals are granted go in a job with that consent, the others (allowed only outside the
  consent region) in a job with none; removes need none. Before a run's first job, jobs a dead
  process left running on the list are waited for, so two jobs never run on one list at once.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from services.syncer_google.adapters import dm_wire
from services.syncer_google.adapters.calls import GoogleError
from services.syncer_google.adapters.datamanager import DataManagerLists, ListInfo, RequestOutcome
from services.syncer_google.domain.errors import GoogleFailure, GoogleKind, operator_message
from services.syncer_google.domain.members import ADS_MEMBERS_PER_REQUEST, consent_of, identifiers, screened
from shared.sync.batching import Batch
from shared.sync.diff import Direction
from shared.sync.errors import Failure, Kind, PlatformError, error_for
from shared.sync.google_consent import AdConsent
from shared.sync.ports import AudienceSpec, Caps, InvalidEntry, Readback, Receipt, SentBatch
from shared.sync.rows import RowFormat

if TYPE_CHECKING:  # the Google Ads library takes seconds to import; the Data Manager path never needs it
    from services.syncer_google.adapters.google_ads import GoogleAdsLists, JobStatus

PLATFORM = "google"
REPLACE_TAG = "replace-as-of:"
_KINDS = {
    GoogleKind.TRANSIENT: Kind.TRANSIENT,
    GoogleKind.THROTTLED: Kind.THROTTLED,
    GoogleKind.BUSY: Kind.REPLACE_BUSY,
    GoogleKind.AUTH: Kind.AUTH,
    GoogleKind.NOT_ALLOWLISTED: Kind.PERMISSION,
    GoogleKind.PERMISSION: Kind.PERMISSION,
    GoogleKind.TOO_LARGE: Kind.REJECTED,
    GoogleKind.REJECTED: Kind.REJECTED,
}


def engine_error(failure: GoogleFailure, api: str) -> PlatformError:
    """The engine's exception for a classified Google failure, with Google-specific advice."""

    def explain(_: Failure, account: str) -> str:
        return operator_message(failure, api=api, account=account)

    code = ",".join(failure.reasons) or failure.code
    return error_for(Failure(_KINDS[failure.kind], code, None, failure.message, failure.request_id, explain))


@dataclass
class Waiting:
    """How long to wait for Google's asynchronous work: backoff from ``first`` to ``longest``."""

    max_wait: float = 3_600.0
    first: float = 0.2
    longest: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def until(self, check: Callable[[], Any], done: Callable[[Any], bool], what: str) -> Any:
        """Poll ``check`` until ``done``; a wait longer than ``max_wait`` stops the run (retryable)."""
        deadline = self.clock() + self.max_wait
        delay = self.first
        while True:
            got = check()
            if done(got):
                return got
            if self.clock() + delay > deadline:
                message = f"{what} still not done after {self.max_wait:.0f} s; the next sync resumes"
                raise error_for(Failure(Kind.TRANSIENT, "PROCESSING", None, message))
            self.sleep(delay)
            delay = min(delay * 2, self.longest)


def _readback(info: ListInfo) -> Readback:
    size = info.display_size if info.display_size is not None else info.search_size
    details: dict[str, Any] = {
        "display_size": info.display_size,
        "search_size": info.search_size,
        "match_rate": info.match_rate,
        "membership_days": info.membership_days,
    }
    return Readback(size, size, details={k: v for k, v in details.items() if v is not None})


class _GoogleBase:
    """What both paths share: list lookup, read-back, call counting, error translation."""

    platform = PLATFORM
    api: str
    lists: Any

    def __init__(self, account_id: str, waiting: Waiting) -> None:
        self.account_id = account_id
        self.waiting = waiting

    @property
    def calls(self) -> int:
        """Google calls made so far, retries and status polls included."""
        return int(self.lists.calls.calls)

    def _do(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except GoogleError as exc:
            raise engine_error(exc.failure, self.api) from None

    def ensure_audience(self, spec: AudienceSpec) -> str:
        """The list named ``spec.name``: found (one a crash left behind) or created."""
        found = self._do(self.lists.find_list, spec.name)
        if found is not None:
            return str(found)
        google = spec.definition.google if spec.definition is not None else None
        days = google.membership_days if google is not None else 540
        return str(self._do(self.lists.create_list, spec.name, spec.description, days))

    def read_audience(self, audience_id: str) -> Readback:
        """Size per network and match rate (the ``audience_snapshots`` series)."""
        return _readback(self._do(self.lists.read_list, audience_id))

    def close(self) -> None:
        """Close the client channels."""
        self.lists.close()


class DataManagerPlatform(_GoogleBase):
    """``AudiencePlatform`` over the Data Manager API (the default path)."""

    api = "datamanager"
    caps = Caps(max_rows=dm_wire.MAX_MEMBERS, replace=True)

    def __init__(self, lists: DataManagerLists, rows: RowFormat, waiting: Waiting | None = None) -> None:
        super().__init__(lists.operating, waiting or Waiting())
        self.lists = lists
        self.rows = rows
        self._as_of: dict[str, datetime] = {}

    def resume(self, audience_id: str, history: Sequence[SentBatch]) -> None:
        """A resumed repair keeps the T its first batch noted (in every replace batch's reference)."""
        self._as_of.pop(audience_id, None)
        for sent in history:
            if sent.reference and sent.reference.startswith(REPLACE_TAG):
                stamp = sent.reference[len(REPLACE_TAG) :].split("|", 1)[0]
                self._as_of[audience_id] = datetime.fromisoformat(stamp)
                return

    def reference(self, audience_id: str, direction: Direction) -> str | None:
        """A replace batch is recorded with the run's T before it is sent; others get request ids."""
        if direction is not Direction.REPLACE:
            return None
        as_of = self._as_of.setdefault(audience_id, datetime.now(UTC))
        return f"{REPLACE_TAG}{as_of.isoformat()}"

    def _settled(self, request_id: str) -> RequestOutcome:
        outcome: RequestOutcome = self.waiting.until(
            lambda: self._do(self.lists.request_status, request_id),
            lambda got: got.done,
            f"Data Manager request {request_id}",
        )
        if outcome.state == "FAILED":
            reasons = ",".join(sorted(outcome.errors)) or "FAILED"
            failure = GoogleFailure("FAILED", (reasons,), f"request {request_id} failed: {outcome.errors}")
            raise engine_error(failure, self.api)
        return outcome

    def send(self, audience_id: str, batch: Batch) -> Receipt:
        """One request for the batch, waited for until Google applied it."""
        rows: list[tuple[str, ...]] = []
        refused: list[InvalidEntry] = []
        for change in batch.changes:
            row, problems = screened(change.member.row)
            if batch.direction is not Direction.REMOVE:  # a removal just sends what remains
                refused.extend(InvalidEntry(change.member.key, problem) for problem in problems)
            if identifiers(row):
                rows.append(row)  # a member left with nothing to match on is not sent at all
        response: dict[str, Any] = {}
        outcome = RequestOutcome("SUCCESS")
        reference: str | None = None
        if rows:
            if batch.direction is Direction.REMOVE:
                reference = self._do(self.lists.remove, audience_id, rows)
            else:
                reference = self._do(self.lists.add, audience_id, rows)
            outcome = self._settled(reference)
            response.update(request_id=reference, state=outcome.state)
            if outcome.errors:
                response["errors"] = outcome.errors
            if outcome.warnings:
                response["warnings"] = outcome.warnings
        if batch.direction is Direction.REPLACE:
            as_of = self._as_of[audience_id]
            reference = f"{REPLACE_TAG}{as_of.isoformat()}|{reference or ''}"
            if batch.last:
                # Everyone desired is in (each batch waited for): now drop whoever was last added
                # before T. Members re-added since T stay; the list is never empty in between.
                removal = self._do(self.lists.remove_all_before, audience_id, as_of)
                response["remove_all"] = self._settled(removal).state
                self._as_of.pop(audience_id, None)
        invalid = sum(outcome.errors.values()) + len(refused)
        entries = (*refused, *(InvalidEntry(None, reason) for reason in sorted(outcome.errors)))
        received = outcome.record_count if outcome.record_count else len(rows)
        return Receipt(reference, received, invalid, entries, response)


class GoogleAdsPlatform(_GoogleBase):
    """``AudiencePlatform`` over the Google Ads API (allowlisted developer tokens only)."""

    api = "google_ads"
    caps = Caps(max_rows=ADS_MEMBERS_PER_REQUEST, replace=False)

    def __init__(self, lists: GoogleAdsLists, rows: RowFormat, waiting: Waiting | None = None) -> None:
        super().__init__(lists.customer_id, waiting or Waiting())
        self.lists = lists
        self.rows = rows

    def resume(self, audience_id: str, history: Sequence[SentBatch]) -> None:
        """Wait for any job a dead process left running on this list (never two at once)."""
        for job in self._do(self.lists.running_jobs, audience_id):
            self._finished(job)

    def _finished(self, job: str) -> JobStatus:
        status: JobStatus = self.waiting.until(
            lambda: self._do(self.lists.job_status, job), lambda s: s.done, f"job {job}"
        )
        return status

    def reference(self, audience_id: str, direction: Direction) -> str | None:
        """Jobs are named by Google on creation."""
        return None

    def _run(
        self, audience_id: str, rows: Sequence[Sequence[str]], consent: AdConsent | None, remove: bool
    ) -> tuple[str, dict[int, str], JobStatus]:
        job = self._do(self.lists.create_job, audience_id, consent)
        refused: dict[int, str] = self._do(lambda: self.lists.add_operations(job, rows, remove=remove))
        self._do(self.lists.run_job, job)
        status = self._finished(job)
        if status.status == "FAILED":
            failure = GoogleFailure("FAILED", (status.failure_reason or "JOB_FAILED",), f"job {job} failed")
            raise engine_error(failure, self.api)
        return job, refused, status

    def send(self, audience_id: str, batch: Batch) -> Receipt:
        """One job per consent group, run and waited for; refused members mapped to customers."""
        remove = batch.direction is Direction.REMOVE
        groups: dict[AdConsent | None, list[int]] = {}
        for index, change in enumerate(batch.changes):
            # Job-level consent only: members without both grants go in a job with none (the
            # consent rule lets them through only outside the consent region, never denied).
            consent = None if remove else consent_of(change.member.row)
            groups.setdefault(consent if consent is not None and consent.granted else None, []).append(index)
        invalid: list[InvalidEntry] = []
        reasons: Tally[str] = Tally()
        jobs: list[str] = []
        match: str | None = None
        for consent, indexes in groups.items():
            rows = [batch.changes[i].member.row for i in indexes]
            job, refused, status = self._run(audience_id, rows, consent, remove)
            jobs.append(job)
            match = status.match_rate_range or match
            for position, reason in sorted(refused.items()):
                invalid.append(InvalidEntry(batch.changes[indexes[position]].member.key, reason))
                reasons[reason] += 1
        response: dict[str, Any] = {"jobs": jobs}
        if reasons:
            response["errors"] = dict(reasons)
        if match:
            response["match_rate_range"] = match
        return Receipt(
            jobs[-1] if jobs else None, len(batch) - len(invalid), len(invalid), tuple(invalid), response
        )
