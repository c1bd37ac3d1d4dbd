"""Count tests with a dead pulse output, guard-banded outcomes, and plans naming an unknown standard or class.

Expectations come from the default simulated bench's documented truth (instruments/simulators/data/
default_bench.yaml header) and from hand formulas, never from the code's own output.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hil.benchfile import BenchFile
from hil.core.expand import expand_plan
from hil.core.plan import Plan, load_plan
from hil.core.session import verdict_of
from hil.core.steps import PlanError
from hil.kinds.accuracy.steps import check_pulse_outputs
from hil.measure.accuracy import PointSpec, PositionOutcome
from hil.measure.decision import error_measurement
from hil.results import read_results
from hil.simbench import bench_file_for
from hil.standards import default_library
from instruments.simulators.bench import RunningBench
from instruments.yamlconfig import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PLANS = ROOT / "testplans"
GOOD = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]  # good pulse outputs that do not creep (9 is off only at low current)
CREEPS, DEAD = 10, 11

# the default bench's meters: class 1, 3 × 230 V, k = 1000 imp/kWh, Ist 0.02 A, Iref 5 A (default_bench.yaml)
K, UN, IST, IREF = 1000.0, 230.0, 0.02, 5.0


def run_alone(plan: str, tmp: Path) -> dict[int, dict[str, Any]]:
    """One shipped plan on its own on the default simulated bench (nothing earlier in the run): rows by position."""
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(PLANS / plan),
                    "--run-dir", str(tmp / "run")], cwd=tmp, capture_output=True, text=True, timeout=600)
    return {int(r["position"]): {str(k): v for k, v in r.items()} for r in read_results(tmp / "run").to_dict("records")}


def check_pulses(text: str) -> int:
    m = re.match(r"(\d+) pulse\(s\) in ", text)
    assert m is not None, text
    return int(m.group(1))


# -- 1. a dead pulse output in a standalone count test -----------------------------------------------------

def test_no_load_alone_breaks_the_dead_output_and_fails_the_creeper(tmp_path: Path) -> None:
    df = run_alone("iec62053-21_2020_no_load.yaml", tmp_path)
    assert len(df) == 12
    # IEC 62053-21:2020 no-load: Δt = 0.6·10⁶ / (k·m·1.1·Un·Ist) min (standards.md §5, K = 0.6 placeholder)
    minutes = 0.6e6 / (K * 3 * 1.1 * UN * IST)
    assert min(r["duration_s"] for r in df.values()) >= minutes * 60 - 0.01  # (durations are recorded to 0.1 ms)
    # the creeper registers ≈ 5 W with no current: ≈ 5 · Δt / 3600 · k / 1000 pulses ≈ 3.3 > 1 allowed
    assert 5 * minutes * 60 / 3.6e6 * K > 2
    assert df[CREEPS]["verdict"] == "fail" and df[CREEPS]["pulses"] >= 2
    assert df[CREEPS]["pulse_output_check"] == "not needed: pulses in this test"
    # the dead output: no pulses in the check at Iref either → broken, with the reason
    dead = df[DEAD]
    assert dead["verdict"] == "broken" and dead["pulses"] == 0
    assert "the pulse output gives no pulses at Iref" in dead["reason"]
    assert "the no-load test cannot be judged" in dead["reason"]
    assert check_pulses(dead["pulse_output_check"]) == 0 and "dead" in dead["pulse_output_check"]
    # good meters: 0 pulses, their outputs shown to work by the check → the no-load pass stands
    tau_iref = 3.6e6 / (K * 3 * UN * IREF)  # ≈ 1.04 s; the check gates 3 pulse periods: 2-4 pulses
    for p in GOOD:
        row = df[p]
        assert row["verdict"] == "pass" and row["pulses"] == 0, p
        assert 2 <= check_pulses(row["pulse_output_check"]) <= 4, row["pulse_output_check"]
        assert f"one expected every {tau_iref:.3g} s" in row["pulse_output_check"]


def test_starting_alone_breaks_the_dead_output(tmp_path: Path) -> None:
    df = run_alone("iec62053-21_2020_starting_current.yaml", tmp_path)
    assert len(df) == 12
    # starting at Ist, 3 × 230 V, PF 1: τ = 3.6·10⁶/(k·3·Un·Ist) ≈ 261 s; limit 1.5 τ (plan's time_factor)
    tau = 3.6e6 / (K * 3 * UN * IST)
    assert min(r["duration_s"] for r in df.values()) >= 1.5 * tau - 1
    dead = df[DEAD]
    assert dead["verdict"] == "broken" and dead["pulses"] == 0
    assert "the pulse output gives no pulses at Iref" in dead["reason"]
    assert "the starting-current test cannot be judged" in dead["reason"]
    for p in [*GOOD, CREEPS]:  # every working meter starts: its first pulse comes within one τ (+ its error)
        assert df[p]["verdict"] == "pass" and df[p]["pulses"] >= 1, p
        assert df[p]["pulse_output_check"] == "not needed: pulses in this test"


class _Runner:
    def __init__(self, pulses: dict[int, int]) -> None:
        self.pulses = pulses
        self.calls: list[tuple[PointSpec, list[int]]] = []

    def pulse_output_check(self, spec: PointSpec, positions: list[int]) -> list[PositionOutcome]:
        self.calls.append((spec, list(positions)))
        return [PositionOutcome(p, f"S{p}", self.pulses[p], 0, None, 3.1, None, "", {"check_s": 3.1, "tau_s": 1.04})
                for p in positions]


class _Outputs:
    def __init__(self, states: dict[int, str]) -> None:
        self.states = states

    def state(self, position: int) -> str:
        return self.states.get(position, "unknown")


class _Session:
    """The run services a count step uses: the accuracy runner and the family's pulse-output tracker."""

    def __init__(self, states: dict[int, str], pulses: dict[int, int]) -> None:
        self.outputs = _Outputs(states)
        self._runner = _Runner(pulses)

    def service(self, factory: Any) -> Any:
        return self._runner if factory.__name__ == "_runner_for" else self.outputs

    def runner(self) -> _Runner:
        return self._runner


