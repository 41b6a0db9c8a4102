"""Every import and rates command answers a bad file with one line and a non-zero exit, before
anything starts: no traceback, no broker, no database created."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
COMMANDS = {
    "import orders": ["import", "orders"],
    "import tickets": ["import", "tickets"],
    "import checkouts": ["import", "checkouts"],
    "rates load": ["rates", "load"],
}
GENERIC_HEADER = "order_id,customer_id,created_at,currency,gross,email\n"
# Root reads any file; without these capabilities a mode-000 file is unreadable to it too.
DROP_READ_CAPS = [
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def _suffix(command: str, json_suffix: str = ".jsonl") -> str:
    return ".yaml" if command == "rates load" else json_suffix


def _missing(tmp: Path, command: str) -> Path:
    return tmp / f"nowhere{_suffix(command)}"


def _directory(tmp: Path, command: str) -> Path:
    path = tmp / f"folder{_suffix(command)}"
    path.mkdir()
    return path


def _unreadable(tmp: Path, command: str) -> Path:
    path = tmp / f"locked{_suffix(command)}"
    path.write_text("base: USD\nrates: {EUR: '1.08'}\n" if command == "rates load" else '{"id": 1}\n')
    path.chmod(0)
    return path


def _not_utf8(tmp: Path, command: str) -> Path:
    if command == "import orders":  # a spreadsheet saved as Latin-1, the usual culprit
        path, text = tmp / "latin1.csv", GENERIC_HEADER + "A-1,C-1,2025-01-01,EUR,10,renée@example.com\n"
    elif command == "rates load":
        path, text = tmp / "latin1.yaml", "base: USD\n# taux de café\nrates: {EUR: '1.08'}\n"
    else:
        path, text = tmp / "latin1.jsonl", '{"id": 1, "note": "café"}\n'
    path.write_bytes(text.encode("latin-1"))
    return path


def _empty(tmp: Path, command: str) -> Path:
    path = tmp / f"empty{_suffix(command, '.csv' if command == 'import orders' else '.jsonl')}"
    path.write_bytes(b"")
    return path


def _blank(tmp: Path, command: str) -> Path:
    path = tmp / f"blank{_suffix(command)}"
    path.write_text("\n  \n\n")
    return path


def _no_records(tmp: Path, command: str) -> Path:
    if command == "import orders":
        path, text = tmp / "header.csv", GENERIC_HEADER
    elif command == "rates load":
        path, text = tmp / "base.yaml", "base: USD\n"  # would delete every stored rate
    else:
        path, text = tmp / "none.json", '{"tickets": [], "checkouts": []}'
    path.write_text(text)
    return path


def _wrong_format(tmp: Path, command: str) -> Path:
    if command == "rates load":
        path, text = tmp / "rates.json", '{"base": "USD"}'
    else:  # a CSV file named as JSON Lines
        path, text = tmp / "orders.jsonl", GENERIC_HEADER + "A-1,C-1,2025-01-01,EUR,10,a@example.com\n"
    path.write_text(text)
    return path


def _missing_columns(tmp: Path, command: str) -> Path:
    path = tmp / "columns.csv"
    if command == "rates load":
        path.write_text("base,currency\nUSD,EUR\n")
    else:  # for tickets and checkouts, CSV itself is refused: they are JSON Lines only
        path.write_text("order_id,created_at,total\nA-1,2025-01-01,10\n")
    return path


def _semicolons(tmp: Path, command: str) -> Path:
    path = tmp / "semicolons.csv"
    path.write_text(GENERIC_HEADER.replace(",", ";") + "A-1;C-1;2025-01-01;EUR;10;a@example.com\n")
    return path


def _not_gzip(tmp: Path, command: str) -> Path:
    path = tmp / ("rates.yaml" if command == "rates load" else "orders.jsonl.gz")
    path.write_text("not compressed\n" if command != "rates load" else "- just\n- a list\n")
    return path


BAD_INPUTS: dict[str, Callable[[Path, str], Path]] = {
    "missing": _missing,
    "directory": _directory,
    "unreadable": _unreadable,
    "not_utf8": _not_utf8,
    "empty": _empty,
    "blank_lines": _blank,
    "no_records": _no_records,
    "wrong_format": _wrong_format,
    "missing_columns": _missing_columns,
    "semicolons": _semicolons,
    "not_gzip_or_not_rates": _not_gzip,
}


def run_cli(
    args: list[str], var: Path, *, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m services.cli.main ARGS`` with its own var directory (and default database)."""
    env = {**os.environ, "AUDIENCESYNC_VAR_DIR": str(var), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "services.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_file_gets_one_line_and_a_non_zero_exit_before_anything_starts(
    command: str, case: str, tmp_path: Path
) -> None:
    path = BAD_INPUTS[case](tmp_path, command)
    prefix: list[str] = []
    if case == "unreadable" and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: a mode-000 file is readable")
        prefix = [setpriv, *DROP_READ_CAPS]
    var = tmp_path / "var"
    done = run_cli([*COMMANDS[command], str(path)], var, prefix=prefix)
    lines = done.stderr.splitlines()
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"audiencesync: {path}: "), done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""
    assert not (var / "audiencesync.db").exists()  # no migration, no broker, nothing stored


