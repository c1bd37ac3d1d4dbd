"""``hil reliability ...``: readable text, --json, the HEURISTIC mark, and clear errors with exit code 2."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from hil.cli_reliability import add_reliability_commands


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hil")
    add_reliability_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["reliability", *argv])
    rc: int = args.func(args)
    return rc


def test_mtbf_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["mtbf", "--hours", "19520", "--failures", "7", "--confidence", "0.8"]) == 0
    out = capsys.readouterr().out
    assert "time-terminated" in out and "16 degrees of freedom" in out
    assert "1907.6 h" in out


def test_mtbf_json_failure_terminated(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["mtbf", "--hours", "19520", "--failures", "7", "--confidence", "0.8", "--failure-terminated", "--json"]
    assert run(argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["dof"] == 14 and d["test"] == "failure-terminated"
    assert d["point_hours"] == pytest.approx(19520 / 7)


def test_demo_test(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo-test", "--mtbf", "1000", "--confidence", "0.9", "--units", "5", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["total_unit_hours"] == pytest.approx(-1000 * math.log(0.1))
    assert d["hours_per_unit"] == pytest.approx(-1000 * math.log(0.1) / 5)


def test_success_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["success-run", "--reliability", "0.9", "--confidence", "0.9", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["units"] == 22


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["arrhenius", "--ea", "0.7", "--t-use", "25", "--t-test", "85"],
         math.exp((0.7 / 8.617333e-5) * (1 / 298.15 - 1 / 358.15))),
        (["peck", "--rh-use", "60", "--rh-test", "85", "--t-use", "30", "--t-test", "85"],
         (60 / 85) ** -2.66 * math.exp((0.79 / 8.617333e-5) * (1 / 303.15 - 1 / 358.15))),
        (["coffin-manson", "--dt-use", "20", "--dt-test", "100"], 5**1.9),
    ],
)
def test_acceleration_factors(capsys: pytest.CaptureFixture[str], argv: list[str], expected: float) -> None:
    assert run(["af", *argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["acceleration_factor"] == pytest.approx(expected, rel=1e-6)
    assert run(["af", *argv]) == 0
    assert "AF" in capsys.readouterr().out


def test_screening_is_marked_heuristic(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["screening", "thermal-cycling", "--range", "100", "--rate", "10", "--cycles", "10"]) == 0
    out = capsys.readouterr().out
    assert out.count("HEURISTIC") >= 2
    assert run(["screening", "random-vibration", "--grms", "6", "--minutes", "10", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["heuristic"] is True and "HEURISTIC" in d["note"]
    assert d["screening_strength"] == pytest.approx(1 - math.exp(-0.0046 * 6**1.71 * 10))


def test_weibull_file_with_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "life.csv"
    hours = [410, 620, 810, 950, 1100, 1290, 1500, 1500, 1500, 1500]
    csv.write_text("unit,hours,failed\n" + "".join(f"U{i},{h},{int(i < 6)}\n" for i, h in enumerate(hours)))
    png = tmp_path / "plot.png"
    assert run(["weibull", str(csv), "--plot", str(png), "--b", "1", "--b", "10"]) == 0
    out = capsys.readouterr().out
    assert "10 (6 failed, 4 censored)" in out and "B1 life" in out and "likelihood ratio" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert run(["weibull", str(csv), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["failures"] == 6 and d["b10_hours"] == pytest.approx(
        d["eta_hours"] * (-math.log(0.9)) ** (1 / d["beta"]))


def test_stress_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "levels.csv"
    rows = [f"{u},{h},{f},{lv}" for lv, base in (("85C", 100), ("70C", 300))
            for u, (h, f) in enumerate([(base, 1), (2 * base, 1), (3 * base, 1), (4 * base, 0), (4 * base, 0)])]
    csv.write_text("unit,hours,failed,level\n" + "\n".join(rows) + "\n")
    assert run(["stress-levels", str(csv), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["levels"]) == {"85C", "70C"} and d["dof"] == 1
    # the two levels are the same sample on a time scale ×3: identical β, nothing to reject
    assert d["levels"]["85C"]["beta"] == pytest.approx(d["levels"]["70C"]["beta"], rel=1e-6)
    assert d["p_value"] == pytest.approx(1.0, abs=1e-6)


def test_parts_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "parts.csv"
    table.write_text("part,quantity,lambda_fit,pi_q\nMCU,1,50,1\ncap,20,2,2\n")
    assert run(["parts-count", str(table)]) == 0
    out = capsys.readouterr().out
    assert "130 FIT" in out  # 50 + 20·2·2
    assert run(["parts-count", str(table), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mtbf_hours"] == pytest.approx(1e9 / 130)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mtbf", "--hours", "-5", "--failures", "1", "--confidence", "0.9"], "must be > 0"),
        (["mtbf", "--hours", "100", "--failures", "1", "--confidence", "90"], "give 0.9 for 90 %"),
        (["demo-test", "--mtbf", "100", "--confidence", "0.9", "--failures", "6", "--units", "5"],
         "exceed the units"),
        (["af", "peck", "--rh-use", "0", "--rh-test", "85", "--t-use", "25", "--t-test", "85"], "use humidity"),
    ],
)
def test_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hil: error: ") and message in err


def test_bad_table_names_file_line_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "parts.yaml"
    table.write_text("parts:\n  - part: MCU\n    quantity: 1\n    lambda_fit: 50\n    colour: red\n")
    assert run(["parts-count", str(table)]) == 2
    assert f"{table}:5: parts[0].colour: Extra inputs" in capsys.readouterr().err
    life = tmp_path / "life.csv"
    life.write_text("unit,hours,failed\nA,-3,1\n")
    assert run(["weibull", str(life)]) == 2
    assert f"{life}:2: hours: negative hours" in capsys.readouterr().err
