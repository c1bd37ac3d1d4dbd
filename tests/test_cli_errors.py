"""A bench or a file that is wrong says so in one line, with its own exit code (issue 18): the bench opened and
checked in the `hil` process before pytest starts, `hil bench check`, exit codes, input hygiene."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hil.bench import Bench, CalibrationExpired
from hil.benchfile import BenchFile, Calibration, dump_bench_file
from hil.core.expand import expand_plan
from hil.core.plan import load_plan
from hil.core.steps import PlanError
from hil.runner import EXIT_CODES_HELP, exit_code
from hil.simbench import simulated_bench
from hil.standards import default_library
from instruments.simulators.bench import RunningBench

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "testplans" / "iec62053-21_2020_class1_3ph_accuracy.yaml"
HEADER = 'plan: p\nstandard: IEC 62053-21\nedition: "2020"\nclass: "1"\ntests:\n'


def hil(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hil.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningBench, BenchFile, Path]]:
    d = tmp_path_factory.mktemp("bench")
    with simulated_bench(seed=7, write_to=d / "bench.yaml") as (rb, bf):
        yield rb, bf, d / "bench.yaml"


def _with(bf: BenchFile, path: Path, change: Any) -> Path:
    data = bf.model_dump(by_alias=True)
    change(data)
    dump_bench_file(BenchFile.model_validate(data), path)
    return path


def _energised(rb: RunningBench) -> bool:
    return bool(rb.call(lambda: rb.bench.world.source.output or any(
        rb.bench.world.source.setpoint(ph).current > 0 for ph in (1, 2, 3))))


def test_a_wrong_reference_model_is_one_line_with_exit_2_and_nothing_energised(
        served: tuple[RunningBench, BenchFile, Path], tmp_path: Path) -> None:
    rb, bf, _ = served
    bench = _with(bf, tmp_path / "wt1806e.yaml", lambda d: d["roles"]["reference"].update(idn="YOKOGAWA,WT1806E,*"))
    out = tmp_path / "run"
    p = hil("run", str(PLAN), "--bench", str(bench), "--out", str(out), "--no-progress")
    assert p.returncode == 2, p.stdout + p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("hil: error:")]
    assert len(errors) == 1, p.stderr
    assert f"{bench}: roles.reference.idn:" in errors[0]
    assert "'YOKOGAWA,WT1806E,*'" in errors[0] and "'YOKOGAWA,WT5000,SIM000001" in errors[0]
    assert not out.exists()  # no half-made run directory
    assert not _energised(rb)


def test_hil_bench_check_prints_every_role_and_refuses_a_wrong_one(
        served: tuple[RunningBench, BenchFile, Path], tmp_path: Path) -> None:
    _, bf, good = served
    ok = hil("bench", "check", str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for role in ("source", "reference", "error_calculator", "chamber", "meter12"):
        assert role in ok.stdout
    assert "FLUKE,6105A" in ok.stdout and "not-required" in ok.stdout
    bad = _with(bf, tmp_path / "bad.yaml", lambda d: d["roles"]["source"].update(idn="CALIFORNIA INSTRUMENTS,*"))
    refused = hil("bench", "check", str(bad))
    assert refused.returncode == 2
    assert f"hil: error: {bad}: roles.source.idn: expected an instrument matching 'CALIFORNIA INSTRUMENTS,*'" in \
        refused.stderr and "FLUKE,6105A" in refused.stderr


def test_a_real_reference_standard_needs_a_due_date(served: tuple[RunningBench, BenchFile, Path]) -> None:
    _, bf, _ = served
    data = bf.model_dump(by_alias=True)
    data["roles"].pop("simulation")  # as on a lab's bench: no simulation role
    data["roles"]["reference"]["calibration"] = Calibration(certificate="DKD-K-12345/26", due=None)
    bench = Bench(BenchFile.model_validate(data), source_file="lab.yaml", today=dt.date(2026, 12, 7))
    with pytest.raises(CalibrationExpired, match=r"lab.yaml: roles.reference.calibration: certificate "
                                                 r"DKD-K-12345/26 gives no due date"):
        bench.connect()
    assert bench.transcript.entries == []  # refused before any connection


@pytest.mark.parametrize(("content", "what"), [(b"plan: p\nstandard: \xe9t\xe9\n", "byte 0xe9"),
                                               (b"plan: p\x00\x00\n", "NUL byte"),
                                               (b"\x89PNG\r\n\x1a\n\x00\x00", "byte 0x89")])
def test_a_file_that_is_not_utf8_text_is_one_error_line(tmp_path: Path, content: bytes, what: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(content)
    p = hil("plan", "show", str(plan))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.startswith(f"hil: error: {plan}:") and "not a UTF-8 text file" in p.stderr and what in p.stderr


def test_files_in_the_plan_folder_that_are_not_plans_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(HEADER + "  - id: nl\n    kind: no_load\n", encoding="utf-8")
    (tmp_path / "old.yaml.yaml").write_bytes("# Sicherung vom März\nkey: Wärme\n".encode("latin-1"))
    (tmp_path / "blob.yml").write_bytes(b"\x00\x01\x02\xff")
    p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                        str(tmp_path), "--rootdir", str(tmp_path)], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ok.yaml::nl::" in p.stdout and "old.yaml" not in p.stdout and "blob" not in p.stdout


def test_a_current_beyond_the_rating_names_file_line_and_field(served: tuple[RunningBench, BenchFile, Path],
                                                               tmp_path: Path) -> None:
    _, bf, _ = served
    plan = tmp_path / "big.yaml"
    plan.write_text(HEADER + '  - id: a\n    kind: accuracy\n    currents: ["2 Imax"]\n', encoding="utf-8")
    with pytest.raises(PlanError) as err:
        expand_plan(load_plan(plan), bf, default_library(), plan)
    assert str(err.value).startswith(f"{plan}:6: tests[0]: test 'a': current 2 Imax = 120 A is beyond")


def _results(run_dir: Path, verdicts: list[str]) -> Path:
    run_dir.mkdir()
    (run_dir / "results.csv").write_text("position,verdict\n" + "".join(f"{i},{v}\n" for i, v in
                                                                        enumerate(verdicts)), encoding="utf-8")
    return run_dir


@pytest.mark.parametrize(("rc", "verdicts", "signalled", "code"), [
    (0, ["pass", "pass"], [], 0),
    (1, ["pass", "fail", "broken"], [], 1),  # a failed meter outranks a broken one
    (1, ["pass", "broken"], [], 3),  # a bench fault, no meter failed
    (1, ["pass"], [], 1),  # a failed whole-plan verdict (e.g. an MTBF target)
    (2, [], [], 2), (4, [], [], 2), (5, [], [], 2),  # collection refused, usage, no test
    (3, [], [], 4), (-9, ["pass"], [], 4),  # pytest's internal error, pytest killed
    (2, ["pass"], [2], 130), (2, ["pass"], [15], 143),  # SIGINT, SIGTERM to hil run
])
def test_exit_codes(tmp_path: Path, rc: int, verdicts: list[str], signalled: list[int], code: int) -> None:
    assert exit_code(rc, _results(tmp_path / "run", verdicts), signalled) == code


def test_exit_codes_are_documented_in_the_help_and_the_readme() -> None:
    help_text = hil("run", "--help").stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in ("0", "1", "2", "3", "4", "130", "143"):
        assert f"  {code} " in EXIT_CODES_HELP or f" {code} by" in EXIT_CODES_HELP
    assert "exit codes:" in help_text and "143 by SIGTERM" in help_text
    assert all(line.strip() in readme for line in EXIT_CODES_HELP.splitlines()[1:]), "README: exit codes"


def test_hil_alone_prints_its_help() -> None:
    p = hil()
    assert p.returncode == 0 and "usage: hil" in p.stdout and "kinds" in p.stdout and "bench" in p.stdout
