"""Graph API errors as exception types, so every rule raises exactly what Meta would return.

Each ``GraphError`` carries the Graph ``code``/``error_subcode``/``type`` and the user-facing
title and message; the HTTP edge renders it with ``to_body``. Codes and subcodes follow the
Marketing API error reference and the custom-audience guides (see docs/sandbox-meta.md).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

OAUTH = "OAuthException"
METHOD = "GraphMethodException"


@dataclass
class GraphError(Exception):
    """One Graph error response; ``http_status`` is 400 unless the platform says otherwise."""

    code: int
    message: str
    type: str = OAUTH
    subcode: int | None = None
    user_title: str | None = None
    user_msg: str | None = None
    is_transient: bool = False
    http_status: int = 400
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_body(self, fbtrace_id: str | None = None) -> dict[str, Any]:
        """The ``{"error": {...}}`` body the SDK parses into ``FacebookRequestError``."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "is_transient": self.is_transient,
            "fbtrace_id": fbtrace_id or new_trace_id(),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.user_title is not None:
            error["error_user_title"] = self.user_title
        if self.user_msg is not None:
            error["error_user_msg"] = self.user_msg
        return {"error": error}


def new_trace_id() -> str:
    """An opaque trace id shaped like Graph's ``fbtrace_id``."""
    return secrets.token_urlsafe(8)


# --- authentication and versions -----------------------------------------------------------


def missing_token() -> GraphError:
    """No ``access_token`` at all (Graph code 104)."""
    return GraphError(104, "An access token is required to request this resource.")


def invalid_token() -> GraphError:
    """A token the platform does not know (190 / 467 invalid access token)."""
    return GraphError(
        190,
        "Invalid OAuth access token - Cannot parse access token",
        subcode=467,
        user_title="Invalid access token",
        user_msg="The access token is invalid. Generate a new token and try again.",
    )


def expired_token(expired_at: str, now: str) -> GraphError:
    """A known token that has expired (190 / 463)."""
    return GraphError(
        190,
        f"Error validating access token: Session has expired on {expired_at}. The current time is {now}.",
        subcode=463,
        user_title="Session expired",
        user_msg="Your access token has expired. Refresh the token and try again.",
    )


def appsecret_proof_missing() -> GraphError:
    """The app requires ``appsecret_proof`` and none was sent."""
    return GraphError(100, "API calls from the server require an appsecret_proof argument", METHOD)


def appsecret_proof_invalid() -> GraphError:
    """``appsecret_proof`` is not HMAC-SHA256(app_secret, access_token)."""
    return GraphError(100, "Invalid appsecret_proof provided in the API argument", METHOD)


def deprecated_version(version: str, latest: str) -> GraphError:
    """Calls to retired Marketing API versions fail with 2635."""
    return GraphError(
        2635,
        f"(#2635) You are calling a deprecated version of the Ads API ({version}). "
        f"Please update to the latest version: {latest}.",
    )


# --- objects, parameters and permissions ---------------------------------------------------


def unknown_object(method: str, object_id: str) -> GraphError:
    """Missing object, no permission on it, or unsupported operation (100 / 33)."""
    verb = {"GET": "get", "POST": "post", "DELETE": "delete"}.get(method, method.lower())
    return GraphError(
        100,
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        METHOD,
        subcode=33,
    )


def unknown_path(path: str) -> GraphError:
    """An edge this node does not have."""
    return GraphError(2500, f"Unknown path components: {path}")


def invalid_parameter(detail: str, *, subcode: int | None = None, title: str | None = None) -> GraphError:
    """Code 100: the request itself is wrong and will keep failing until it is fixed."""
    return GraphError(
        100,
        f"(#100) {detail}",
        subcode=subcode,
        user_title=title or "Invalid parameter",
        user_msg=detail,
    )


def invalid_json(param: str) -> GraphError:
    """A JSON-typed parameter that does not parse (100 / 1713098)."""
    return invalid_parameter(
        f"Param {param} must be a valid JSON string", subcode=1713098, title="Invalid JSON"
    )


def nonexisting_field(field_name: str, node_type: str = "CustomAudience") -> GraphError:
    """A ``fields=`` entry the node type does not have."""
    return GraphError(
        100, f"(#100) Tried accessing nonexisting field ({field_name}) on node type ({node_type})"
    )


def no_account_permission(account: str) -> GraphError:
    """The token may not use this ad account (code 200)."""
    return GraphError(
        200,
        f"(#200) The user does not have permission to access ad account {account}. "
        "Ad account owner has NOT granted ads_management or ads_read permission",
    )


def ads_management_required() -> GraphError:
    """A token without ``ads_management`` tried to write (code 294)."""
    return GraphError(
        294,
        "(#294) Managing advertisements requires an access token with the extended "
        "permission for ads_management",
    )


