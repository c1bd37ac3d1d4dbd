"""A realistic run directory for the reporting tests, built the way a run builds it.

Three meters of class 1 (IEC 62053-21:2020, direct connected, Imin 0.25 A, Itr 0.5 A, Iref 5 A, Imax 60 A) on
three positions, eight accuracy points and one no-load point each. Position 2 is out of limits at Imax PF 1,
position 3 gives no pulses at Itr PF 0.5L (broken). ``results.*`` are written with :class:`hil.results.ResultsWriter`,
``run.json`` with :func:`hil.results.write_run_json`, and ``allure-results/`` by a real pytest session with
allure-pytest over a generated test file that sets the labels and parameters the plan plugin sets.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from hil.results import ResultsWriter, write_run_json

RUN_ID = "20260301T101500Z-acc"
BENCH = "Prüfstand Süd: 3 positions"  # non-ASCII and a ':' on purpose (environment.properties escaping)

#: (test, point, current A, PF, element, limit %) — limits of IEC 62053-21:2020 class 1 (standards.md §3)
POINTS: list[tuple[str, str, float, str, str, float]] = [
    ("accuracy", "Imin PF 1", 0.25, "1", "all", 1.5),
    ("accuracy", "Itr PF 1", 0.5, "1", "all", 1.0),
    ("accuracy", "Iref PF 1", 5.0, "1", "all", 1.0),
    ("accuracy", "Imax PF 1", 60.0, "1", "all", 1.0),
    ("accuracy", "Itr PF 0.5L", 0.5, "0.5L", "all", 1.5),
    ("accuracy", "Iref PF 0.5L", 5.0, "0.5L", "all", 1.0),
    ("accuracy", "Iref PF 0.8C", 5.0, "0.8C", "all", 1.0),
    ("accuracy", "Iref PF 1 L1", 5.0, "1", "1", 2.0),
]
NO_LOAD = ("no_load", "creep 1.15 Un", 0.0, "1", "all", math.nan)

#: serial → position
METERS = {"MTR-0001": 1, "MTR-0002": 2, "MTR-0003": 3}
#: serial → point → error % (None: no pulses, broken)
ERRORS: dict[str, dict[str, float | None]] = {
    "MTR-0001": {"Imin PF 1": 0.31, "Itr PF 1": -0.12, "Iref PF 1": 0.05, "Imax PF 1": 0.22,
                 "Itr PF 0.5L": 0.64, "Iref PF 0.5L": 0.18, "Iref PF 0.8C": -0.27, "Iref PF 1 L1": 0.9},
    "MTR-0002": {"Imin PF 1": 0.4, "Itr PF 1": 0.3, "Iref PF 1": 0.6, "Imax PF 1": 1.37,
                 "Itr PF 0.5L": 1.2, "Iref PF 0.5L": 0.7, "Iref PF 0.8C": -0.5, "Iref PF 1 L1": 1.1},
    "MTR-0003": {"Imin PF 1": -0.2, "Itr PF 1": 0.15, "Iref PF 1": -0.33, "Imax PF 1": 0.1,
                 "Itr PF 0.5L": None, "Iref PF 0.5L": -0.8, "Iref PF 0.8C": 0.45, "Iref PF 1 L1": -1.1},
}
NO_PULSES = "no pulses from the meter within 43 s"


def verdict_of(error: float | None, limit: float) -> str:
    """Simple acceptance (ILAC-G8 without guard band): pass when |error| ≤ limit."""
    if error is None:
        return "broken"
    return "pass" if abs(error) <= limit else "fail"


def rows() -> list[dict[str, Any]]:
    out = []
    for test, point, current, pf, element, limit in [*POINTS, NO_LOAD]:
        for serial, pos in METERS.items():
            error = ERRORS[serial].get(point) if test == "accuracy" else None
            verdict = verdict_of(error, limit) if test == "accuracy" else "pass"
            reason = NO_PULSES if test == "accuracy" and error is None else ""
            out.append({
                "run_id": RUN_ID, "bench": BENCH, "position": pos, "serial": serial, "test": test, "point": point,
                "voltage_v": 230.0 * (1.15 if test == "no_load" else 1.0), "current_a": current, "pf": pf,
                "element": element, "frequency_hz": 50.0, "pulses": 0 if verdict == "broken" else 40,
                "duration_s": 12.5, "error_pct": error, "limit_pct": limit, "uncertainty_pct": 0.02,
                "verdict": verdict, "standard": "IEC 62053-21:2020", "limit_table": "table 7",
                "limit_status": "derived", "started_at": "2026-03-01T10:15:00Z",
                "finished_at": "2026-03-01T10:15:12Z", "test_id": f"{test}-{'single' if element != 'all' else 'bal'}",
                "reason": reason,
                "decision_rule": "simple acceptance",
            })
    return out


def run_meta() -> dict[str, Any]:
    return {
        "run_id": RUN_ID,
        "software_version": "0.1.0",
        "command_line": ["hil", "run", "testplans/iec62053-21_2020_class1_3ph_accuracy.yaml", "--seed", "7"],
        "started_at": "2026-03-01T10:15:00Z",
        "finished_at": "2026-03-01T10:17:41Z",
        "plans": [{"name": "IEC 62053-21:2020 class 1 three-phase accuracy",
                   "file": "testplans/iec62053-21_2020_class1_3ph_accuracy.yaml", "sha256": "ab" * 32}],
        "seed": 7,
        "bench": BENCH,
        "bench_file": "benches/sim.yaml",
        "simulated": True,
        "instruments": {
            "reference": {"driver": "wt5000", "resource": "TCPIP0::127.0.0.1::5025::SOCKET",
                          "idn": "YOKOGAWA,WT5000,SIM0001,F1.0", "calibration_certificate": "CAL-2025-117",
                          "calibration_due": "2026-11-30", "calibration_status": "valid"},
            "source": {"driver": "fluke6100", "resource": "TCPIP0::127.0.0.1::5026::SOCKET",
                       "idn": "FLUKE,6105A,SIM0002,1.0", "calibration_status": "not-required"},
        },
        "calibration_override": False,
    }


# The generated test module: one test per result row, labelled as the plan plugin labels them
# (suite = serial, feature = test type, story = point; parameters bench/position/serial), and one per meter.
_TEST_MODULE = '''
import allure
import pytest

from hil.reporting.plots import error_curve_png
from hil.reporting.tables import point_table_csv, point_table_html
from hil.results import read_results

RUN_DIR = {run_dir!r}
FRAME = read_results(RUN_DIR)
ROWS = FRAME.to_dict("records")


class MeterNonConformance(AssertionError):
    pass


class NoResult(Exception):
    pass


def _labels(serial, position, feature, story):
    allure.dynamic.suite(serial)
    allure.dynamic.feature(feature)
    allure.dynamic.story(story)
    allure.dynamic.title(f"{{story}} — position {{position}} ({{serial}})")
    allure.dynamic.parameter("bench", ROWS[0]["bench"])
    allure.dynamic.parameter("position", position)
    allure.dynamic.parameter("serial", serial)


@pytest.mark.parametrize("i", range(len(ROWS)), ids=[f"{{r['test']}}-{{r['point']}}-{{r['serial']}}" for r in ROWS])
def test_point(i):
    r = ROWS[i]
    _labels(r["serial"], int(r["position"]), r["test"], r["point"])
    allure.dynamic.parameter("point", r["point"])
    allure.attach("> MEAS:ERR?\\n< 0.31\\n", name="SCPI transcript", attachment_type=allure.attachment_type.TEXT)
    allure.attach(point_table_csv(FRAME, r["test"], r["point"]), name=f"{{r['point']}}: all positions",
                  attachment_type=allure.attachment_type.CSV)
    allure.attach(point_table_html(FRAME, r["test"], r["point"]), name=f"{{r['point']}}: all positions (table)",
                  attachment_type=allure.attachment_type.HTML)
    if r["verdict"] == "fail":
        raise MeterNonConformance(
            f"meter out of limits: error {{r['error_pct']:+.3f}} % outside ±{{r['limit_pct']:g}} %")
    if r["verdict"] == "broken":
        raise NoResult(r["reason"])


@pytest.mark.parametrize("serial", sorted(set(FRAME["serial"])))
def test_meter(serial):
    mine = FRAME[FRAME["serial"] == serial]
    _labels(serial, int(mine["position"].iloc[0]), "summary", "meter verdict")
    allure.attach(error_curve_png(FRAME, serial), name=f"error curve {{serial}}",
                  attachment_type=allure.attachment_type.PNG)
    if (mine["verdict"] == "fail").any():
        raise MeterNonConformance(f"meter {{serial}}: point(s) out of limits")
    if (mine["verdict"] == "broken").any():
        raise NoResult(f"meter {{serial}}: point(s) without a result: {{mine['reason'].max()}}")
'''


def build(run_dir: Path) -> Path:
    """Fill ``run_dir`` (results, run.json, allure-results); returns it."""
    writer = ResultsWriter(run_dir)
    by_point: dict[str, list[dict[str, Any]]] = {}
    for r in rows():
        by_point.setdefault(r["point"], []).append(r)
    for point_rows in by_point.values():  # appended point by point, as the runner does
        writer.append(point_rows)
    write_run_json(run_dir, run_meta())
    work = run_dir.parent / f"{run_dir.name}-pytest"
    work.mkdir()
    (work / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (work / "test_generated_run.py").write_text(textwrap.dedent(_TEST_MODULE.format(run_dir=str(run_dir))),
                                                encoding="utf-8")
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:meterhil", "-p", "no:cacheprovider", "-c",
         str(work / "pytest.ini"), "--rootdir", str(work), "--alluredir", str(run_dir / "allure-results"),
         str(work / "test_generated_run.py")],
        cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    if proc.returncode not in (0, 1):  # 1: the generated run has failed and broken points, as it should
        raise RuntimeError(f"generated pytest run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return run_dir
