"""Parts-count prediction on a small table, computed by hand; table errors name file, line and field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hil.reliability import load_parts_table, parts_count, predict_parts_count
from instruments.yamlconfig import ConfigError

CSV = """part,quantity,lambda_fit,lambda_per_1e6h,pi_q,pi_e,reference
MCU,1,50,,1,,IEC 61709
MLCC,20,2,,2,,
relay,1,,0.1,1,1.5,supplier
"""

YAML = """name: meter main board
parts:
  - part: MCU
    quantity: 1
    lambda_fit: 50
  - part: MLCC
    quantity: 20
    lambda_fit: 2
    pi_q: 2
  - part: relay
    quantity: 1
    lambda_per_1e6h: 0.1
    pi_e: 1.5
"""

# by hand: 1·50·1 + 20·2·2 + 1·(0.1·1000)·1·1.5 = 50 + 80 + 150 = 280 FIT
SYSTEM_FIT = 280.0


@pytest.mark.parametrize(("name", "text"), [("board.csv", CSV), ("board.yaml", YAML)])
def test_small_table_by_hand(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    res = predict_parts_count(path)
    assert [x.lambda_fit_total for x in res.lines] == pytest.approx([50.0, 80.0, 150.0])
    assert res.system_lambda_fit == pytest.approx(SYSTEM_FIT)
    assert res.system_lambda_per_hour == pytest.approx(SYSTEM_FIT * 1e-9)
    assert res.mtbf_hours == pytest.approx(1e9 / SYSTEM_FIT)
    assert res.to_dict()["mtbf_hours"] == pytest.approx(3_571_428.57, rel=1e-8)


def test_zero_rate_gives_infinite_mtbf(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("part,quantity,lambda_fit\nlabel,1,0\n", encoding="utf-8")
    res = parts_count(load_parts_table(tmp_path / "t.csv"))
    assert res.mtbf_hours == math.inf and res.to_dict()["mtbf_hours"] is None


@pytest.mark.parametrize(
    ("name", "text", "line", "field", "message"),
    [
        ("t.csv", "part,quantity,lambda_fit,colour\nMCU,1,50,red\n", 1, "colour", "unknown column"),
        ("t.yaml", "parts:\n  - part: MCU\n    quantity: 1\n    lamda_fit: 50\n", 4, "parts[0].lamda_fit",
         "Extra inputs"),
        ("t.csv", "part,quantity,lambda_fit\nMCU,1,50\ncap,0,2\n", 3, "quantity", "greater than or equal to 1"),
        ("t.csv", "part,quantity,lambda_fit\nMCU,1,-5\n", 2, "lambda_fit", "greater than or equal to 0"),
        ("t.csv", "part,quantity,lambda_fit,lambda_per_1e6h\nMCU,1,50,0.05\n", 2, "lambda_per_1e6h", "once"),
        ("t.csv", "part,quantity\nMCU,1\n", 2, "lambda_per_1e6h", "either lambda_fit"),
        ("t.csv", "part,quantity,lambda_fit,pi_q\nMCU,1,50,0\n", 2, "pi_q", "greater than 0"),
        ("t.yaml", "parts: []\n", 1, "parts", "at least 1"),
    ],
)
def test_table_errors_name_file_line_field(
    tmp_path: Path, name: str, text: str, line: int, field: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_parts_table(path)
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), line, field)
    assert message in err.message
    assert str(err).startswith(f"{path}:{line}: {field}: ")


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"use \.csv, \.yaml or \.yml"):
        load_parts_table(path)
