"""Plan kind ``power_cycling`` on the default simulated bench: OIML D 11 dips ridden through by the good meters,
power cycling fails position 8 (its power-cycle wear) and only it, at the cycle the simulator says; bad input is
refused naming file, line and field.

The simulated bench is served by this test process; pytest runs the plan as a subprocess against it (as hardware).
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from hil.bench import Bench
from hil.core.expand import expand_plan
from hil.core.plan import Plan, load_plan
from hil.core.steps import PlanError
from hil.kinds.sequences import read_monitoring
from hil.kinds.sequences.disturbances import BLOCK_CYCLES, DipBurst, PowerCycles, PowerCyclingTest, disturbance_steps
from hil.kinds.sequences.runner import SequenceRunner
from hil.measure.accuracy import AccuracyRunner, MeasureSettings, PointSpec
from hil.results import read_results
from hil.safety import Terminated
from hil.simbench import simulated_bench
from hil.standards import StandardsLibrary
from hil.standards.dips import OIML_D11_LEVEL2
from instruments.drivers.errors import BenchFault, RangeError
from instruments.yamlconfig import ConfigError
from tests.sequences.plans import pytest_plan

ROOT = Path(__file__).resolve().parents[2]
SEED = 1  # position 8's power-cycle life on the default bench at seed 1: its 157th power-up
WEAK = 8
REPEAT = 2
CYCLES = 170
OFF_S, ON_S = 5.0, 25.0
PLAN = f"""\
plan: dips and power cycling
standard: IEC 62053-21
edition: "2020"
class: "1"
tests:
  - id: pc
    kind: power_cycling
    load: {{current: Iref}}
    dips: {{preset: oiml_d11_level2, repeat: {REPEAT}, interval_s: 10}}
    power_cycles: {{cycles: {CYCLES}, off_s: {OFF_S:g}, on_s: {ON_S:g}}}
    monitoring: {{interval_s: 60}}
