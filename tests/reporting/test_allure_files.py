"""Allure side files: environment.properties, executor.json, categories.json and the global attachments."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from hil.reporting.allure_files import (
    categories,
    environment,
    properties_text,
    write_allure_files,
    write_global_attachments,
)
from hil.results import write_run_json
from tests.reporting import rundir


def parse_properties(text: str) -> dict[str, str]:
    """A plain reader of Java ``.properties`` (one entry per line, ``\\`` escapes, ``\\uXXXX``), for the tests."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line[0] in "#!":
            continue
        key: list[str] = []
        value: list[str] = []
        cur, i, in_key = key, 0, True
        while i < len(line):
            ch = line[i]
            if ch == "\\":
                nxt = line[i + 1]
                if nxt == "u":
                    cur.append(chr(int(line[i + 2:i + 6], 16)))
                    i += 6
                    continue
                cur.append({"n": "\n", "t": "\t", "r": "\r", "f": "\f"}.get(nxt, nxt))
                i += 2
                continue
            if in_key and ch in "=:":
                cur, in_key = value, False
            else:
                cur.append(ch)
            i += 1
        # UTF-16 surrogate pairs written as two \u escapes
        out["".join(key)] = "".join(value).encode("utf-16", "surrogatepass").decode("utf-16")
    return out


@pytest.fixture
def work(run_dir: Path, tmp_path: Path) -> Path:
    d = tmp_path / rundir.RUN_ID
    shutil.copytree(run_dir, d)
    return d


def test_environment_properties_carry_the_run_metadata(work: Path) -> None:
    paths = write_allure_files(work)
    assert [p.name for p in paths] == ["environment.properties", "executor.json", "categories.json"]
    raw = (work / "allure-results" / "environment.properties").read_bytes()
    raw.decode("ascii")  # Java properties are Latin-1: everything beyond ASCII is escaped
    env = parse_properties(raw.decode("ascii"))
    meta = rundir.run_meta()
    assert env["run_id"] == rundir.RUN_ID
    assert env["bench"] == "Prüfstand Süd: 3 positions"
    assert env["seed"] == "7"
    assert env["calibration_override"] == "no"
    assert env["plans.1.name"] == meta["plans"][0]["name"]
    assert env["plans.1.sha256"] == "ab" * 32
    assert env["instruments.reference.idn"] == "YOKOGAWA,WT5000,SIM0001,F1.0"
    assert env["instruments.reference.calibration_due"] == "2026-11-30"
    assert env["instruments.reference.resource"] == "TCPIP0::127.0.0.1::5025::SOCKET"
    assert env["command_line"] == "hil run testplans/iec62053-21_2020_class1_3ph_accuracy.yaml --seed 7"
    assert list(env)[:3] == ["run_id", "bench", "calibration_override"]


def test_properties_escaping_round_trips_awkward_text() -> None:
    values = {"key with = and : and space": " leading space, back\\slash, tab\t, line\nbreak, ünï 🔌",
              "#not a comment": "!", "empty": ""}
    assert parse_properties(properties_text(values)) == values


def test_executor_json_names_run_plan_and_bench(work: Path) -> None:
    write_allure_files(work)
    exe = json.loads((work / "allure-results" / "executor.json").read_text(encoding="utf-8"))
    assert exe["type"] == "meterhil"
    assert exe["name"] == "MeterHIL 0.1.0"
    assert rundir.RUN_ID in exe["buildName"]
    assert "IEC 62053-21:2020 class 1 three-phase accuracy" in exe["buildName"]
    assert rundir.BENCH in exe["buildName"]
    assert exe["reportName"] == f"MeterHIL {rundir.RUN_ID}"


def _matches(cat: dict[str, object], status: str, message: str) -> bool:
    """Allure 2's rule: status listed and the regex matches the WHOLE message (Java ``matches``)."""
    statuses = cat["matchedStatuses"]
    assert isinstance(statuses, list)
    regex = cat.get("messageRegex")
    return status in statuses and (regex is None or re.fullmatch(str(regex), message) is not None)


BENCH_FAULT_MSG = "hil.core.session.NoResult: bench fault: source: outputs did not settle within 30 s"
TIMEOUT_MSG = "instruments.drivers.errors.InstrumentTimeout: reference: no reply within 5 s\nmore"
NO_PULSES_MSG = f"hil.core.session.NoResult: {rundir.NO_PULSES}"
OUT_OF_LIMITS_MSG = "hil.core.session.MeterNonConformance: error +1.370 % outside ±1 %"
SEQUENCE_MSG = ("hil.core.session.MeterNonConformance: failed (dead) between 21.000 h and 21.017 h (midpoint "
                "21.008 h): pulse output stopped and the port is silent")
SHIFT_MSG = ("hil.core.session.MeterNonConformance: shift +0.6012 % (after +0.9 % − before +0.3 %) beyond ±0.5 % "
             "(fail, simple)")
DRIFT_MSG = ("hil.core.session.MeterNonConformance: drift +2.150 s/day outside ±0.5 s/day (U = 0.041 s/day, fail, "
             "simple) over 24 h (offset +0.025 s → +2.175 s)")
SWITCH_MSG = ("hil.core.session.MeterNonConformance: switch 1→2 +3.100 s outside ±2 s (U = 0.1 s, fail, simple): "
              "1.8.1 +1.3 kWh, 1.8.2 +1.2 kWh across the switch")
NO_SWITCH_MSG = ("hil.core.session.MeterNonConformance: no switch to tariff 2 within 120 s after 22:00: 1.8.1 "
                 "+2.643 kWh, 1.8.2 +0 kWh across the switch")
TARGET_MSG = ("hil.core.session.MeterNonConformance: 12 units, 1 failed ...; target 1e+09 h NOT demonstrated")


