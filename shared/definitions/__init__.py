"""Declarative definitions from the project's YAML file: scoring rules and audiences.

``load_definitions(path)`` validates the whole file once at start; every error names its key
path (``audiences.2.destinations.meta.lookalike.ratio: ...``). Without a file, the packaged
``default.yaml`` applies: the default scoring profile and the three audiences of the design.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.definitions.audiences import AudienceConfigError, AudienceDefinition, load_audiences
from shared.definitions.scoring import ScoringConfig, ScoringConfigError, load_scoring

DEFAULT_FILE = Path(__file__).with_name("default.yaml")
SECTIONS = ("scoring", "audiences")


class DefinitionsError(ValueError):
    """The YAML file is unreadable or invalid; the message names the file and each bad key."""


@dataclass(frozen=True)
class Definitions:
    """Everything the YAML file declares."""

    scoring: ScoringConfig
    audiences: tuple[AudienceDefinition, ...]

    def audience(self, key: str) -> AudienceDefinition:
        """The audience named ``key`` (KeyError when absent)."""
        for audience in self.audiences:
            if audience.key == key:
                return audience
        raise KeyError(key)


def parse_definitions(document: Any, *, source: str = "<config>") -> Definitions:
    """Validate an already-parsed YAML document."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise DefinitionsError(f"{source}: the top level must be a mapping with {', '.join(SECTIONS)}")
    unknown = sorted(set(document) - set(SECTIONS))
    errors = [f"{key}: unknown section; expected one of {', '.join(SECTIONS)}" for key in unknown]
    scoring = audiences = None
    try:
        scoring = load_scoring(document.get("scoring"))
    except ScoringConfigError as exc:
        errors.append(str(exc))
    try:
        audiences = load_audiences(document.get("audiences"))
    except AudienceConfigError as exc:
        errors.append(str(exc))
    if errors or scoring is None or audiences is None:
        raise DefinitionsError(f"{source}: invalid configuration\n" + "\n".join(errors))
    return Definitions(scoring=scoring, audiences=audiences)


def load_definitions(path: Path | None = None) -> Definitions:
    """Read and validate the YAML file at ``path`` (the packaged default when None)."""
    path = path or DEFAULT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionsError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DefinitionsError(f"{path}: not valid YAML{where}") from None
    return parse_definitions(document, source=str(path))