"""


def _truth(rb: Any) -> dict[int, dict[str, Any]]:
    return dict(rb.call(lambda: {p: {"failed_at": m.failed_at, "failure_power_up": m.failure_power_up,
                                     "power_ups": m.power_ups, "power_failures": m.power_failures}
                                 for p, m in rb.bench.world.meters.items()}))


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[int, dict[str, Any]], Path]:
    tmp = tmp_path_factory.mktemp("pc")
    plan = tmp / "pc.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    with simulated_bench(seed=SEED, write_to=tmp / "bench.yaml") as (rb, _):
        cmd = [sys.executable, "-m", "pytest", str(plan), "--bench", str(tmp / "bench.yaml"), "--run-dir",
               str(tmp / "run"), "-p", "no:cacheprovider", "-q"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600)
        assert p.returncode == 1, p.stdout + p.stderr  # position 8 fails: pytest exit 1
        truth = _truth(rb)
    return read_results(tmp / "run").set_index("position"), truth, tmp / "run"


def test_power_cycling_fails_position_8_only_at_its_true_cycle(ran: tuple[Any, Any, Path]) -> None:
    res, truth, _ = ran
    assert [p for p, t in truth.items() if t["failed_at"] is not None] == [WEAK]
    assert list(res.index[res["verdict"] == "fail"]) == [WEAK]
    row = res.loc[WEAK].to_dict()
    assert row["failure_mode"] == "dead"  # no pulses after the power-up, port silent
    # power-ups before the cycles: the first energising and one after each 40 % dip (200 ms > 100 ms hold-up);
    # a good meter saw them all plus one per cycle
    before_cycles = truth[1]["power_ups"] - CYCLES
    assert before_cycles == 1 + REPEAT
    assert int(row["failure_cycle"]) == truth[WEAK]["failure_power_up"] - before_cycles
    # the failure window (sequence time) brackets the true failure instant (bench clock)
    origin = float(row["failure_clock_s"]) - float(row["failure_time_h"]) * 3600
    true_s = float(truth[WEAK]["failed_at"]) - origin
    assert float(row["failed_after_h"]) * 3600 <= true_s <= float(row["failed_before_h"]) * 3600 + 1e-6
    window_s = (float(row["failed_before_h"]) - float(row["failed_after_h"])) * 3600
    assert window_s == pytest.approx(OFF_S + ON_S, abs=0.01)  # the cycle it did not come back from (h to 6 dp)


def test_dips_are_ridden_through_and_power_failures_are_recorded(ran: tuple[Any, Any, Path]) -> None:
    res, truth, run_dir = ran
    dips = len(OIML_D11_LEVEL2.rows) * REPEAT
    good = [p for p in res.index if p != WEAK]
    assert (res.loc[good, "verdict"] == "pass").all()
    assert (res.loc[good, "dips_applied"] == dips).all()
    assert (res.loc[good, "power_cycles_applied"] == CYCLES).all()
    assert (res.loc[good, "interruptions_applied"] == CYCLES + 2 * REPEAT).all()  # cycles + the two 0 % dips
    # C.7.0 read over the port: one per power cycle and one per 40 % dip (below the 50 % supply threshold for
    # 200 ms); the 0.5 and 1 cycle interruptions and the 70 % / 80 % dips are ridden through
    assert (res.loc[good, "power_failures_counted"] == CYCLES + REPEAT).all()
    assert all(truth[p]["power_failures"] == CYCLES + REPEAT for p in good)
    mon = read_monitoring(run_dir)
    dip_rows = mon[mon["step_name"].str.startswith("dip")]
    assert len(dip_rows) == dips * 12
    pulsing = dip_rows[~dip_rows["position"].isin([11])]  # 11: broken pulse output (watched by its port)
    assert (pulsing["pulses"] > 0).all()  # every meter kept registering around every dip
    cycle_rows = mon[mon["step_name"].str.startswith("power cycles")]
    assert cycle_rows["step_name"].nunique() == -(-CYCLES // BLOCK_CYCLES)


def test_plan_steps_follow_the_oiml_table() -> None:
    t = PowerCyclingTest.model_validate({"id": "x", "kind": "power_cycling", "temperature_c": 23,
                                         "dips": {"preset": "oiml_d11_level2"},
                                         "power_cycles": {"cycles": 60, "off_s": 5, "on_s": 25}})
    steps = disturbance_steps(t)
    dips = [s for s in steps if isinstance(s, DipBurst)]
    assert [(d.level_pct, d.cycles(50.0), d.cycles(60.0), d.repeat, d.interval_s) for d in dips] == [
        (0.0, 0.5, 0.5, 10, 10.0), (0.0, 1.0, 1.0, 10, 10.0), (40.0, 10.0, 12.0, 10, 10.0),
        (70.0, 25.0, 30.0, 10, 10.0), (80.0, 250.0, 300.0, 10, 10.0)]
    blocks = [s for s in steps if isinstance(s, PowerCycles)]
    assert [(b.first, b.count) for b in blocks] == [(1, 25), (26, 25), (51, 10)] and blocks[-1].final
    assert all(row.status == "confirmed" and "OIML D 11" in row.standard for row in OIML_D11_LEVEL2.rows)


@pytest.mark.parametrize(("entry", "line", "field", "message"), [
    ("dips: {list: [{level_pct: 120, cycles: 10}]}", 9, "level_pct", "less than or equal to 100"),
    # the source's range in cycles at any frequency it can run: 1 ms × 70 Hz = 0.07, 60 s × 40 Hz = 2400
    ("dips: {list: [{level_pct: 40, cycles: 0}]}", 9, "cycles", "greater than or equal to 0.07"),
    ("dips: {list: [{level_pct: 40, cycles: 0.05}]}", 9, "cycles", "greater than or equal to 0.07"),
    ("dips: {list: [{level_pct: 40, cycles: 2401}]}", 9, "cycles", "less than or equal to 2400"),
    ("dips: {list: [{level_pct: 40, cycles: 10}], interval_s: 0}", 9, "interval_s", "greater than 0"),
    ("dips: {preset: oiml_d11_level2, interval_s: 5}", 9, "dips", "below the 10 s"),
    ("dips: {preset: oiml_d11_level2}\n    monitoring: {max_error_shift_pct: 0.5}", 5, "",
     "power cycling does not monitor the error"),
    ("dips: {preset: oiml_d11_level2}\n    checks: {points: [{current: Iref}], during_every_h: 1}", 5, "",
     "no soak to pause"),
    ("power_cycles: {cycles: 10, off_s: -5, on_s: 25}", 9, "off_s", "greater than 0"),
    ("power_cycles: {cycles: 10, off_s: 5, on_s: 0}", 9, "on_s", "greater than 0"),
    ("monitoring: {interval_s: 60}", 5, "", "give dips, power_cycles or both"),
])
def test_bad_input_is_refused_naming_file_line_and_field(tmp_path: Path, entry: str, line: int, field: str,
                                                         message: str) -> None:
    plan = tmp_path / "bad.yaml"
    plan.write_text("plan: p\nstandard: IEC 62053-21\nedition: \"2020\"\ntests:\n"
                    f"  - id: pc\n    kind: power_cycling\n    load: {{current: Iref}}\n    temperature_c: 23\n"
                    f"    {entry}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_plan(plan)
    assert err.value.file.endswith("bad.yaml")
    assert err.value.field.startswith("tests[0]") and err.value.field.endswith(field)
    assert "power_cycling" not in err.value.field  # no union tag in the path: the plan's own keys
    assert message in err.value.message
    assert err.value.line == line


def test_shipped_plan_loads() -> None:
    plan = load_plan(ROOT / "testplans/power_cycling_dips.yaml")
    t = plan.tests[0]
    assert isinstance(t, PowerCyclingTest) and t.power_cycles is not None and t.power_cycles.cycles == 500


def test_a_chamber_is_needed_only_for_a_temperature() -> None:
    from hil.kinds.sequences.profile import ProfileError
    from hil.kinds.sequences.task import check_against_bench

    data: dict[str, Any] = {"id": "x", "kind": "power_cycling", "power_cycles": {"cycles": 3, "off_s": 5, "on_s": 25}}
    check_against_bench(PowerCyclingTest.model_validate(data), None)  # no chamber role: fine at room temperature
    with pytest.raises(ProfileError, match="no chamber role"):
        check_against_bench(PowerCyclingTest.model_validate({**data, "temperature_c": 40}), None)
    with pytest.raises(ProfileError, match="beyond the chamber's range"):
        check_against_bench(PowerCyclingTest.model_validate({**data, "temperature_c": 200}),
                            {"min_temperature_c": -40, "max_temperature_c": 180})


# -- checks at expansion and at the start -----------------------------------------------------------------
def _plan(test: dict[str, Any]) -> Plan:
    return Plan.model_validate({"plan": "p", "standard": "IEC 62053-21", "edition": "2020", "class": "1",
                                "tests": [{"id": "pc", "kind": "power_cycling", **test}]})


def test_checks_expand_around_power_cycling_and_phases_are_checked_against_the_bench() -> None:
    checks = {"points": [{"current": "Iref"}], "max_shift_pct": 0.5}
    plan = _plan({"power_cycles": {"cycles": 3, "off_s": 5, "on_s": 25}, "checks": checks})
    dipped = _plan({"dips": {"preset": "oiml_d11_level2", "phases": [2]}})
    with simulated_bench() as (_, bench_file):
        library = StandardsLibrary.load([])
        ids = [t.test_id for t in expand_plan(plan, bench_file, library)]
        assert ids == ["pc.before", "pc", "pc.after", "pc.shift"]
        assert [t.test_id for t in expand_plan(dipped, bench_file, library)] == ["pc"]  # 3 phases: phase 2 is there
        single = bench_file.model_copy(update={"limits": bench_file.limits.model_copy(update={"phases": 1})})
        with pytest.raises(PlanError, match=r"test 'pc': dips.phases \[2\] beyond the bench's 1 phase"):
            expand_plan(dipped, single, library)


class _Source:
    """A source double that records every call: the start checks must send nothing."""

    phases = 3

    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[str] = []
        self.refuse = refuse

    def apply(self, loads: Any, frequency_hz: float | None = None) -> None:
        self.calls.append("apply")

    def output_on(self) -> None:
        self.calls.append("output_on")

    def output_off(self) -> None:
        self.calls.append("output_off")

    def is_on(self) -> bool:
        return False

    def settled(self) -> bool:
        return True


class _DipSource(_Source):
    def check_dip(self, level_pct: float, *, cycles: float | None = None, duration_s: float | None = None,
                  phases: Any = None, repeat: int = 1, interval_s: float = 0.0) -> None:
        self.calls.append(f"check {level_pct:g} % {cycles:g} cycles")
        if self.refuse and level_pct == 80:
            raise RangeError("source.dip_cycles", cycles, 0.07, 240.0, "cycles")

    def program_dip(self, level_pct: float, **kw: Any) -> None:
        self.calls.append("program_dip")

    def trigger_dip(self) -> None:
        self.calls.append("trigger_dip")

    def dip_running(self) -> bool:
        return False

    def dips_completed(self) -> int:
        return 0

    def abort_dips(self) -> None:
        self.calls.append("abort_dips")


@pytest.mark.parametrize(("source", "message"), [
    (_Source(), "cannot generate dips"),
    (_DipSource(refuse=True), "dip 80 % for 250/300 cycles ×10 at 60 Hz refused by the source"),
], ids=["not a DipSource", "dip beyond its range"])
def test_dips_the_source_cannot_play_are_refused_before_the_load(tmp_path: Path, source: _Source,
                                                                 message: str) -> None:
    test = PowerCyclingTest.model_validate({"id": "pc", "kind": "power_cycling", "dips": {"preset": "oiml_d11_level2"},
                                            "power_cycles": {"cycles": 3, "off_s": 5, "on_s": 25}})
    meter = SimpleNamespace(spec=SimpleNamespace(constant_imp_per_kwh=1000.0, connection="3P4W"), port=None)
    bench = SimpleNamespace(source=source, meter=lambda p: meter, clock=None, error_calculator=None)
    energised: list[PointSpec] = []
    load = PointSpec("power_cycling", "Iref PF 1", 230.0, 5.0, 0.0, "1", frequency_hz=60.0)
    runner = SequenceRunner(bench, energised.append, test, load, [1], tmp_path, "pc::x")
    with pytest.raises(BenchFault, match=message):
        runner.run()
    assert energised == []  # the load was never applied
    assert all(c.startswith("check") for c in source.calls)  # nothing was sent: checks only
    if isinstance(source, _DipSource):  # at 60 Hz the table's 60 Hz cycles are the ones checked
        assert source.calls == ["check 0 % 0.5 cycles", "check 0 % 1 cycles", "check 40 % 12 cycles",
                                "check 70 % 30 cycles", "check 80 % 300 cycles"]


# -- interrupted and resumed ------------------------------------------------------------------------------
# a small bench: a good meter, a meter weak against power cycling (life Weibull β 4, η 20 power-ups: at seed 1 its
# 10th power-up, i.e. the 6th cycle after the first energising and 3 dips) and a meter without pulse output
SMALL_SEED = 1
DIP_REPEAT = 3
SMALL_CYCLES = 35  # two blocks: 1-25, 26-35
# inside the second block: the weak meter failed in the first, whose checkpoint a hard kill resumes from (a hard
# kill loses what was seen since the last checkpoint: a failure in the lost part is found again at the resume,
# later, as on a real bench)
KILL_CYCLE = 30
SMALL_PLAN = {"id": "pc", "kind": "power_cycling",
              "dips": {"list": [{"level_pct": 0, "cycles": 10}], "repeat": DIP_REPEAT, "interval_s": 10},
              "power_cycles": {"cycles": SMALL_CYCLES, "off_s": OFF_S, "on_s": ON_S},
              "monitoring": {"interval_s": 60}}
# compared between an uninterrupted and an interrupted run: everything but the time the sequence took, the pulses
# counted (the interrupted window's are not), and the power failures the meters counted (the stop's own outage)
SAME = ["failure_mode", "failure_reason", "failure_time_h", "failed_after_h", "failed_before_h", "failure_cycle",
        "pulse_output_seen", "dips_applied", "short_interruptions_applied", "power_cycles_applied",
        "interruptions_applied", "power_failures_before"]
WINDOW = ["position", "test_id", "step", "window"]


def small_sim_file(tmp: Path) -> Path:
    data = yaml.safe_load((ROOT / "instruments/simulators/data/default_bench.yaml").read_text(encoding="utf-8"))
    keep = [p for p in data["positions"] if p["position"] in (1, 8, 11)]
    for i, p in enumerate(keep, start=1):  # channels are numbered 1..n
        p["position"] = i
    keep[1]["overrides"]["power_cycle_failure"]["weibull_eta_cycles"] = 20.0
    data["positions"] = keep
    path = tmp / "small_sim.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _run_in_process(sim: Path, run_dir: Path, stop: str | None = None) -> tuple[dict[int, dict[str, Any]], Any]:
    """The small plan on a fresh small bench; ``stop``: "dip" (during dip 2) or "cycle" (during power cycle
    ``KILL_CYCLE``) raises Terminated there as SIGTERM would, then the safe state runs and the run is resumed.
    Returns the outcomes per position and the checkpoint saved by the stop."""
    test = PowerCyclingTest.model_validate(SMALL_PLAN)
    load = PointSpec("power_cycling", "Iref PF 1", 230.0, 5.0, 0.0, "1")
    saved = None
    with simulated_bench(sim, seed=SMALL_SEED) as (_, bench_file), Bench(bench_file) as bench:
        bench.connect()
        energise = AccuracyRunner(bench, MeasureSettings()).energise
        clock, src = bench.clock, bench.source
        armed: list[bool] = []
        triggers = {"dip": 0, "cycle": 0}
        real_sleep, real_trigger, real_on = clock.sleep, src.trigger_dip, src.output_on

        def sleep(s: float) -> None:
            if armed:
                armed.clear()
                raise Terminated(signal.SIGTERM)  # in the window: the dip runs / the meters just powered up
            real_sleep(s)

        def count(kind: str, at: int, real: Any) -> Any:
            def call() -> None:
                real()
                triggers[kind] += 1
                if kind == stop and triggers[kind] == at:
                    armed.append(True)
            return call

        clock.sleep = sleep
        src.trigger_dip = count("dip", 2, real_trigger)
        # output_on: once to energise, once per power cycle
        src.output_on = count("cycle", 1 + KILL_CYCLE, real_on)
        runner = SequenceRunner(bench, energise, test, load, bench.positions, run_dir, "pc::x")
        if stop is None:
            outcomes = runner.run()
        else:
            with pytest.raises(Terminated):
                runner.run()
            bench.safe_state.run("SIGTERM")  # as the plugin does: the source off
            saved = json.loads((run_dir / "checkpoint.json").read_text(encoding="utf-8"))["sequences"]["pc::x"]
            outcomes = SequenceRunner(bench, energise, test, load, bench.positions, run_dir, "pc::x",
                                      resume=True).run()
    return {o.position: o.extra for o in outcomes}, saved


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, dict[str, Any]], Any]:
    """(small bench file, outcomes per position, monitoring rows) of the small plan run without a stop."""
    tmp = tmp_path_factory.mktemp("straight")
    sim = small_sim_file(tmp)
    outcomes, _ = _run_in_process(sim, tmp / "run")
    assert outcomes[2]["failure_cycle"] == 6 and outcomes[1]["power_cycles_applied"] == SMALL_CYCLES
    return sim, outcomes, read_monitoring(tmp / "run")


@pytest.mark.parametrize("stop", ["dip", "cycle"])
def test_a_stop_inside_a_dip_or_power_cycle_step_resumes_at_its_window(
        tmp_path: Path, stop: str, uninterrupted: tuple[Path, dict[int, dict[str, Any]], Any]) -> None:
    sim, straight, ref = uninterrupted
    resumed, saved = _run_in_process(sim, tmp_path / "stopped", stop)
    # the stop saved the position inside the step: dip 1 of the burst done / cycles 26..29 of the second block
    assert saved is not None and saved["sub"] == ([0, 1] if stop == "dip" else [2, KILL_CYCLE - 26])
    weak_ok = stop == "cycle"  # a stop before the weak meter failed gives it one more power-up (its life is in them)
    for p in (1, 2, 3) if weak_ok else (1, 3):
        assert {k: resumed[p].get(k) for k in SAME} == {k: straight[p].get(k) for k in SAME}, p
    for p in (1, 3):  # the stop's own outage (source off by the safe state, on again at the resume) is counted
        assert resumed[p]["power_failures_counted"] == straight[p]["power_failures_counted"] + 1
    mon = read_monitoring(tmp_path / "stopped")
    assert not mon.duplicated(WINDOW).any()
    assert sorted(map(tuple, mon[WINDOW].values.tolist())) == sorted(map(tuple, ref[WINDOW].values.tolist()))


def _kill_and_resume(plan: Path, tmp: Path, signum: int, sim: Path) -> tuple[Any, Path, Any]:
    """(resumed results, the killed run's directory, its monitoring rows at the kill)."""
    run_dir = tmp / "killed"
    with simulated_bench(sim, seed=SMALL_SEED, write_to=tmp / "b.yaml") as (rb, _):
        p = pytest_plan(plan, tmp / "b.yaml", run_dir)
        # the good meter's power-ups: the first energising, one per 0 % dip, one per cycle
        target = 1 + DIP_REPEAT + KILL_CYCLE
        deadline = time.monotonic() + 120
        while rb.call(lambda: rb.bench.world.meters[1].power_ups) < target and p.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        p.send_signal(signum)
        p.communicate(timeout=60)
        assert not (run_dir / "results.csv").exists()  # stopped inside the sequence
        before = read_monitoring(run_dir)
        resumed = pytest_plan(plan, tmp / "b.yaml", run_dir, "--resume")
        out, _ = resumed.communicate(timeout=300)
        assert resumed.returncode == 1, out  # the weak meter fails
    return read_results(run_dir), run_dir, before


def _plain(v: Any) -> Any:
    """A results cell or an outcome value as plain Python: missing (None, NaN) as None, whole floats as int."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    v = v.item() if hasattr(v, "item") else v
    return int(v) if isinstance(v, float) and v.is_integer() else v


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_power_cycling_killed_and_resumed_equals_uninterrupted(
        tmp_path: Path, signum: int, uninterrupted: tuple[Path, dict[int, dict[str, Any]], Any]) -> None:
    """Through pytest and real signals; the uninterrupted reference is the same plan and seed run in-process (the
    same sequence runner: its outcomes are the results rows' columns)."""
    sim, straight, ref = uninterrupted
    plan = tmp_path / "pc.yaml"
    plan.write_text(yaml.safe_dump({"plan": "pc", "standard": "IEC 62053-21", "edition": "2020", "class": "1",
                                    "tests": [SMALL_PLAN]}), encoding="utf-8")
    resumed, run_dir, before = _kill_and_resume(plan, tmp_path, signum, sim)
    a = resumed.set_index("position").sort_index()
    assert list(a.index[a["verdict"] == "fail"]) == [2]
    for p in (1, 2, 3):
        assert {k: _plain(a.loc[p, k]) for k in SAME} == {k: _plain(straight[p].get(k)) for k in SAME}, p
    for p in (1, 3):  # the kill's own outage may be counted by the meters
        assert a.loc[p, "power_failures_counted"] >= straight[p]["power_failures_counted"]
    mon = read_monitoring(run_dir)
    assert not mon.duplicated(WINDOW).any()  # no window recorded twice
    assert set(map(tuple, before[WINDOW].values.tolist())) <= set(map(tuple, mon[WINDOW].values.tolist()))
    assert sorted(map(tuple, mon[WINDOW].values.tolist())) == sorted(map(tuple, ref[WINDOW].values.tolist()))


def test_a_dip_the_source_does_not_report_is_a_bench_fault_and_not_counted(tmp_path: Path) -> None:
    test = PowerCyclingTest.model_validate(SMALL_PLAN)
    load = PointSpec("power_cycling", "Iref PF 1", 230.0, 5.0, 0.0, "1")
    with simulated_bench(small_sim_file(tmp_path), seed=SMALL_SEED) as (rb, bench_file), Bench(bench_file) as bench:
        bench.connect()
        src = bench.source
        aborted: list[bool] = []
        real_abort = src.abort_dips
        src.dips_completed = lambda: 0  # the source says no dip ever completed

        def abort() -> None:
            aborted.append(True)
            real_abort()

        src.abort_dips = abort
        runner = SequenceRunner(bench, AccuracyRunner(bench, MeasureSettings()).energise, test, load,
                                bench.positions, tmp_path, "pc::x")
        with pytest.raises(BenchFault, match="dip 1 of dip 0 % for 10/10 cycles ×3: the source reports 0 dips"):
            runner.run()
        assert aborted and not rb.call(lambda: rb.bench.world.source.dips_running)
    saved = json.loads((tmp_path / "checkpoint.json").read_text(encoding="utf-8"))["sequences"]["pc::x"]
    assert {p: ex["dips_applied"] for p, ex in saved["extras"].items()} == {"1": 0, "2": 0, "3": 0}
    assert saved["sub"] == [0, 0]