def test_categories_json_sorts_results_into_bench_faults_dead_meters_and_non_conformance(work: Path) -> None:
    write_allure_files(work)
    cats = json.loads((work / "allure-results" / "categories.json").read_text(encoding="utf-8"))
    by_name = {c["name"]: c for c in cats}
    assert set(by_name) == {"Bench or instrument fault", "Meter gives no result (no pulses, dead meter)",
                            "Meter failed during a stress sequence",
                            "Error shift beyond the limit (checks before / after a sequence)",
                            "Reliability target not demonstrated",
                            "Meter function failed (clock, tariff switching)", "Meter out of limits"}
    function = by_name["Meter function failed (clock, tariff switching)"]
    for msg in (DRIFT_MSG, SWITCH_MSG, NO_SWITCH_MSG):
        assert _matches(function, "failed", msg), msg
        assert not any(_matches(c, "failed", msg) for c in cats if c is not function
                       and c["name"] != "Meter out of limits"), msg
    assert not _matches(function, "failed", OUT_OF_LIMITS_MSG) and not _matches(function, "failed", SHIFT_MSG)
    assert [c["name"] for c in cats].index(function["name"]) < [c["name"] for c in cats].index("Meter out of limits")
    seq, shift, target = (by_name["Meter failed during a stress sequence"],
                          by_name["Error shift beyond the limit (checks before / after a sequence)"],
                          by_name["Reliability target not demonstrated"])
    assert _matches(seq, "failed", SEQUENCE_MSG) and not _matches(seq, "failed", OUT_OF_LIMITS_MSG)
    assert _matches(shift, "failed", SHIFT_MSG) and not _matches(shift, "failed", SEQUENCE_MSG)
    assert _matches(target, "failed", TARGET_MSG) and not _matches(target, "failed", SHIFT_MSG)
    assert not any(_matches(c, "failed", OUT_OF_LIMITS_MSG) for c in (seq, shift, target))
    # Allure 3 takes the first matching category: the specific ones come before "Meter out of limits"
    names = [c["name"] for c in cats]
    assert names.index("Meter out of limits") > max(names.index(n) for n in (seq["name"], shift["name"],
                                                                               target["name"]))
    fault, dead, limits = (by_name["Bench or instrument fault"],
                           by_name["Meter gives no result (no pulses, dead meter)"], by_name["Meter out of limits"])
    assert fault["matchedStatuses"] == ["broken"] and limits["matchedStatuses"] == ["failed"]
    assert _matches(fault, "broken", BENCH_FAULT_MSG) and _matches(fault, "broken", TIMEOUT_MSG)
    assert not _matches(fault, "broken", NO_PULSES_MSG)
    assert _matches(dead, "broken", NO_PULSES_MSG)
    assert _matches(limits, "failed", OUT_OF_LIMITS_MSG) and not _matches(limits, "broken", OUT_OF_LIMITS_MSG)
    for c in cats:  # Allure 3 compiles the same regex in JavaScript: no inline flags
        assert "(?" not in c.get("messageRegex", "").replace("(?:", "")


def test_calibration_override_adds_a_category_that_comes_first(work: Path) -> None:
    meta = rundir.run_meta() | {"calibration_override": True}
    write_run_json(work, meta)
    write_allure_files(work)
    cats = json.loads((work / "allure-results" / "categories.json").read_text(encoding="utf-8"))
    assert cats[0]["name"].startswith("Calibration override")
    assert sorted(cats[0]["matchedStatuses"]) == ["broken", "failed", "passed", "skipped"]
    env = parse_properties((work / "allure-results" / "environment.properties").read_text(encoding="ascii"))
    assert env["calibration_override"] == "yes"
    # the Allure 3 form of the same rules
    assert [c.allure3()["name"] for c in categories(True)] == [c["name"] for c in cats]


def test_missing_run_json_still_gives_side_files(tmp_path: Path) -> None:
    paths = write_allure_files(tmp_path)
    assert all(p.exists() for p in paths)
    assert json.loads(paths[1].read_text(encoding="utf-8"))["buildName"].startswith("unknown run")
    assert environment({}) == {}


def test_global_attachments_are_copied_and_listed(work: Path, tmp_path: Path) -> None:
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    html = tmp_path / "t.html"
    html.write_text("<table></table>", encoding="utf-8")
    listing = write_global_attachments(work, [("curve", png, "image/png"), ("table", html, "text/html")])
    assert listing.name.endswith("-globals.json")  # the suffix Allure 3 reads global attachments from
    data = json.loads(listing.read_text(encoding="utf-8"))
    assert [(a["name"], a["type"]) for a in data["attachments"]] == [("curve", "image/png"), ("table", "text/html")]
    for a, src in zip(data["attachments"], (png, html), strict=True):
        assert (work / "allure-results" / a["source"]).read_bytes() == src.read_bytes()


def test_the_generated_allure_results_look_like_a_run(run_dir: Path) -> None:
    """The fixture's allure-results: one result per meter and point, none folded into another as a retry."""
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (run_dir / "allure-results").glob("*-result.json")]
    n_rows = len(rundir.rows())
    assert len(results) == n_rows + len(rundir.METERS)
    assert len({r["historyId"] for r in results}) == len(results)
    status = {"pass": "passed", "fail": "failed", "broken": "broken"}
    for row in rundir.rows():
        (match,) = [r for r in results
                    if {"name": "suite", "value": row["serial"]} in r["labels"]
                    and {"name": "story", "value": row["point"]} in r["labels"]]
        assert match["status"] == status[row["verdict"]]
        assert {p["name"] for p in match["parameters"]} >= {"bench", "position", "serial"}