@pytest.fixture
def bench_file(sim: RunningBench) -> BenchFile:
    bf: BenchFile = sim.call(bench_file_for, sim.bench)
    return bf


def _plan(text: str) -> Plan:
    import yaml

    return Plan.model_validate(yaml.safe_load(text))


STARTING = _plan('plan: p\nstandard: IEC 62053-21\nedition: "2020"\nclass: "1"\ntests: [{id: st, kind: starting}]\n')


def test_zero_pulses_with_a_working_output_is_a_real_starting_fail(bench_file: BenchFile) -> None:
    (task,) = expand_plan(STARTING, bench_file, default_library())
    outs = [PositionOutcome(p, f"S{p}", n, 0, None, 391.0, None) for p, n in ((1, 2), (2, 0), (3, 0), (4, 0))]
    s = _Session({3: "works", 4: "dead"}, {2: 3})
    check_pulse_outputs(s, task, outs, task.params["pulse_check"])  # type: ignore[arg-type]
    # only position 2 is checked (1 pulsed now, 3 earlier, 4 is known dead), at Iref PF 1, Un, all elements
    ((spec, checked),) = s.runner().calls
    assert checked == [2]
    assert (spec.current_a, spec.voltage_v, spec.pf, spec.element) == (IREF, UN, "1", "all")
    assert outs[1].verdict is None  # the output works: the count's verdict stands ...
    assert verdict_of(outs[1], task.measure)[0] == "fail"  # ... and 0 pulses at Ist is a fail
    assert outs[1].extra["pulse_output_check"].endswith("the output works")
    assert outs[0].extra["pulse_output_check"] == "not needed: pulses in this test"
    assert outs[2].extra["pulse_output_check"] == "not needed: the output pulsed earlier in this run"
    assert outs[3].verdict is None and "earlier in this run" in outs[3].extra["pulse_output_check"]


def test_zero_pulses_in_the_check_is_broken(bench_file: BenchFile) -> None:
    (task,) = expand_plan(STARTING, bench_file, default_library())
    outs = [PositionOutcome(5, "S5", 0, 0, None, 391.0, None)]
    check_pulse_outputs(_Session({}, {5: 0}), task, outs, task.params["pulse_check"])  # type: ignore[arg-type]
    assert outs[0].verdict == "broken"
    assert outs[0].reason.startswith("the pulse output gives no pulses at Iref")
    assert outs[0].extra["pulse_output_ok"] is False


def test_the_check_load_is_held_to_the_bench_ratings(bench_file: BenchFile) -> None:
    # a bench that cannot deliver Iref (5 A) may run the starting test (0.02 A) but not its check
    low = bench_file.model_copy(update={"limits": bench_file.limits.model_copy(update={"max_current_a": 4.0})})
    with pytest.raises(PlanError, match=r"pulse-output check.*5 A is beyond"):
        expand_plan(STARTING, low, default_library())


# -- 2. guard-banded acceptance: every outcome told as it is -------------------------------------------------

def _outcome(error: float, u: float) -> PositionOutcome:
    return PositionOutcome(1, "S1", 100, 10**6, error, 10.0, None, "", {"uncertainty_pct": u})


def accuracy_decision(o: PositionOutcome, limit: float, rule: str,
                      conditional_pass: str = "fail") -> tuple[str, str, dict[str, Any]]:
    """The core's verdict of an error measurement (verdict, reason, row columns)."""
    return verdict_of(o, lambda x: [error_measurement(x, limit, rule, conditional_pass)])


