"""Google Ads API rules for Customer Match jobs and lists, as plain data (AD_APIS.md 2.1-2.4).

Limits [doc + forum]: at most 100,000 user identifiers per AddOfflineUserDataJobOperations
request and 20 per UserData (``TOO_MANY_USER_IDENTIFIERS``); ``remove_all`` must come first
(``INVALID_OPERATION_ORDER``); creates and removes do not mix in one job (``CONFLICTING_OPERATION``);
consent belongs on the job, not the operation (``OPERATION_LEVEL_CONSENT_PROVIDED``); hashes are
SHA-256 lowercase hex (``INVALID_SHA256_FORMAT``); only contact keys fit a CONTACT_INFO list
(``INCOMPATIBLE_UPLOAD_KEY_TYPE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.sandbox_google.domain.identifiers import Identifier, address_value, is_sha256_hex, member_key

MAX_IDENTIFIERS_PER_REQUEST = 100_000
MAX_IDENTIFIERS_PER_USER = 20
MAX_MUTATE_OPERATIONS = 10_000
JOB = "offline_user_data_job_error"
Location = Sequence[tuple[str, int | None]]


@dataclass(frozen=True)
class AdsError:
    """One GoogleAdsError before it is built: ErrorCode field, enum name, message, field path."""

    field: str
    name: str
    message: str
    location: Location = ()
    trigger: str = ""


@dataclass(frozen=True)
class AdsIdentifier:
    """One UserIdentifier as sent (``kind``: email, phone, address, mobile, third_party)."""

    kind: str
    value: str = ""
    parts: tuple[str, str, str, str] = ("", "", "", "")  # hashed first, hashed last, country, postal


@dataclass(frozen=True)
class OperationIn:
    """One OfflineUserDataJobOperation: ``create``, ``remove`` or ``remove_all``."""

    kind: str
    identifiers: tuple[AdsIdentifier, ...] = ()
    has_consent: bool = False


@dataclass(frozen=True)
class StagedOperation:
    """An accepted operation: its kind, the member key and identifiers."""

    index: int
    kind: str
    key: str
    identifiers: tuple[Identifier, ...]


@dataclass
class AddCheck:
    """Outcome of checking one Add request: request-level errors, per-operation errors, staged ops."""

    request_errors: list[AdsError] = field(default_factory=list)
    operation_errors: list[AdsError] = field(default_factory=list)
    staged: list[StagedOperation] = field(default_factory=list)


_HASHED = {"email": "hashed_email", "phone": "hashed_phone_number"}


def check_add(ops: list[OperationIn], job_kind: str | None, job_has_ops: bool, key_type: str) -> AddCheck:
    """Check an Add request against the job's state (its operation kind so far)."""
    out = AddCheck()
    if not ops:
        out.request_errors.append(
            AdsError(
                "field_error",
                "REQUIRED_NONEMPTY_LIST",
                "The operations list must not be empty.",
                [("operations", None)],
            )
        )
        return out
    total = sum(len(op.identifiers) for op in ops)
    if total > MAX_IDENTIFIERS_PER_REQUEST:
        out.request_errors.append(
            AdsError(
                JOB,
                "TOO_MANY_USER_IDENTIFIERS",
                "Maximum number of user identifiers allowed per request is 100,000 and per operation is 20.",
            )
        )
        return out
    kinds = {op.kind for op in ops if op.kind != "remove_all"} | ({job_kind} if job_kind else set())
    for i, op in enumerate(ops):
        if op.kind == "remove_all" and (i > 0 or job_has_ops):
            out.request_errors.append(
                AdsError(
                    JOB,
                    "INVALID_OPERATION_ORDER",
                    "remove_all must be the first operation of the job.",
                    [("operations", i), ("remove_all", None)],
                )
            )
    if len(kinds) > 1:
        out.request_errors.append(
            AdsError(JOB, "CONFLICTING_OPERATION", "Create and remove operations cannot be mixed in one job.")
        )
    if out.request_errors:
        return out
    for i, op in enumerate(ops):
        if op.kind == "remove_all":
            out.staged.append(StagedOperation(i, "remove_all", "", ()))
            continue
        errors = _operation_errors(i, op, key_type)
        if errors:
            out.operation_errors.extend(errors)
            continue
        idents = tuple(_canonical(x) for x in op.identifiers)
        out.staged.append(StagedOperation(i, op.kind, member_key(list(idents)), idents))
    return out


