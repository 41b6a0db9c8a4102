"""The YAML file with rules and audiences: defaults load, and errors name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.definitions import DefinitionsError, load_definitions, parse_definitions


def test_packaged_default_has_the_designs_three_audiences() -> None:
    d = load_definitions()
    assert [a.key for a in d.audiences] == [
        "icp_seed",
        "abandoned_checkout_retarget",
        "negative_icp_exclusion",
    ]
    seed = d.audience("icp_seed")
    assert seed.meta is not None and seed.meta.value_based and seed.meta.lookalike is not None
    assert seed.meta.lookalike.countries == ("US", "GB", "DE")
    assert d.audience("negative_icp_exclusion").role == "exclusion"
    retarget = d.audience("abandoned_checkout_retarget").select
    assert retarget.matches("neutral", "abandoned_checkout")
    assert not retarget.matches("negative_icp", "abandoned_checkout")
    assert not retarget.matches("icp", "repeat")


def _audience(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"key": "a", "select": {"label": "icp"}, "destinations": {"meta": {}}}
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"audience": []}, "audience: unknown section"),
        ({"audiences": {"key": "a"}}, "audiences: must be a list"),
        ({"audiences": [_audience(key="Bad Key")]}, "audiences.0.key:"),
        (
            {"audiences": [_audience(select={"label": "vip"})]},
            "audiences.0.select.label: unknown value 'vip'",
        ),
        (
            {"audiences": [_audience(select={"stage": "loyal"})]},
            "audiences.0.select.stage: unknown value",
        ),
        ({"audiences": [_audience(role="suppress")]}, "audiences.0.role:"),
        (
            {"audiences": [_audience(destinations={"tiktok": {}})]},
            "audiences.0.destinations.tiktok:",
        ),
        (
            {
                "audiences": [
                    _audience(destinations={"meta": {"lookalike": {"countries": ["US"], "ratio": 0.015}}})
                ]
            },
            "audiences.0.destinations.meta.lookalike.ratio: must be a multiple of 0.01",
        ),
        (
            {"audiences": [_audience(destinations={"meta": {"accounts": ["123"]}})]},
            "audiences.0.destinations.meta.accounts.0: must look like act_123",
        ),
        (
            {"audiences": [_audience(destinations={"google": {"membership_days": 10000}})]},
            "audiences.0.destinations.google.membership_days:",
        ),
        (
            {"audiences": [_audience(role="exclusion", destinations={"meta": {"value_based": True}})]},
            "audiences.0.destinations: an exclusion audience cannot be",
        ),
        ({"audiences": [_audience(), _audience()]}, "audiences: duplicate key 'a'"),
    ],
)
def test_invalid_definitions_name_the_key_path(document: dict[str, object], expected: str) -> None:
    with pytest.raises(DefinitionsError) as info:
        parse_definitions(document)
    assert expected in str(info.value)


def test_yaml_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("audiences:\n  - key: a\n   select: [\n")
    with pytest.raises(DefinitionsError, match=r"c.yaml: not valid YAML at line 3"):
        load_definitions(bad)
