"""On ``audiencesync demo-data`` output: labels against the planted truth, and the scorer's commands."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.cli.main import main
from services.cli.score import EXPORT_COLUMNS
from services.scorer.backtesting import run_backtest
from shared.definitions.scoring import DEFAULT_SCORING
from shared.store.models import Customer, Label
from tests.integration.scorer.conftest import DemoShop

pytestmark = pytest.mark.integration

# Measured on this demo shop (400 customers, seed 11) with the default profile; see docs/scoring.md.
FLOORS = {"icp": (0.95, 0.95), "negative_icp": (0.85, 0.85)}  # (precision, recall): the targets


def _cli(shop: DemoShop, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setenv("DATABASE_URL", shop.store.url)
    monkeypatch.setenv("AUDIENCESYNC_VAR_DIR", str(shop.settings.var_dir))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("AUDIENCESYNC_CONFIG", raising=False)
    return main(list(argv))


def precision_recall(
    predicted: Mapping[str, str], truth: Mapping[str, str], label: str
) -> tuple[float, float]:
    """Precision and recall of ``label`` over the customers in ``truth``."""
    hits = sum(1 for c, want in truth.items() if want == label and predicted.get(c) == label)
    said = sum(1 for c in truth if predicted.get(c) == label)
    wanted = sum(1 for want in truth.values() if want == label)
    return (hits / said if said else 0.0, hits / wanted if wanted else 0.0)


def test_labels_match_the_planted_truth(
    demo_shop: DemoShop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(demo_shop, monkeypatch, "score", "--all", "--as-of", demo_shop.as_of.date().isoformat()) == 0
    with demo_shop.store.session() as s:
        rows = s.execute(select(Customer.shop_customer_id, Label.label).join(Label)).all()
    predicted = {shop_id: label for shop_id, label in rows}
    assert set(predicted) == set(demo_shop.truth)  # every demo customer, prospects included, is labelled
    figures = {label: precision_recall(predicted, demo_shop.truth, label) for label in FLOORS}
    with capsys.disabled():
        dialect = demo_shop.store.dialect
        for label, (precision, recall) in figures.items():
            print(f"\n[{dialect}] {label}: precision {precision:.3f}, recall {recall:.3f}", end="")
    for label, (precision, recall) in figures.items():
        floor_p, floor_r = FLOORS[label]
        assert precision >= floor_p, f"{label} precision {precision:.3f}"
        assert recall >= floor_r, f"{label} recall {recall:.3f}"


def test_export_report_and_backtest_commands(
    demo_shop: DemoShop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = demo_shop.settings.var_dir
    assert _cli(demo_shop, monkeypatch, "score", "--all", "--as-of", demo_shop.as_of.date().isoformat()) == 0
    out = folder / "customers.csv"
    assert _cli(demo_shop, monkeypatch, "export", "customers", "--out", str(out)) == 0
    with open(out, encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert tuple(exported[0]) == EXPORT_COLUMNS
    assert {row["customer_id"] for row in exported} == set(demo_shop.truth)
    by_id = {row["customer_id"]: row for row in exported}
    with demo_shop.store.session() as s:
        stored = s.execute(select(Customer.shop_customer_id, Label).join(Label)).all()
    for shop_id, label in stored:
        row = by_id[shop_id]
        assert (row["label"], row["stage"]) == (label.label, label.stage)
        assert row["reasons"] == ";".join(label.reasons)
        assert float(row["value"]) == pytest.approx(float(label.value), abs=0.005)

    html = folder / "icp.html"
    capsys.readouterr()
    assert _cli(demo_shop, monkeypatch, "report", "icp", "--out", str(html)) == 0
    page = html.read_text(encoding="utf-8")
    assert "<script" not in page and not re.search(r"(src|href)=\"?https?:", page)
    for section in ("Labels: size and revenue share", "What sets ICP customers apart", "Why customers are"):
        assert section in page
    assert 'class="bar"' in page and "lift" in page
    assert "ICP report" in capsys.readouterr().out
    assert _cli(demo_shop, monkeypatch, "report", "icp", "--out", str(html)) == 0
    assert "No label changed since the last report" in capsys.readouterr().out

    end = (demo_shop.as_of - timedelta(days=120)).date().isoformat()
    assert _cli(demo_shop, monkeypatch, "backtest", "--calibration-end", end) == 0
    printed = capsys.readouterr().out
    assert "ICP list" in printed and "Negative ICP" in printed
    assert "(chosen)" in printed and "small shop" in printed  # 400 customers: BG/NBD + Gamma-Gamma
    run = run_backtest(demo_shop.store, DEFAULT_SCORING, demo_shop.as_of - timedelta(days=120))
    icp = run.result.captures[0]
    assert icp.revenue_share > 2 * icp.customer_share  # the ICP list beats a random list of its size
    assert run.result.negative.revenue_per_customer < run.result.negative.rest_revenue_per_customer
