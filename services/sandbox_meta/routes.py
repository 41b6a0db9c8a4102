"""Maps a Graph path and method to the handler that answers it, with what it costs and needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.sandbox_meta import audiences, uploads
from services.sandbox_meta.context import Ctx
from services.sandbox_meta.domain import errors
from services.sandbox_meta.domain.audience import Audience


@dataclass(frozen=True)
class Route:
    """A resolved call: its log name, the account it bills, and what it requires."""

    name: str
    account: str | None
    write: bool
    run: Callable[[], dict[str, Any]]
    needs_tos: bool = False  # customer-file terms must be accepted
    value_based: bool = False  # value-based terms must be accepted too


def resolve(
    ctx: Ctx, method: str, parts: list[str], params: dict[str, str], accounts: tuple[str, ...]
) -> Route:
    """Find the handler for ``method`` on ``/part/part``; unknown objects answer 100/33."""
    head = parts[0]
    if head.startswith("act_"):
        return _account_route(ctx, method, parts, params, accounts)
    if not head.isdigit():
        raise errors.unknown_object(method, head)
    audience = ctx.store.audience(head)
    if audience is None or audience.account_id not in accounts:
        raise errors.unknown_object(method, head)
    uploads.settle(ctx, audience)
    return _audience_route(ctx, method, audience, parts[1:], params)


def _account_route(
    ctx: Ctx, method: str, parts: list[str], params: dict[str, str], accounts: tuple[str, ...]
) -> Route:
    account = parts[0]
    numeric = account.removeprefix("act_")
    if not numeric.isdigit():
        raise errors.unknown_object(method, account)
    if account not in accounts:
        raise errors.no_account_permission(account)
    edge = parts[1:]
    if not edge and method == "GET":
        return Route("GET /act_{id}", account, False, lambda: _account_node(account, numeric))
    if edge != ["customaudiences"]:
        raise errors.unknown_path("/".join(edge)) if edge else errors.unknown_object(method, account)
    if method == "POST":
        return Route(
            "POST /act_{id}/customaudiences",
            account,
            True,
            lambda: audiences.create(ctx, account, params),
            needs_tos=True,
            value_based=_creates_value_based(ctx, params),
        )
    if method == "GET":
        path = "/".join(parts)
        return Route(
            "GET /act_{id}/customaudiences",
            account,
            False,
            lambda: audiences.list_edge(ctx, account, params, path),
        )
    raise errors.unknown_object(method, account)


def _audience_route(
    ctx: Ctx, method: str, audience: Audience, edge: list[str], params: dict[str, str]
) -> Route:
    account = audience.account_id
    vb = audience.is_value_based
    if not edge:
        if method == "GET":
            return Route("GET /{audience_id}", account, False, lambda: audiences.read(ctx, audience, params))
        if method == "DELETE":
            return Route("DELETE /{audience_id}", account, True, lambda: audiences.delete(ctx, audience))
        if method == "POST":
            return Route(
                "POST /{audience_id}", account, True, lambda: _update(ctx, audience, params), needs_tos=True
            )
    elif len(edge) == 1:
        name = edge[0]
        if name == "users" and method in ("POST", "DELETE"):
            adding = method == "POST"
            return Route(
                f"{method} /{{audience_id}}/users",
                account,
                True,
                lambda: uploads.change_users(ctx, audience, params, adding=adding),
                needs_tos=True,
                value_based=vb,
            )
        if name == "usersreplace" and method == "POST":
            return Route(
                "POST /{audience_id}/usersreplace",
                account,
                True,
                lambda: uploads.replace_users(ctx, audience, params),
                needs_tos=True,
                value_based=vb,
            )
        if name == "sessions" and method == "GET":
            return Route(
                "GET /{audience_id}/sessions",
                account,
                False,
                lambda: uploads.list_sessions(ctx, audience, params),
            )
        if name not in ("users", "usersreplace", "sessions"):
            raise errors.unknown_path(name)
    else:
        raise errors.unknown_path("/".join(edge))
    raise errors.unknown_object(method, audience.id)


def _creates_value_based(ctx: Ctx, params: dict[str, str]) -> bool:
    if params.get("subtype") == "LOOKALIKE":
        seed = ctx.store.audience(params.get("origin_audience_id") or "")
        return seed is not None and seed.is_value_based
    return (params.get("is_value_based") or "").lower() in ("true", "1")


def _account_node(account: str, numeric: str) -> dict[str, Any]:
    return {"id": account, "account_id": numeric}


def _update(ctx: Ctx, audience: Audience, params: dict[str, str]) -> dict[str, Any]:
    """``POST /{audience_id}``: rename or re-describe an audience."""
    if audience.flagged:
        raise errors.audience_flagged()
    if "name" in params:
        if not params["name"].strip():
            raise errors.invalid_parameter("name must not be empty")
        audience.name = params["name"].strip()
    if "description" in params:
        audience.description = params["description"] or None
    audience.time_updated = ctx.now
    ctx.store.save_audience(audience)
    return {"success": True}
