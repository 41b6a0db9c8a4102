"""docker-compose.yml and the Dockerfile agree with the compose specification and with the code.

No Docker engine runs here, so what ``docker compose up`` would find is checked statically: the
file against the compose specification's JSON schema (shipped offline by check-jsonschema), every
command a container runs against the real CLI parser, every secret and dependency against the
file itself and ``secrets init``, and every variable a container is given against the names the
settings readers ask for (recorded from the readers themselves, not a copied list), in the default
setup and with the sandbox profile's environment file.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from services.cli.secret_files import COMPOSE_SECRETS, SANDBOX_TOKEN, init_secrets
from services.cli.stack import SERVICES
from tests.compose_file import (
    COMPOSE,
    DOCKERFILE,
    INTERPOLATION,
    LIBRARY_VARIABLES,
    ROOT,
    SECRETS_DIR,
    SETUPS,
    command_of,
    container_env,
    entrypoint,
    image_env,
    load_compose,
    our_services,
    parse,
    read_settings,
)

# --- the compose specification ---------------------------------------------------------------


def validate_against_compose_spec(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with the compose specification's schema it ships (nothing downloaded)."""
    checker = Path(sys.executable).with_name("check-jsonschema")
    argv = [str(checker), "--builtin-schema", "vendor.compose-spec", str(path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_compose_file_matches_the_compose_specification_schema() -> None:
    done = validate_against_compose_spec(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_misspelt_service_key_fails_the_schema(tmp_path: Path) -> None:
    """The schema check can fail: the same file with one key misspelt is refused."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:", "    healtcheck:", 1))
    done = validate_against_compose_spec(broken)
    assert done.returncode == 1 and "healtcheck" in done.stdout, done.stdout


# --- what docker compose would refuse or get wrong: each check lists problems -------------------


def command_problems(compose: dict[str, Any]) -> list[str]:
    """Containers whose command the CLI does not accept."""
    problems = []
    for name, svc in our_services(compose).items():
        try:
            parse(command_of(svc))
        except pytest.fail.Exception as exc:
            problems.append(f"{name}: {exc}")
    return problems


def dependency_problems(compose: dict[str, Any]) -> list[str]:
    """Dependencies on undefined services, restarting one-shot steps, hard needs on profiles."""
    problems, defined = [], compose["services"]
    for name, svc in defined.items():
        for target, how in (svc.get("depends_on") or {}).items():
            if target not in defined:
                problems.append(f"{name} depends on undefined {target}")
                continue
            restart = defined[target].get("restart", "no")
            if how["condition"] == "service_completed_successfully" and restart not in {"no", "on-failure"}:
                problems.append(f"{target} is a one-shot step but restarts ({restart})")
            if defined[target].get("profiles") and not svc.get("profiles") and how.get("required", True):
                problems.append(f"{name} cannot start without {target}, which only a profile starts")
    return problems


def secret_problems(compose: dict[str, Any]) -> list[str]:
    """Secrets used but undefined, files named but not mounted (or mounted and unused)."""
    problems, defined = [], set(compose.get("secrets", {}))
    for name, svc in compose["services"].items():
        mounted = set(svc.get("secrets", []))
        named = {
            str(v).removeprefix(SECRETS_DIR)
            for v in (svc.get("environment") or {}).values()
            if str(v).startswith(SECRETS_DIR)
        }
        if mounted - defined:
            problems.append(f"{name} mounts undefined secrets {sorted(mounted - defined)}")
        if named != mounted:
            problems.append(f"{name}: secret files named {sorted(named)}, mounted {sorted(mounted)}")
    return problems


def known_names(svc: dict[str, Any], tmp: Path) -> set[str]:
    """Every name the readers ask for in some setup this file supports (accounts set or not)."""
    names: set[str] = set()
    for setup, variables in SETUPS.items():
        folder = tmp / f"known-{setup}"
        init_secrets(folder, sandbox=setup == "sandbox")
        files = {name: folder / name for name in COMPOSE_SECRETS}
        with contextlib.suppress(ValueError):  # a setup that does not load is reported elsewhere
            names |= read_settings(container_env(svc, variables, files, folder))
    return names


def variable_problems(compose: dict[str, Any], variables: Mapping[str, str], tmp: Path) -> list[str]:
    """Containers whose settings do not load, or that set a variable no settings reader asks for."""
    problems = []
    files = {name: tmp / name for name in COMPOSE_SECRETS}
    for name, svc in our_services(compose).items():
        env = container_env(svc, variables, files, tmp)
        try:
            read_settings(env)
        except ValueError as exc:  # SettingsError, as the process would exit with it
            problems.append(f"{name}: {exc}")
        unread = set(env) - known_names(svc, tmp) - LIBRARY_VARIABLES
        if unread:
            problems.append(f"{name} sets {sorted(unread)}, which no settings reader asks for")
    return problems


def with_change(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    compose = load_compose()
    change(compose)
    return compose


def test_every_container_command_parses_with_the_real_cli() -> None:
    assert command_problems(load_compose()) == []


def test_every_dependency_exists_and_one_shot_steps_do_not_restart() -> None:
    assert dependency_problems(load_compose()) == []


def test_every_secret_a_container_names_is_defined_and_mounted() -> None:
    assert secret_problems(load_compose()) == []


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_every_variable_a_container_gets_is_read_and_valid(setup: str, tmp_path: Path) -> None:
    """Each container's settings load as its process would load them, and none is ignored."""
    init_secrets(tmp_path, sandbox=setup == "sandbox")
    assert variable_problems(load_compose(), SETUPS[setup], tmp_path) == []


def _rename_command(c: dict[str, Any]) -> None:
    c["services"]["topics"]["command"] = ["topics", "create"]


def _undefined_dependency(c: dict[str, Any]) -> None:
    c["services"]["scorer"]["depends_on"]["zookeeper"] = {"condition": "service_started"}


def _restarting_one_shot(c: dict[str, Any]) -> None:
    c["services"]["migrate"]["restart"] = "unless-stopped"


def _secret_without_mount(c: dict[str, Any]) -> None:  # the defect this file had
    c["services"]["migrate"]["environment"]["SHOPIFY_WEBHOOK_SECRET_FILE"] = (
        f"{SECRETS_DIR}shopify_webhook_secret"
    )


def _misspelt_variable(c: dict[str, Any]) -> None:
    c["services"]["scorer"]["environment"] = {
        **c["services"]["scorer"]["environment"],
        "KAFKA_PARTITION": "6",
    }


def _bad_value(c: dict[str, Any]) -> None:
    c["services"]["api"]["environment"]["LOG_FORMAT"] = "xml"


@pytest.mark.parametrize(
    ("check", "change"),
    [
        (command_problems, _rename_command),
        (dependency_problems, _undefined_dependency),
        (dependency_problems, _restarting_one_shot),
        (secret_problems, _secret_without_mount),
        (variable_problems, _misspelt_variable),
        (variable_problems, _bad_value),
    ],
)
def test_each_check_catches_its_defect(
    check: Callable[..., list[str]], change: Callable[[dict[str, Any]], None], tmp_path: Path
) -> None:
    init_secrets(tmp_path)
    args = ({}, tmp_path) if check is variable_problems else ()
    assert check(with_change(change), *args)


def test_the_image_runs_the_audiencesync_console_script() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert entrypoint() == ["audiencesync"]
    assert 'audiencesync = "services.cli.main:console"' in pyproject
    cmd = next(ln for ln in DOCKERFILE.read_text().splitlines() if ln.startswith("CMD"))
    parse(json.loads(cmd.removeprefix("CMD")))


def test_one_container_per_service_the_cli_can_serve() -> None:
    served = [
        args.service
        for svc in our_services(load_compose()).values()
        if (args := parse(command_of(svc))).command == "serve"
    ]
    assert sorted(served) == sorted(SERVICES)


def test_every_service_waits_for_migrations_and_topics_from_the_one_shot_steps() -> None:
    compose = load_compose()
    steps = {parse(command_of(svc)).command: name for name, svc in our_services(compose).items()}
    migrate, topics = steps["db"], steps["topics"]
    assert parse(command_of(compose["services"][migrate])).db_command == "upgrade"
    assert parse(command_of(compose["services"][topics])).topics_command == "ensure"
    for name, svc in our_services(compose).items():
        if parse(command_of(svc)).command == "serve":
            needs = svc["depends_on"]
            assert needs[migrate]["condition"] == "service_completed_successfully", name
            assert needs[topics]["condition"] == "service_completed_successfully", name


def test_the_api_listens_on_every_interface_on_the_port_its_healthcheck_and_mapping_use() -> None:
    api = next(
        svc
        for svc in our_services(load_compose()).values()
        if getattr(parse(command_of(svc)), "service", None) == "api"
    )
    args = parse(command_of(api))
    assert (args.host or api["environment"].get("API_HOST")) == "0.0.0.0"  # noqa: S104 - in a container
    assert any(f"127.0.0.1:{args.port}/" in part for part in api["healthcheck"]["test"])
    assert any(str(p).endswith(f":{args.port}") for p in api["ports"])


def served_ports(svc: dict[str, Any]) -> set[int]:
    """The loopback ports a container of ours listens on: its command's and its metrics port."""
    args = parse(command_of(svc))
    ports = {getattr(args, "port", None), getattr(args, "admin_port", None)}
    metrics = (svc.get("environment") or {}).get("METRICS_PORT")
    return {int(p) for p in (*ports, metrics) if p}


def test_every_long_running_container_has_a_healthcheck_on_a_port_it_serves() -> None:
    for name, svc in our_services(load_compose()).items():
        if svc.get("restart") in {"always", "unless-stopped"}:
            test = " ".join(svc["healthcheck"]["test"])
            asked = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)/", test)}
            assert asked and asked <= served_ports(svc), f"{name} checks {asked}, serves {served_ports(svc)}"


def test_secrets_init_creates_exactly_the_files_compose_mounts(tmp_path: Path) -> None:
    defined = load_compose()["secrets"]
    assert {name: s["file"] for name, s in defined.items()} == {
        name: f"./var/secrets/{name}" for name in COMPOSE_SECRETS
    }
    init_secrets(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == set(defined)


def test_bind_mounts_exist_and_named_volumes_are_declared() -> None:
    compose = load_compose()
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} mounts undeclared volume {source}"


def test_every_interpolated_variable_has_a_default_so_compose_needs_no_env_file() -> None:
    for match in INTERPOLATION.finditer(COMPOSE.read_text()):
        assert match.group(2), f"${{{match.group(1)}}} has no default"


def test_the_sandbox_env_file_sets_only_what_the_compose_file_reads() -> None:
    text, compose = COMPOSE.read_text(), load_compose()
    interpolated = {m.group(1) for m in INTERPOLATION.finditer(text)}
    variables = SETUPS["sandbox"]
    assert set(variables) - {"COMPOSE_PROFILES"} <= interpolated, set(variables) - interpolated
    profiles = {p for svc in compose["services"].values() for p in svc.get("profiles", [])}
    assert set(variables["COMPOSE_PROFILES"].split(",")) <= profiles


def test_the_image_sets_only_variables_python_or_the_settings_read() -> None:
    ours = {n for n in image_env() if not n.startswith("PYTHON")}
    assert ours and ours <= read_settings({})


# --- the sandbox profile ---------------------------------------------------------------------


def test_sandbox_profile_accepts_the_tokens_accounts_and_names_the_syncers_use() -> None:
    compose, env = load_compose(), SETUPS["sandbox"]
    meta = parse(command_of(compose["services"]["sandbox-meta"]))
    google = parse(command_of(compose["services"]["sandbox-google"]))
    assert SANDBOX_TOKEN in meta.access_tokens and SANDBOX_TOKEN in google.access_tokens
    assert SANDBOX_TOKEN in google.allowlisted_developer_tokens
    assert set(env["META_ACCOUNTS"].split(",")) <= set(meta.ad_accounts)
    assert set(env["GOOGLE_CUSTOMERS"].split(",")) <= set(google.customers)
    assert env["META_GRAPH_URL"] == f"http://sandbox-meta:{meta.port}"
    for endpoint in (env["GOOGLE_DATAMANAGER_ENDPOINT"], env["GOOGLE_ADS_ENDPOINT"]):
        host, port = endpoint.rsplit(":", 1)
        assert host in compose["services"] and host in google.tls_names and int(port) == google.port
    assert Path(env["GOOGLE_CA_FILE"]) == google.cert_dir / "ca.pem"
    # The CA reaches the Google syncer through a volume the sandbox writes it to.
    written = {v.split(":")[0] for v in compose["services"]["sandbox-google"]["volumes"]}
    for reader in ("syncer_google", "scheduler"):
        mounts = [str(v).split(":") for v in compose["services"][reader]["volumes"]]
        assert any(src in written and google.cert_dir.is_relative_to(dst) for src, dst, *_ in mounts)