@pytest.mark.parametrize(
    ("shop", "problem"),
    [
        ("not a domain", "--shop: 'not a domain' is not a shop domain"),
        ("", "--shop: '' is not a shop domain"),
    ],
)
def test_a_shop_that_is_not_a_domain_is_refused_in_one_line(shop: str, problem: str, tmp_path: Path) -> None:
    orders = tmp_path / "orders.jsonl"
    orders.write_text('{"id": 1}\n')
    done = run_cli(["import", "orders", str(orders), "--shop", shop], tmp_path / "var")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"audiencesync: {problem} (e.g. your-shop.myshopify.com)"]
    assert not (tmp_path / "var" / "audiencesync.db").exists()


REFUNDS_HEADER = "refund_id,order_id,created_at,amount,currency\n"
EXPORT_HEADER = "Name,Email,Financial Status,Currency,Total,Created at,Lineitem quantity,Lineitem price,Id\n"
EXPORT_LINE = "#1001,a@example.com,paid,USD,10.00,2025-09-03 10:14:38 -0400,1,10.00,6101234560001\n"
SPLIT_ORDER = EXPORT_HEADER + EXPORT_LINE + EXPORT_LINE.replace("#1001", "#1002") + EXPORT_LINE
# The new kinds and formats, each a way a file is bad: (arguments, file name, bytes, what the line says).
NEW_FORMATS: dict[str, tuple[list[str], str, bytes, str]] = {
    "refunds missing columns": (["refunds"], "r.csv", b"refund_id,order_id\nR-1,1\n", "lacks created_at"),
    "refunds not utf8": (
        ["refunds"],
        "r.csv",
        (REFUNDS_HEADER + "R-1,1,2025-01-01,5,\u20ac\n").encode("cp1252"),
        "line 2 is not UTF-8",
    ),
    "refunds csv named json lines": (
        ["refunds"],
        "r.jsonl",
        (REFUNDS_HEADER + "R-1,1,2025-01-01,5,USD\n").encode(),
        "not JSON or JSON Lines",
    ),
    "customers missing columns": (
        ["customers"],
        "c.csv",
        b"first_name,phone\nAna,+351 912 345 678\n",
        "lacks customer_id or email",
    ),
    "customers empty document": (
        ["customers"],
        "c.json",
        b'{"customers": []}',
        "a JSON document with no records",
    ),
    "export missing columns": (
        ["orders"],
        "o.csv",
        (EXPORT_HEADER.replace(",Id", "") + "#1,a@example.com,paid,USD,1,2025-01-01,1,1\n").encode(),
        "lacks Id (Shopify's order export",
    ),
    "export order split": (["orders"], "o.csv", SPLIT_ORDER.encode(), "line 4: order #1001 continues after"),
    "export format on json": (
        ["orders", "--format", "shopify-csv"],
        "o.jsonl",
        b'{"id": 1}\n',
        "--format shopify-csv reads Shopify's order export",
    ),
}


@pytest.mark.parametrize("case", list(NEW_FORMATS))
def test_refunds_customers_and_the_order_export_answer_a_bad_file_in_one_line(
    case: str, tmp_path: Path
) -> None:
    command, name, data, says = NEW_FORMATS[case]
    path = tmp_path / name
    path.write_bytes(data)
    var = tmp_path / "var"
    done = run_cli(["import", command[0], str(path), *command[1:]], var)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.splitlines() == [done.stderr.strip()] and done.stderr.startswith(
        f"audiencesync: {path}: "
    )
    assert says in done.stderr and done.stdout == ""
    assert not (var / "audiencesync.db").exists()
