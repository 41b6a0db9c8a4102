"""``audiencesync tokens create|list|revoke``: API tokens for ad-ops tools, scripts and Prometheus.

``create`` prints the token alone on the last line of stdout (scripts take ``| tail -1``); it
is shown once and only its SHA-256 is stored. Every creation and revocation is audited.
"""

from __future__ import annotations

import argparse
import sys

from shared.config import Settings

SCOPE_HELP = "read: see everything but the audit log; operate: also trigger and cancel syncs, resolve "
SCOPE_HELP += "and replay dead letters; admin: also edit audiences, erase customers, read the audit log"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tokens create``, ``tokens list`` and ``tokens revoke``."""
    tokens = sub.add_parser("tokens", help="create, list or revoke API tokens")
    actions = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a token and print it once (last line of stdout)")
    create.add_argument("name")
    create.add_argument("--scope", choices=("read", "operate", "admin"), default="read", help=SCOPE_HELP)
    create.set_defaults(func=_create)
    listing = actions.add_parser("list", help="every token: name, scope, created, last used, revoked")
    listing.set_defaults(func=_list)
    revoke = actions.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    revoke.set_defaults(func=_revoke)


def _create(args: argparse.Namespace, settings: Settings) -> int:
    from services.api.auth import TokenError, create_token
    from shared.store.db import Store
    from shared.store.migrate import upgrade

    upgrade(settings.database_url)
    store = Store(settings.database_url)
    try:
        token = create_token(store, args.name, [args.scope], actor="cli")
    except TokenError as exc:
        print(f"audiencesync: {exc}", file=sys.stderr)
        return 2
    finally:
        store.dispose()
    print(f"token {args.name!r} with scope {args.scope!r}; shown once, store it now:")
    print(token)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from services.api.auth import list_tokens
    from shared.store.db import Store

    store = Store(settings.database_url)
    try:
        tokens = list_tokens(store)
    finally:
        store.dispose()
    print(f"{'name':<24} {'scope':<8} {'created':<20} {'last used':<20} revoked")
    for t in tokens:
        stamps = [
            f"{s:%Y-%m-%d %H:%M:%S}" if s else "-" for s in (t.created_at, t.last_used_at, t.revoked_at)
        ]
        print(f"{t.name:<24} {t.scope:<8} {stamps[0]:<20} {stamps[1]:<20} {stamps[2]}")
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    from services.api.auth import revoke_token
    from shared.store.db import Store

    store = Store(settings.database_url)
    try:
        ok = revoke_token(store, args.name, actor="cli")
    finally:
        store.dispose()
    print("revoked" if ok else f"no active token named {args.name!r}")
    return 0 if ok else 1
