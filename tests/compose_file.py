"""docker-compose.yml as compose reads it, and its containers' commands and settings as they load.

Shared by the static checks (tests/unit/test_deploy_compose.py) and the run of every container as
a process (tests/e2e/test_compose_processes.py).
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import services
from services.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SANDBOX_ENV = ROOT / "deploy" / "compose" / "sandbox.env"
SECRETS_DIR = "/run/secrets/"
# Read by libraries, not by our settings: google.auth's Application Default Credentials.
LIBRARY_VARIABLES = frozenset({"GOOGLE_APPLICATION_CREDENTIALS"})
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}")


def load_compose(path: Path = COMPOSE) -> dict[str, Any]:
    """The file as compose reads it (YAML merge keys resolved); interpolation is left as written."""
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a compose environment file (comments and blanks skipped)."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """``${NAME:-default}`` / ``${NAME-default}`` / ``${NAME}`` as compose substitutes them."""

    def one(match: re.Match[str]) -> str:
        name, op, default = match.group(1), match.group(2), match.group(3) or ""
        if name in variables and (variables[name] or op != ":-"):
            return variables[name]
        return default

    return INTERPOLATION.sub(one, value)


def our_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from our Dockerfile (kafka and postgres are other images)."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def image_env() -> dict[str, str]:
    """The Dockerfile's ``ENV`` settings (``NAME=value`` pairs, continuation lines joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    pairs = [p for ln in text.splitlines() if ln.startswith("ENV ") for p in ln.removeprefix("ENV").split()]
    return dict(pair.split("=", 1) for pair in pairs)


def entrypoint() -> list[str]:
    """The Dockerfile's ENTRYPOINT (exec form)."""
    line = next(ln for ln in DOCKERFILE.read_text().splitlines() if ln.startswith("ENTRYPOINT"))
    argv: list[str] = json.loads(line.removeprefix("ENTRYPOINT"))
    return argv


def parse(argv: list[str]) -> argparse.Namespace:
    """``argv`` through the real CLI parser, failing the test (not exiting) when it does not parse."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"`audiencesync {' '.join(argv)}` is not a command the CLI accepts")


def command_of(svc: dict[str, Any]) -> list[str]:
    """The CLI arguments a container runs: after the entrypoint, which must be ``audiencesync``."""
    argv = [*(svc.get("entrypoint") or entrypoint()), *svc.get("command", [])]
    assert argv[0] == "audiencesync", f"runs {argv[0]!r}, not the audiencesync CLI"
    return [str(a) for a in argv[1:]]


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name a settings reader asks for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values, self.asked = dict(values), set[str]()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def settings_readers() -> list[Callable[[Mapping[str, str]], object]]:
    """Every ``from_env`` in ``shared.config`` and the services' ``config`` modules."""
    modules = [importlib.import_module("shared.config")]
    for info in pkgutil.iter_modules(services.__path__):
        if info.ispkg and (Path(services.__path__[0]) / info.name / "config.py").is_file():
            modules.append(importlib.import_module(f"services.{info.name}.config"))
    readers = [
        cls.from_env
        for module in modules
        for cls in vars(module).values()
        if isinstance(cls, type) and cls.__module__ == module.__name__ and "from_env" in vars(cls)
    ]
    assert len(readers) >= 4, readers  # Settings, MetaSettings, GoogleSettings, AlertSettings at least
    return readers


def read_settings(env: Mapping[str, str]) -> set[str]:
    """Run every reader over ``env`` (raising as the process would); the names they asked for."""
    recording = RecordingEnv(env)
    for reader in settings_readers():
        reader(recording)
    return recording.asked


def container_env(
    svc: dict[str, Any], variables: Mapping[str, str], files: Mapping[str, Path], tmp: Path
) -> dict[str, str]:
    """A container's environment, interpolated, with its secret and data files made real in ``tmp``."""
    env = {k: interpolate(str(v), variables) for k, v in (svc.get("environment") or {}).items()}
    for name, value in env.items():
        if value.startswith(SECRETS_DIR):
            env[name] = str(files[value.removeprefix(SECRETS_DIR)])
        elif name.endswith("_FILE") and value:  # a file a volume provides, e.g. the sandbox's CA
            stand_in = tmp / name.lower()
            stand_in.write_text("stand-in\n")
            env[name] = str(stand_in)
    return env


SETUPS = {"default": {}, "sandbox": read_env_file(SANDBOX_ENV)}
