"""``audiencesync hash`` through the real entry point: JSON lines on stdin, CSV files, a subprocess."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli import hash as hash_command
from services.cli.main import main
from shared.identity import Platform

FIXTURE = Path(__file__).parents[2] / "fixtures" / "identity" / "customers.csv"
ROOT = Path(__file__).parents[3]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run_json_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], platform: str, lines: list[str]
) -> tuple[int, list[dict[str, object]], str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(line + "\n" for line in lines)))
    code = main(["hash", "--platform", platform])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_platform_choices_are_the_platform_values() -> None:
    assert tuple(platform.value for platform in Platform) == hash_command.PLATFORMS


def test_json_lines_one_output_per_input_in_order(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        json.dumps({"field": "EMAIL", "value": " Jane@Example.com "}),
        json.dumps({"field": "PHONE", "value": "07400 123456", "country": "GB"}),
        "",
        json.dumps({"field": "MADID", "value": "AECE52E7-03EE-455A-B3C4-E57283966239"}),
        json.dumps({"field": "PHONE", "value": "07400 123456"}),
        json.dumps({"field": "LOOKALIKE_VALUE", "value": 44.5}),
    ]
    code, out, _ = run_json_lines(monkeypatch, capsys, "meta", lines)
    assert code == 0
    assert out == [
        {"field": "EMAIL", "normalized": "jane@example.com", "sha256": sha("jane@example.com")},
        {"field": "PHONE", "normalized": "447400123456", "sha256": sha("447400123456")},
        {"field": "MADID", "normalized": "aece52e7-03ee-455a-b3c4-e57283966239", "sha256": None},
        {"field": "PHONE", "error": "phone_missing_region"},
        {"field": "LOOKALIKE_VALUE", "normalized": "44.5", "sha256": None},
    ]


def test_json_lines_per_google_platform(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = json.dumps({"field": "email", "value": "J.Doe+x@gmail.com"})
    _, ads, _ = run_json_lines(monkeypatch, capsys, "google-ads", [line])
    _, dm, _ = run_json_lines(monkeypatch, capsys, "google-dm", [line])
    assert ads[0]["normalized"] == "j.doe+x@gmail.com"
    assert dm[0]["normalized"] == "jdoe@gmail.com"


def test_malformed_lines_are_reported_in_place_and_set_exit_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        "not json",
        json.dumps(["field", "value"]),
        json.dumps({"value": "x"}),
        json.dumps({"field": "email", "value": "a@example.com"}),
        json.dumps({"field": "PHONE", "value": "1", "country": 1}),
        json.dumps({"field": "EMAIL", "value": "ok@example.com"}),
    ]
    code, out, _ = run_json_lines(monkeypatch, capsys, "meta", lines)
    assert code == 1
    assert [item.get("error") for item in out] == [
        "invalid_json",
        "invalid_line",
        "invalid_line",
        "unknown_field",
        "invalid_country",
        None,
    ]


def test_no_raw_value_reaches_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        json.dumps({"field": "EMAIL", "value": "secret.person@example.com"}),
        json.dumps({"field": "PHONE", "value": "secret"}),
    ]
    _, _, err = run_json_lines(monkeypatch, capsys, "meta", lines)
    assert "secret" not in err


def test_default_country_applies_to_lines_without_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        sys, "stdin", io.StringIO(json.dumps({"field": "phone", "value": "030 123456"}) + "\n")
    )
    assert main(["hash", "--platform", "google-ads", "--country", "Germany"]) == 0
    assert json.loads(capsys.readouterr().out)["normalized"] == "+4930123456"


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_csv_becomes_a_meta_upload_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "meta.csv"
    assert main(["hash", "--platform", "meta", "--csv", str(FIXTURE), "--out", str(out)]) == 0
    rows = read_csv(out)
    assert rows[0] == ["email", "phone", "fn", "ln", "ct", "st", "zip", "country"]
    assert rows[1] == [
        sha("jane.doe+shop@gmail.com"),
        sha("12015550123"),
        sha("jane"),
        sha("doe"),
        sha("jerseycity"),
        sha("nj"),
        sha("07302"),
        sha("us"),
    ]
    assert len(rows) == 4  # the all-placeholder row is dropped
    assert rows[3][1] == ""  # too short to be an Irish number: rejected, not guessed
    err = capsys.readouterr().err
    assert "3 of 4 rows" in err
    assert "Notes" in err
    assert "Jane" not in err and "gmail" not in err


def test_csv_becomes_a_google_customer_match_file(tmp_path: Path) -> None:
    out = tmp_path / "google.csv"
    assert main(["hash", "--platform", "google-dm", "--csv", str(FIXTURE), "--out", str(out)]) == 0
    rows = read_csv(out)
    assert rows[0] == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
    assert rows[1] == [
        sha("janedoe@gmail.com"),
        sha("+12015550123"),
        sha("jane"),
        sha("doe"),
        "US",
        "07302-1234",
    ]
    assert rows[2][4:] == ["FR", "75008"]


def test_csv_usage_and_file_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hash", "--platform", "meta", "--csv", str(FIXTURE)]) == 2
    missing = tmp_path / "missing.csv"
    assert main(["hash", "--platform", "meta", "--csv", str(missing), "--out", str(tmp_path / "o.csv")]) == 2
    unusable = tmp_path / "unusable.csv"
    unusable.write_text("Notes,Comments\nx,y\n", encoding="utf-8")
    assert main(["hash", "--platform", "meta", "--csv", str(unusable), "--out", str(tmp_path / "o.csv")]) == 2
    assert "no column" in capsys.readouterr().err


def test_unknown_platform_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["hash", "--platform", "tiktok"])
    assert exc.value.code == 2


def test_cli_as_a_subprocess(tmp_path: Path) -> None:
    lines = "\n".join(
        json.dumps(item)
        for item in (
            {"field": "email", "value": "cloudy.sanfrancisco+shopping@gmail.com"},
            {"field": "phone", "value": "(800)555-0100", "country": "US"},
            {"field": "postal_code", "value": "94043", "country": "US"},
        )
    )
    completed = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "hash", "--platform", "google-dm"],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "AUDIENCESYNC_VAR_DIR": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert [json.loads(line) for line in completed.stdout.splitlines()] == [
        {
            "field": "email",
            "normalized": "cloudysanfrancisco@gmail.com",
            "sha256": sha("cloudysanfrancisco@gmail.com"),
        },
        {"field": "phone", "normalized": "+18005550100", "sha256": sha("+18005550100")},
        {"field": "postal_code", "normalized": "94043", "sha256": None},
    ]


@pytest.mark.skipif(
    shutil.which("audiencesync", path=str(Path(sys.executable).parent)) is None, reason="not installed"
)
def test_installed_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "audiencesync"
    completed = subprocess.run(
        [str(script), "hash", "--platform", "meta"],
        input=json.dumps({"field": "COUNTRY", "value": "United States"}),
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "AUDIENCESYNC_VAR_DIR": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert (
        json.loads(completed.stdout)["sha256"]
        == "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"
    )