def tos_not_accepted(value_based: bool = False) -> GraphError:
    """Custom Audience terms (or value-based terms) not accepted: 200 / 1870090."""
    which = "value-based Custom Audience" if value_based else "Custom Audience"
    return GraphError(
        200,
        "(#200) Permissions error",
        subcode=1870090,
        user_title="Custom Audience Terms Not Accepted",
        user_msg=f"You need to accept the {which} Terms before you can create or edit an "
        "audience. Accept them in Ads Manager, then try again.",
    )


def account_not_linked() -> GraphError:
    """Ad account not owned by a business: 200 / 1870050."""
    return GraphError(
        200,
        "(#200) Permissions error",
        subcode=1870050,
        user_title="Ad Account Not Linked to a Business",
        user_msg="This ad account must be part of a Business Manager to use customer file Custom Audiences.",
    )


def audience_flagged() -> GraphError:
    """Edits on an audience with operation_status 471 (100 / 1713230, text from the reference)."""
    return GraphError(
        100,
        "Invalid parameter",
        subcode=1713230,
        user_title="Audience Upload Blocked",
        user_msg="Before updating user memberships, you must resolve integrity restrictions "
        "on this Data File Custom Audience. Go to Audience Manager to appeal the restrictions "
        "or create a new audience with updated data",
    )


# --- throttling and transient failures -----------------------------------------------------

THROTTLE_MESSAGES: dict[int, tuple[int | None, str]] = {
    4: (None, "(#4) Application request limit reached"),
    17: (2446079, "(#17) User request limit reached"),
    613: (
        1487742,
        "(#613) There have been too many calls from this ad-account. Please wait a bit and try again.",
    ),
    80003: (
        2446079,
        "(#80003) There have been too many calls to this ad-account. Wait a bit "
        "and try again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    ),
}


def throttled(code: int) -> GraphError:
    """One of the rate-limit errors; the caller attaches the usage headers."""
    subcode, message = THROTTLE_MESSAGES[code]
    return GraphError(
        code,
        message,
        subcode=subcode,
        is_transient=True,
        user_title="Too many calls",
        user_msg="There have been too many calls. Wait a bit and try again.",
    )


def transient(code: int) -> GraphError:
    """Code 1 (unknown, possibly temporary) or 2 (service temporarily unavailable)."""
    if code == 1:
        return GraphError(1, "An unknown error occurred", subcode=99, is_transient=True, http_status=500)
    return GraphError(
        2,
        "An unexpected error has occurred. Please retry your request later.",
        is_transient=True,
        http_status=503,
    )


# --- custom audience update and creation failures ------------------------------------------

REPLACE_SUBCODES: dict[int, tuple[str, str]] = {
    1870145: (
        "Audience Update In Progress",
        "This audience is being updated. Wait until its operation_status is Normal, then try again.",
    ),
    1870158: (
        "Replace Session Timed Out",
        "The replace session passed its 90-minute window. "
        "The audience was replaced with the batches received so far; add the rest with "
        "the /users endpoint once the replace has finished.",
    ),
    1870147: ("Invalid Upload Batch", "The first batch of a replace session must have batch_seq 1."),
    1870159: (
        "Session Already Finished",
        "This session already received its last batch "
        "(last_batch_flag). Wait for it to finish, then add users with /users.",
    ),
    1870148: (
        "Audience Not Fully Updated",
        "Something went wrong and the list was not fully updated. Retry the replace.",
    ),
    1870144: (
        "Audience Too Large To Replace",
        "Replacing users is not supported for audiences "
        "of 100 million people or more. Use add and remove instead.",
    ),
}


def update_failed(subcode: int) -> GraphError:
    """Code 2650 with one of the documented replace/update subcodes."""
    title, msg = REPLACE_SUBCODES[subcode]
    return GraphError(
        2650,
        "(#2650) Failed to update the custom audience",
        subcode=subcode,
        user_title=title,
        user_msg=msg,
    )


def data_source_mismatch(existing: str, attempted: str) -> GraphError:
    """Single-key vs multi-key uploads to one audience (2650, message as Meta sends it)."""
    return GraphError(
        2650,
        "(#2650) Failed to update the custom audience: This audience was created from data "
        f"source FILE_IMPORTED.{existing}, which does not support data source "
        f"FILE_IMPORTED.{attempted}.",
    )


def create_failed(title: str, msg: str) -> GraphError:
    """Code 2654: the custom audience (or lookalike) could not be created."""
    return GraphError(
        2654,
        f"(#2654) Failed to create custom audience: {title}",
        user_title=title,
        user_msg=msg,
    )
