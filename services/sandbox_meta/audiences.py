"""Graph handlers for audience nodes: create (custom and lookalike), list, read, delete."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from services.sandbox_meta import uploads
from services.sandbox_meta.context import Ctx
from services.sandbox_meta.domain import audience as rules
from services.sandbox_meta.domain import errors, lookalike
from services.sandbox_meta.domain.audience import Audience

# Every CustomAudience field facebook-business 26.0.3 knows; others answer code 100.
KNOWN_FIELDS = frozenset(
    [
        "account_id",
        "approximate_count_lower_bound",
        "approximate_count_upper_bound",
        "audience_labels",
        "customer_file_source",
        "data_source",
        "data_source_types",
        "datafile_custom_audience_uploading_status",
        "delete_time",
        "delivery_status",
        "description",
        "excluded_custom_audiences",
        "external_event_source",
        "fields_violating_integrity_policy",
        "household_audience",
        "id",
        "included_custom_audiences",
        "is_eligible_for_sac_campaigns",
        "is_household",
        "is_snapshot",
        "is_value_based",
        "lookalike_audience_ids",
        "lookalike_spec",
        "messenger_marketing_messages_page",
        "name",
        "operation_status",
        "opt_out_link",
        "owner_business",
        "page_deletion_marked_delete_time",
        "permission_for_actions",
        "pixel_id",
        "regulated_audience_spec",
        "retention_days",
        "rev_share_policy_id",
        "rule",
        "rule_aggregation",
        "rule_v2",
        "seed_audience",
        "sharing_status",
        "subtype",
        "time_content_updated",
        "time_created",
        "time_updated",
    ]
)
DEFAULT_LIMIT = 25
MAX_LIMIT = 500


def create(ctx: Ctx, account: str, params: dict[str, str]) -> dict[str, Any]:
    """``POST /act_{id}/customaudiences``: a customer-file audience or a lookalike."""
    subtype = params.get("subtype") or "CUSTOM"
    existing = ctx.store.audiences(account)
    if subtype == "CUSTOM":
        fields = rules.parse_custom(params)
        if sum(a.subtype == "CUSTOM" for a in existing) >= ctx.config.max_custom_audiences:
            raise errors.create_failed(
                "Custom Audience Limit Reached",
                f"This ad account has reached its limit of {ctx.config.max_custom_audiences} "
                "customer file custom audiences. Delete unused audiences and try again.",
            )
        audience = Audience(
            id=ctx.store.next_id(), account_id=account, subtype="CUSTOM", time_created=ctx.now, **fields
        )
    elif subtype == "LOOKALIKE":
        audience = _lookalike(ctx, account, params, existing)
    else:
        raise errors.invalid_parameter(
            f"subtype {subtype} is not supported here: this sandbox models customer file "
            "(CUSTOM) and LOOKALIKE audiences",
            title="Unsupported Audience Type",
        )
    audience.time_updated = audience.time_content_updated = ctx.now
    ctx.store.save_audience(audience)
    return {"id": audience.id}


def _lookalike(ctx: Ctx, account: str, params: dict[str, str], existing: list[Audience]) -> Audience:
    name = (params.get("name") or "").strip()
    if not name:
        raise errors.invalid_parameter("The parameter name is required")
    origin = params.get("origin_audience_id") or ""
    if not origin:
        raise errors.invalid_parameter("origin_audience_id is required for subtype LOOKALIKE")
    spec = lookalike.parse_spec(params.get("lookalike_spec"))
    seed = ctx.store.audience(origin)
    if seed is None or seed.account_id != account:
        raise errors.unknown_object("GET", origin)
    uploads.settle(ctx, seed)
    _, matched = ctx.store.members.counts(seed.id, seed.live_gen)
    lookalike.check_seed(seed, spec, matched)
    if sum(a.subtype == "LOOKALIKE" for a in existing) >= ctx.config.max_lookalikes:
        raise errors.create_failed(
            "Lookalike Audience Limit Reached",
            f"This ad account has reached its limit of {ctx.config.max_lookalikes} lookalike audiences.",
        )
    if any(lookalike.same_lookalike(spec, a.lookalike_spec or {}) for a in ctx.store.lookalikes_of(seed.id)):
        raise lookalike.duplicate()
    return Audience(
        id=ctx.store.next_id(),
        account_id=account,
        name=name,
        subtype="LOOKALIKE",
        time_created=ctx.now,
        description=params.get("description") or None,
        is_value_based=seed.is_value_based,
        origin_audience_id=seed.id,
        lookalike_spec=spec,
        ready_at=ctx.now + ctx.config.lookalike_build_seconds,
    )


def read(ctx: Ctx, audience: Audience, params: dict[str, str]) -> dict[str, Any]:
    """``GET /{audience_id}?fields=...``."""
    return _render(ctx, audience, _fields(params))


def delete(ctx: Ctx, audience: Audience) -> dict[str, Any]:
    """``DELETE /{audience_id}``."""
    ctx.store.delete_audience(audience.id)
    return {"success": True}


def list_edge(ctx: Ctx, account: str, params: dict[str, str], path: str) -> dict[str, Any]:
    """``GET /act_{id}/customaudiences`` with cursor paging (``after`` and ``paging.next``)."""
    fields = _fields(params)
    limit = _limit(params.get("limit"))
    audiences = ctx.store.audiences(account)
    after = _decode_cursor(params.get("after"))
    if after is not None:
        audiences = [a for a in audiences if int(a.id) > after]
    page, more = audiences[:limit], len(audiences) > limit
    body: dict[str, Any] = {"data": []}
    for audience in page:
        uploads.settle(ctx, audience)
        body["data"].append(_render(ctx, audience, fields))
    if page:
        paging: dict[str, Any] = {"cursors": {"before": _cursor(page[0].id), "after": _cursor(page[-1].id)}}
        if more:
            query = {k: v for k, v in params.items() if k not in ("after", "appsecret_proof")}
            query["after"] = _cursor(page[-1].id)
            paging["next"] = f"{ctx.base_url}/{ctx.version}/{path}?{urlencode(query)}"
        body["paging"] = paging
    if params.get("summary", "").lower() in ("true", "1"):
        body["summary"] = {"total_count": len(ctx.store.audiences(account))}
    return body


def _render(ctx: Ctx, audience: Audience, fields: list[str]) -> dict[str, Any]:
    values = _values(ctx, audience)
    rendered = {f: values[f] for f in fields if f in values}
    rendered["id"] = audience.id  # Graph returns the id with every node, asked for or not
    return rendered


def _values(ctx: Ctx, a: Audience) -> dict[str, Any]:
    _, matched = ctx.store.members.counts(a.id, a.live_gen)
    replacing = uploads.running_replace(ctx, a) is not None
    people = rules.approximate_people(a, matched, ctx.now)
    lower, upper = (-1, -1) if people is None else rules.size_bounds(people)
    op_code, op_text = rules.operation_status(a, replacing=replacing, now=ctx.now)
    dl_code, dl_text = rules.delivery_status(a, -1 if people is None else people)
    values: dict[str, Any] = {
        "id": a.id,
        "account_id": a.account_id.removeprefix("act_"),
        "name": a.name,
        "subtype": a.subtype,
        "approximate_count_lower_bound": lower,
        "approximate_count_upper_bound": upper,
        "operation_status": {"code": op_code, "description": op_text},
        "delivery_status": {"code": dl_code, "description": dl_text},
        "time_created": a.time_created,
        "time_updated": a.time_updated,
        "time_content_updated": a.time_content_updated,
        "is_value_based": a.is_value_based,
        "data_source": _data_source(a),
        "retention_days": 0,
        "is_household": False,
        "is_snapshot": False,
    }
    if a.description is not None:
        values["description"] = a.description
    if a.customer_file_source is not None:
        values["customer_file_source"] = a.customer_file_source
    if a.audience_labels:
        values["audience_labels"] = a.audience_labels
    if a.subtype == "CUSTOM":
        values["lookalike_audience_ids"] = [la.id for la in ctx.store.lookalikes_of(a.id)]
    if a.lookalike_spec is not None and a.origin_audience_id is not None:
        seed = ctx.store.audience(a.origin_audience_id)
        origin = {"id": a.origin_audience_id, "type": "custom_audience"}
        if seed is not None:
            origin["name"] = seed.name
        values["lookalike_spec"] = {**a.lookalike_spec, "origin": [origin]}
    if a.flagged:
        values["fields_violating_integrity_policy"] = ["name"]
    return values


def _data_source(a: Audience) -> dict[str, str]:
    if a.subtype == "LOOKALIKE":
        return {"type": "UNKNOWN", "sub_type": "LOOKALIKE_PLATFORM", "creation_params": "[]"}
    if a.data_shape is None:
        return {"type": "UNKNOWN", "sub_type": "ANYTHING", "creation_params": "[]"}
    return {"type": "FILE_IMPORTED", "sub_type": a.data_shape, "creation_params": "[]"}


def _fields(params: dict[str, str]) -> list[str]:
    raw = params.get("fields")
    if not raw:
        return ["id"]
    names: list[str] = []
    depth, current = 0, ""
    for ch in raw + ",":  # nested selections like lookalike_spec{ratio} select the whole field
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            if current.strip():
                names.append(current.strip())
            current = ""
        elif depth == 0:
            current += ch
    for name in names:
        if name not in KNOWN_FIELDS:
            raise errors.nonexisting_field(name)
    return list(dict.fromkeys(names))


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or int(raw) < 1:
        raise errors.invalid_parameter("limit must be a positive integer")
    return min(int(raw), MAX_LIMIT)


def _cursor(audience_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": audience_id}).encode()).decode()


def _decode_cursor(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        return int(json.loads(base64.urlsafe_b64decode(raw.encode()))["id"])
    except (ValueError, KeyError, TypeError):
        raise errors.invalid_parameter("Invalid cursor in after") from None