@pytest.mark.parametrize(
    ("error", "outcome", "strict", "lenient", "words"),
    [
        # limit 1.5 %, U 0.08 %: |e| + U = 1.08 ≤ 1.5
        (1.00, "pass", "pass", "pass", "within ±1.5 %"),
        # |e| = 1.45 ≤ 1.5 < |e| + U = 1.53
        (1.45, "conditional_pass", "fail", "pass", "within ±1.5 % but U 0.08 % reaches the limit: conditional pass"),
        # |e| − U = 1.47 ≤ 1.5 < |e| = 1.55
        (-1.55, "conditional_fail", "fail", "fail",
         "outside ±1.5 % but within U 0.08 % of the limit: conditional fail"),
        # |e| − U = 1.62 > 1.5
        (1.70, "fail", "fail", "fail", "outside ±1.5 % by more than U 0.08 %"),
    ],
)
def test_guard_band_outcomes(error: float, outcome: str, strict: str, lenient: str, words: str) -> None:
    o = _outcome(error, 0.08)
    verdict, why, columns = accuracy_decision(o, 1.5, "guard_band")
    assert verdict == strict and words in why and columns["decision_outcome"] == outcome
    assert f"error {error:+.4f} %" in why
    if outcome == "conditional_pass":
        assert "rejected under guard-banded acceptance (ILAC-G8)" in why and "outside" not in why
    verdict, why, _ = accuracy_decision(_outcome(error, 0.08), 1.5, "guard_band", conditional_pass="pass")
    assert verdict == lenient and words in why


def test_simple_acceptance_reason_unchanged() -> None:
    assert accuracy_decision(_outcome(1.45, 0.08), 1.5, "simple")[:2] == (
        "pass", "error +1.4500 % within ±1.5 % (pass, simple)")
    assert accuracy_decision(_outcome(-1.55, 0.08), 1.5, "simple")[0] == "fail"


def test_plan_option_reaches_the_accuracy_points(bench_file: BenchFile) -> None:
    text = ('plan: p\nstandard: IEC 62053-21\nedition: "2020"\nclass: "1"\n'
            "measure: {decision_rule: guard_band, conditional_pass: %s}\n"
            'tests: [{id: a, kind: accuracy, currents: [Imin], power_factors: ["1"]}]\n')
    for option, expected in (("fail", "fail"), ("pass", "pass")):
        (task,) = expand_plan(_plan(text % option), bench_file, default_library())
        assert task.limit_pct == 1.5  # class 1, Imin PF 1: ±1.5 % (standards.md §3)
        assert verdict_of(_outcome(1.45, 0.08), task.measure)[0] == expected
    with pytest.raises(ValueError, match="conditional_pass"):
        _plan(text % "maybe")


# -- 3. an unknown standard, edition or class names the plan's file, line and field ----------------------------

BAD = [
    ("standard: IEC 62053-21", "standard: IEC 99999", 3, "standard", ["'IEC 99999'", "IEC 62053-21", "EN 50470-3"]),
    ('edition: "2020"', 'edition: "2017"', 4, "edition", ["'2017'", "2003, 2020"]),
    ('class: "1"', 'class: "7"', 5, "class", ["'7'", "0.5, 1, 2"]),
]


@pytest.mark.parametrize(("old", "new", "line", "field", "words"), BAD)
def test_unknown_standard_edition_class_at_load(tmp_path: Path, old: str, new: str, line: int, field: str,
                                                words: list[str]) -> None:
    text = (PLANS / "iec62053-21_2020_starting_current.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[line - 1] == old  # the line the error must name
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_plan(bad)
    e = err.value
    assert (e.file, e.line, e.field) == (str(bad), line, field)
    assert all(w in e.message for w in words), e.message
    # `hil plan show` says so and exits non-zero, with no pydantic dump
    p = subprocess.run([sys.executable, "-m", "hil.cli", "plan", "show", str(bad)], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert p.returncode != 0
    assert f"{bad}:{line}: {field}: " in p.stderr and "pydantic" not in p.stderr


def test_a_lab_table_file_can_add_a_standard(tmp_path: Path) -> None:
    text = (PLANS / "iec62053-21_2020_starting_current.yaml").read_text(encoding="utf-8")
    plan = tmp_path / "p.yaml"
    plan.write_text(text.replace("standard: IEC 62053-21", "standard: LAB 1") + "limits_override: lab.yaml\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as err:  # the file is named by the plan and missing
        load_plan(plan)
    assert err.value.field == "limits_override" and err.value.line == len(text.splitlines()) + 1
    (tmp_path / "lab.yaml").write_text(
        'standard: LAB 1\nedition: "2020"\ntable: lab limits\nkind: accuracy\nbasis: Itr\n'
        'rows:\n  - {id: r1, class_index: "1", current: "[Imin, Imax]", pf: [1], limit_pct: 2.0,'
        ' status: unconfirmed}\n',
        encoding="utf-8")
    assert load_plan(plan).standard == "LAB 1"  # known through the plan's own library


def test_run_refuses_a_bad_plan_before_creating_its_directory(tmp_path: Path) -> None:
    text = (PLANS / "iec62053-21_2020_starting_current.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace('class: "1"', 'class: "7"'), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "hil.cli", "run", str(bad), "--out", str(tmp_path / "out"),
                        "--no-progress"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 2 and f"{bad}:5: class: " in p.stderr + p.stdout
    assert not (tmp_path / "out").exists()
