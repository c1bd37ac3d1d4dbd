"""Plan kind ``power_cycling`` on the default simulated bench: OIML D 11 dips ridden through by the good meters,
power cycling fails position 8 (its power-cycle wear) and only it, at the cycle the simulator says; bad input is
refused naming file, line and field.

The simulated bench is served by this test process; pytest runs the plan as a subprocess against it (as hardware).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hil.plans.model import load_plan
from hil.results import read_results
from hil.sequences import read_monitoring
from hil.sequences.disturbances import BLOCK_CYCLES, DipBurst, PowerCycles, PowerCyclingTest, disturbance_steps
from hil.simbench import simulated_bench
from hil.standards.dips import OIML_D11_LEVEL2
from instruments.yamlconfig import ConfigError

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
    ("dips: {list: [{level_pct: 40, cycles: 0}]}", 9, "cycles", "greater than 0"),
    ("dips: {preset: oiml_d11_level2, interval_s: 5}", 9, "dips", "below the 10 s"),
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
    assert err.value.field.startswith("tests[0].power_cycling") and err.value.field.endswith(field)
    assert message in err.value.message
    assert err.value.line == line


def test_shipped_plan_loads() -> None:
    plan = load_plan(ROOT / "testplans/power_cycling_dips.yaml")
    t = plan.tests[0]
    assert isinstance(t, PowerCyclingTest) and t.power_cycles is not None and t.power_cycles.cycles == 500


def test_a_chamber_is_needed_only_for_a_temperature() -> None:
    from hil.sequences.profile import ProfileError
    from hil.sequences.task import check_against_bench

    data: dict[str, Any] = {"id": "x", "kind": "power_cycling", "power_cycles": {"cycles": 3, "off_s": 5, "on_s": 25}}
    check_against_bench(PowerCyclingTest.model_validate(data), None)  # no chamber role: fine at room temperature
    with pytest.raises(ProfileError, match="no chamber role"):
        check_against_bench(PowerCyclingTest.model_validate({**data, "temperature_c": 40}), None)
    with pytest.raises(ProfileError, match="beyond the chamber's range"):
        check_against_bench(PowerCyclingTest.model_validate({**data, "temperature_c": 200}),
                            {"min_temperature_c": -40, "max_temperature_c": 180})
