"""``audiencesync sandbox meta``: flags, config building and the foreground server loop.

Flag definitions stay import-light (argparse and the config only) so registering the command
does not load flask or waitress; ``serve`` imports the server when the command runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from services.sandbox_meta.config import AccountPolicy, ConfigError, SandboxConfig, normalise_account
from services.sandbox_meta.domain.matching import load_known_hashes
from shared.config import Settings
from shared.log import get_logger

log = get_logger(__name__)
DEFAULT_PORT = 8790


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sandbox meta`` flags (documented in docs/sandbox-meta.md)."""
    defaults = SandboxConfig()
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    add("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)")
    add(
        "--access-token",
        action="append",
        dest="access_tokens",
        metavar="T",
        help="a token the sandbox accepts (repeatable); any other token gets error 190 "
        f"(default: the demo token {defaults.access_tokens[0]!r})",
    )
    add(
        "--read-only-token",
        action="append",
        dest="read_only_tokens",
        default=[],
        metavar="T",
        help="a valid token without ads_management: writes answer 294 (repeatable)",
    )
    add("--app-secret", help="require appsecret_proof = HMAC-SHA256(app_secret, access_token)")
    add("--app-secret-file", type=Path, help="read the app secret from this file instead")
    add(
        "--ad-account",
        action="append",
        dest="ad_accounts",
        metavar="act_N",
        help="an ad account the tokens may use (repeatable; default act_1000)",
    )
    add("--state", type=Path, help="keep state in this SQLite file across restarts (default: in memory)")
    add(
        "--admin-token",
        help="require this token (X-Sandbox-Admin-Token) on /_sandbox "
        "endpoints instead of allowing loopback callers only",
    )
    add(
        "--match-rate",
        type=float,
        default=defaults.match_rate,
        help="share of uploaded people who match a platform user, decided by hash (0-1)",
    )
    add("--known-hashes", type=Path, help="file of known identifiers (one hash per line); only these match")
    add(
        "--budget-points",
        type=int,
        default=defaults.budget_points,
        help="per-account call budget per window (reads cost 1, writes 3)",
    )
    add(
        "--budget-window",
        type=int,
        default=defaults.budget_window_seconds,
        metavar="SECONDS",
        help="length of the budget window",
    )
    add(
        "--transient-error-rate",
        type=float,
        default=0.0,
        help="share of calls failing with transient error 1 or 2 (0-1)",
    )
    add("--fault-seed", type=int, default=0, help="seed for the fault RNG (deterministic runs)")
    add("--latency-ms", type=int, default=0, help="added latency per call")
    add(
        "--lookalike-build-seconds",
        type=int,
        default=0,
        help="time before a new lookalike is ready (operation_status 441 until then)",
    )
    add("--threads", type=int, default=defaults.threads, help="HTTP worker threads")
    add(
        "--expired-token",
        action="append",
        dest="expired_tokens",
        default=[],
        metavar="T",
        help="a known token that is already expired: answers 190/463 (repeatable)",
    )
    add(
        "--throttle",
        action="append",
        dest="throttles",
        default=[],
        metavar="SECONDS[:CODE[:act_N]]",
        help="a throttling window open from the start (code 4, 17, 613 or 80003; default "
        "80003; all accounts unless one is named); repeatable",
    )
    add(
        "--decline-tos",
        action="append",
        default=[],
        metavar="act_N",
        help="this account has not accepted the Custom Audience terms (200/1870090)",
    )
    add(
        "--decline-value-based-tos",
        action="append",
        default=[],
        metavar="act_N",
        help="this account has not accepted the value-based terms (200/1870090)",
    )
    add(
        "--unlinked-account",
        action="append",
        default=[],
        metavar="act_N",
        help="this account is not linked to a business (200/1870050)",
    )


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Build and validate the config; raises ``ConfigError`` naming the bad flag."""
    secret = args.app_secret
    if args.app_secret_file is not None:
        try:
            secret = args.app_secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--app-secret-file: cannot read ({exc.strerror})") from None
    known = None
    if args.known_hashes is not None:
        try:
            with args.known_hashes.open(encoding="utf-8") as lines:
                known = load_known_hashes(lines)
        except OSError as exc:
            raise ConfigError(f"--known-hashes: cannot read ({exc.strerror})") from None
    defaults = SandboxConfig()
    policies: dict[str, AccountPolicy] = {}
    for flag, name in (("decline_tos", "tos_accepted"),
                       ("decline_value_based_tos", "value_based_tos_accepted"),
                       ("unlinked_account", "business_linked")):  # fmt: skip
        for raw in getattr(args, flag):
            account = normalise_account(raw)
            policies[account] = replace(policies.get(account, AccountPolicy()), **{name: False})
    fields: dict[str, Any] = {
        "access_tokens": tuple(args.access_tokens or defaults.access_tokens),
        "read_only_tokens": tuple(args.read_only_tokens),
        "app_secret": secret or None,
        "ad_accounts": tuple(args.ad_accounts or defaults.ad_accounts),
        "admin_token": args.admin_token,
        "state_path": args.state,
        "host": args.host,
        "port": args.port,
        "threads": args.threads,
        "match_rate": args.match_rate,
        "known_hashes": known,
        "budget_points": args.budget_points,
        "budget_window_seconds": args.budget_window,
        "transient_error_rate": args.transient_error_rate,
        "fault_seed": args.fault_seed,
        "latency_ms": args.latency_ms,
        "lookalike_build_seconds": args.lookalike_build_seconds,
        "policies": policies,
        "expired_tokens": tuple(args.expired_tokens),
        "throttle_windows": tuple(_throttle(raw) for raw in args.throttles),
    }
    return SandboxConfig(**fields).validated()


def _throttle(raw: str) -> tuple[int, int, str | None]:
    """``SECONDS[:CODE[:act_N]]`` -> ``(seconds, code, account)``."""
    parts = raw.split(":")
    try:
        seconds = int(parts[0])
        code = int(parts[1]) if len(parts) > 1 and parts[1] else 80003
    except ValueError:
        raise ConfigError(f"--throttle {raw!r}: expected SECONDS[:CODE[:act_N]]") from None
    account = normalise_account(parts[2]) if len(parts) > 2 and parts[2] else None
    return seconds, code, account


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the sandbox in the foreground until SIGTERM or Ctrl-C; returns the exit code."""
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"audiencesync sandbox meta: {exc}", file=sys.stderr)
        return 2
    from services.sandbox_meta.server import RunningSandbox
    from services.sandbox_meta.service import MetaSandbox

    try:
        running = RunningSandbox(MetaSandbox(config))
    except OSError as exc:
        print(f"audiencesync sandbox meta: cannot listen on {args.host}:{args.port} ({exc})", file=sys.stderr)
        return 1
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("sandbox_meta.signal", signal=signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    running.start()
    print(
        f"Meta sandbox listening on {running.url} (accounts: {', '.join(config.ad_accounts)}; "
        f"state: {config.state_path or 'in memory'})",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