def _operation_errors(i: int, op: OperationIn, key_type: str) -> list[AdsError]:
    base: list[tuple[str, int | None]] = [("operations", i), (op.kind, None)]
    if op.has_consent:
        return [
            AdsError(
                JOB,
                "OPERATION_LEVEL_CONSENT_PROVIDED",
                "Consent must be set on the job, not on operations, for Customer Match.",
                [*base, ("consent", None)],
            )
        ]
    if not op.identifiers:
        return [
            AdsError(
                JOB,
                "MISSING_USER_IDENTIFIER",
                "User identifier is missing.",
                [*base, ("user_identifiers", None)],
            )
        ]
    if len(op.identifiers) > MAX_IDENTIFIERS_PER_USER:
        return [
            AdsError(
                JOB,
                "TOO_MANY_USER_IDENTIFIERS",
                "Maximum number of user identifiers allowed per request is 100,000 and per operation is 20.",
                [*base, ("user_identifiers", None)],
            )
        ]
    found = []
    for j, ident in enumerate(op.identifiers):
        where = [*base, ("user_identifiers", j)]
        if ident.kind in ("mobile", "third_party") or (key_type != "CONTACT_INFO"):
            found.append(
                AdsError(
                    JOB,
                    "INCOMPATIBLE_UPLOAD_KEY_TYPE",
                    "The user identifier does not match the user list's upload key type.",
                    where,
                )
            )
        elif ident.kind in _HASHED and not is_sha256_hex(ident.value):
            found.append(
                AdsError(
                    JOB,
                    "INVALID_SHA256_FORMAT",
                    "The SHA256 encoded value is malformed.",
                    [*where, (_HASHED[ident.kind], None)],
                    trigger=ident.value[:80],
                )
            )
        elif ident.kind == "address":
            first, last, country, postal = ident.parts
            for name, value in (("hashed_first_name", first), ("hashed_last_name", last)):
                if not is_sha256_hex(value):
                    found.append(
                        AdsError(
                            JOB,
                            "INVALID_SHA256_FORMAT",
                            "The SHA256 encoded value is malformed.",
                            [*where, ("address_info", None), (name, None)],
                        )
                    )
            if len(country) != 2 or not country.isalpha():
                found.append(
                    AdsError(
                        JOB,
                        "INVALID_COUNTRY_CODE",
                        "The country code is not valid.",
                        [*where, ("address_info", None), ("country_code", None)],
                    )
                )
            if not postal.strip():
                found.append(
                    AdsError(
                        "field_error",
                        "REQUIRED",
                        "The required field was not present.",
                        [*where, ("address_info", None), ("postal_code", None)],
                    )
                )
        elif ident.kind not in _HASHED and ident.kind != "address":
            found.append(AdsError(JOB, "MISSING_USER_IDENTIFIER", "User identifier is missing.", where))
    return found


def _canonical(ident: AdsIdentifier) -> Identifier:
    if ident.kind == "address":
        first, last, country, postal = ident.parts
        return Identifier("address", address_value(first, last, country, postal.strip()))
    return Identifier(ident.kind, ident.value.lower())


SIZE_RANGES = (
    (500, "LESS_THAN_FIVE_HUNDRED"),
    (1_000, "LESS_THAN_ONE_THOUSAND"),
    (10_000, "ONE_THOUSAND_TO_TEN_THOUSAND"),
    (50_000, "TEN_THOUSAND_TO_FIFTY_THOUSAND"),
    (100_000, "FIFTY_THOUSAND_TO_ONE_HUNDRED_THOUSAND"),
    (300_000, "ONE_HUNDRED_THOUSAND_TO_THREE_HUNDRED_THOUSAND"),
    (500_000, "THREE_HUNDRED_THOUSAND_TO_FIVE_HUNDRED_THOUSAND"),
    (1_000_000, "FIVE_HUNDRED_THOUSAND_TO_ONE_MILLION"),
    (2_000_000, "ONE_MILLION_TO_TWO_MILLION"),
    (3_000_000, "TWO_MILLION_TO_THREE_MILLION"),
    (5_000_000, "THREE_MILLION_TO_FIVE_MILLION"),
    (10_000_000, "FIVE_MILLION_TO_TEN_MILLION"),
    (20_000_000, "TEN_MILLION_TO_TWENTY_MILLION"),
    (30_000_000, "TWENTY_MILLION_TO_THIRTY_MILLION"),
    (50_000_000, "THIRTY_MILLION_TO_FIFTY_MILLION"),
)


def size_range(size: int) -> str:
    """UserListSizeRange for a list size (``OVER_FIFTY_MILLION`` past the table)."""
    return next((name for bound, name in SIZE_RANGES if size < bound), "OVER_FIFTY_MILLION")
