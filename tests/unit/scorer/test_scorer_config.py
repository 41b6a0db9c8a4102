"""The ``scoring:`` YAML section: defaults, built-in profiles, overrides and error paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.definitions.scoring import (
    DEFAULT_SCORING,
    Condition,
    ScoringConfigError,
    load_scoring,
)

DOCS = Path(__file__).parents[3] / "docs" / "scoring.md"


def test_no_section_means_the_default_profile() -> None:
    assert load_scoring(None) == load_scoring({}) == DEFAULT_SCORING
    assert DEFAULT_SCORING.active.name == "default"
    assert DEFAULT_SCORING.active.icp.when[0] == Condition("value", "top_percent", 15.0)
    assert set(DEFAULT_SCORING.profiles) == {"default", "seed"}


def test_the_seed_profile_is_the_seed_briefs_rules() -> None:
    seed = load_scoring({"profile": "seed"}).active
    assert [(c.feature, c.op, c.threshold) for c in seed.icp.when] == [
        ("aov", "above", 150.0),
        ("ltv", "above", 500.0),
        ("orders_per_year", "at_least", 3.0),
    ]
    assert seed.icp.match == "all" and seed.negative_icp.match == "any"


def test_a_custom_profile_and_partial_sections() -> None:
    config = load_scoring(
        {
            "profile": "mine",
            "profiles": {
                "mine": {
                    "icp": {
                        "min_orders": 3,
                        "when": [
                            {"feature": "value", "top_percent": 5},
                            {"feature": "aov", "above_percentile": 50},
                        ],
                    },
                    "negative_icp": {
                        "match": "any",
                        "when": [{"feature": "return_rate", "above": 0.4, "min_orders": 3}],
                    },
                }
            },
            "model": {"horizon_days": 180},
            "stages": {"abandoned_within_days": None},
            "material_change": {"value_relative": 0.2},
        }
    )
    assert config.active.icp.min_orders == 3 and config.active.icp.match == "all"
    assert config.active.negative_icp.when[0].min_orders == 3
    assert config.model.horizon_days == 180 and config.model.fit_sample == 200_000
    assert config.stages.abandoned_within_days is None
    assert config.material_change.value_relative == 0.2
    assert config.material_change.value_absolute == 1.0
    assert set(config.profiles) == {"default", "seed", "mine"}


def test_a_yaml_profile_named_like_a_builtin_replaces_it() -> None:
    config = load_scoring(
        {
            "profiles": {
                "seed": {
                    "icp": {"when": [{"feature": "aov", "above": 200}]},
                    "negative_icp": {"when": [{"feature": "aov", "below": 20}]},
                }
            }
        }
    )
    assert config.profiles["seed"].icp.when == (Condition("aov", "above", 200.0),)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"profile": "nope"}, "scoring.profile: unknown profile 'nope' (known: default, seed)"),
        ({"modle": {}}, "scoring.modle: Unknown field."),
        ({"model": {"horizon_days": 0}}, "scoring.model.horizon_days: Must be greater"),
        ({"stages": {"lapsed_p_alive_below": 2}}, "scoring.stages.lapsed_p_alive_below: Must be"),
        (
            {
                "profiles": {
                    "p": {"icp": {"when": []}, "negative_icp": {"when": [{"feature": "aov", "below": 1}]}}
                }
            },
            "scoring.profiles.p.icp.when: Shorter than minimum length 1.",
        ),
        (
            {"profiles": {"p": {"icp": {"when": [{"feature": "aov", "above": 1, "below": 2}]}}}},
            "scoring.profiles.p.icp.when.0: give exactly one of above, below",
        ),
        (
            {"profiles": {"p": {"icp": {"when": [{"feature": "aov", "above": 1}]}}}},
            "scoring.profiles.p.negative_icp: Missing data for required field.",
        ),
        (
            {"profiles": {"p": {"icp": {"when": [{"feature": "aovv", "above": 1}]}}}},
            "scoring.profiles.p.icp.when.0.feature: Must be one of: orders, aov",
        ),
        (
            {"profiles": {"p": {"icp": {"when": [{"feature": "aov", "top_percent": 0}]}}}},
            "scoring.profiles.p.icp.when.0.top_percent: Must be greater than 0",
        ),
        (
            {"profiles": {"p": {"icp": {"match": "most", "when": [{"feature": "aov", "above": 1}]}}}},
            "scoring.profiles.p.icp.match: Must be one of: all, any.",
        ),
        ({"profiles": {"p": "aov > 150"}}, "scoring.profiles.p: Invalid input type."),
        ("profile: seed", "scoring: expected a mapping, got str"),
    ],
)
def test_errors_name_the_bad_key_path(section: object, message: str) -> None:
    with pytest.raises(ScoringConfigError) as caught:
        load_scoring(section)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(ScoringConfigError) as caught:
        load_scoring({"profile": "x", "model": {"horizon_days": 0}})
    lines = str(caught.value).splitlines()
    assert len(lines) == 2 and lines[0].startswith("scoring.model.horizon_days")


def test_the_documented_example_is_valid() -> None:
    text = DOCS.read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = load_scoring(yaml.safe_load(example)["scoring"])
    assert config.active.name == "mine"
