"""Faults scheduled on the virtual clock (issue 18, item 5): at a virtual time, split exactly there, or at the start
of the N-th measured point; and `hil run --sim-fault` / `--sim-speed` drills, whose fired faults the console names
and whose instrument errors make the point broken with the instrument's message."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import pyvisa

from hil.sim_drills import describe_fired, parse_fault
from instruments.drivers.clock import SimulationClock
from instruments.drivers.transport import VisaTransport
from instruments.simulators.bench import RunningBench, SimulatedBench
from tests.helpers import Opener, truth
from tests.test_plan_run import hil
from tests.test_run_robustness import SHORT_PLAN
from tests.test_run_robustness import _two_positions as two_position_bench
from tests.test_sim_faults import energise, sync


def schedule(ctl: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ctl.query("FAUL:SCH?"))
    return data


def test_a_timed_fault_fires_at_its_instant_inside_one_advance(visa: Opener, rm: pyvisa.ResourceManager) -> None:
    """One 600 s advance with a FAIL scheduled at +123.4 s leaves the meter's registers exactly where a bench
    advanced 123.4 s, failed by hand, then advanced the rest leaves them: the advance was split at the instant."""
    src, ctl = visa("source"), visa("control")
    energise(src)
    t0 = float(ctl.query("CLOC:TIME?"))
    sync(ctl, f'FAUL:SCH:TIME "meter2","FAIL",{t0 + 123.4!r}')
    sync(ctl, "CLOC:ADV 600")
    scheduled = truth(ctl)["meters"]["2"]
    fired = schedule(ctl)["fired"]
    assert [(f["endpoint"], f["kind"]) for f in fired] == [("meter2", "FAIL")]
    assert fired[0]["fired_at_s"] == pytest.approx(t0 + 123.4, abs=1e-9)

    with RunningBench(SimulatedBench.from_file(None, seed=1)) as other:
        s2 = rm.open_resource(other.resource("source"), read_termination="\n", write_termination="\n")
        c2 = rm.open_resource(other.resource("control"), read_termination="\n", write_termination="\n")
        try:
            energise(s2)
            sync(c2, "CLOC:ADV 123.4")
            sync(c2, 'FAUL:INJ "meter2","FAIL"')
            sync(c2, f"CLOC:ADV {600 - 123.4!r}")
            by_hand = truth(c2)["meters"]["2"]
        finally:
            s2.close()
            c2.close()
    assert scheduled["alive"] is False
    assert scheduled["registers"]["1.8.0"] > 0
    assert scheduled["registers"] == pytest.approx(by_hand["registers"], rel=1e-12)
    assert scheduled["pulses"] == by_hand["pulses"]


def test_advance_until_idle_meets_the_fault_on_the_way(visa: Opener) -> None:
    """A meter whose pulses stop mid-measurement (scheduled) keeps its channel from finishing: ADV:IDLE? runs to
    its bound, the others finish, and the fault fired at its instant."""
    src, ecal, ctl = visa("source"), visa("error_calculator"), visa("control")
    energise(src)
    sync(ctl, "CLOC:ADV 5")
    ecal.write("CONF:ALL ERR,20,1000")
    assert ecal.query("SYST:ERR?").startswith("0")
    t0 = float(ctl.query("CLOC:TIME?"))
    sync(ctl, f'FAUL:SCH:TIME "meter1","NOPULSES",{t0 + 2.0!r}')
    sync(ecal, "INIT:ALL")
    advanced = float(ctl.query("CLOC:ADV:IDLE? 400"))
    assert advanced == pytest.approx(400)
    assert schedule(ctl)["fired"][0]["fired_at_s"] == pytest.approx(t0 + 2.0, abs=1e-9)
    assert ecal.query("CHAN1:STAT?") in ("WAITING", "RUNNING")
    assert ecal.query("CHAN3:STAT?") == "FINISHED"


def test_a_point_fault_fires_when_the_nth_point_starts(visa: Opener) -> None:
    """Point = INITiate:ALL or a channel's INITiate while no other measures; a restart of an idle channel
    during a point is not a new point."""
    src, ecal, ctl, ref = visa("source"), visa("error_calculator"), visa("control"), visa("reference")
    energise(src)
    sync(ctl, 'FAUL:SCH:POIN "reference","ERROR",2,-310')
    ecal.write("CONF:ALL ERR,2,1000")
    sync(ecal, "INIT:ALL")  # point 1
    assert schedule(ctl)["points"] == 1 and ref.query("SYST:ERR?").startswith("0")
    ctl.query("CLOC:ADV:IDLE? 300")
    sync(ecal, "ABOR:ALL")  # the bench's dead meter never finishes
    sync(ecal, "CHAN1:INIT")  # point 2: nothing else measures
    sync(ecal, "CHAN2:INIT")  # the same point
    state = schedule(ctl)
    assert state["points"] == 2 and state["pending"] == []
    assert state["fired"][0]["fired_point"] == 2
    assert ref.query("SYST:ERR?").startswith("-310")


def test_an_end_of_point_fault_fires_when_no_channel_measures_any_more(visa: Opener) -> None:
    src, ecal, ctl = visa("source"), visa("error_calculator"), visa("control")
    energise(src)
    sync(ctl, 'FAUL:SCH:POIN:END "meter2","FAIL",1')
    ecal.write("CONF:ALL ERR,2,1000")
    sync(ecal, "INIT:ALL")
    ctl.query("CLOC:ADV:IDLE? 300")  # every living meter finishes; the bench's dead one keeps its channel waiting
    assert schedule(ctl)["fired"] == []
    sync(ecal, "CHAN11:ABOR")
    state = schedule(ctl)
    assert state["ended"] == 1 and [f["endpoint"] for f in state["fired"]] == ["meter2"]
    assert truth(ctl)["meters"]["2"]["alive"] is False


@pytest.mark.parametrize(("command", "why"), [
    ('FAUL:SCH:TIME "control","HANG",1e6', "refused on the control endpoint"),
    ('FAUL:SCH:TIME "source","RESET",0', "not ahead of the clock"),
    ('FAUL:SCH:TIME "nowhere","RESET",1e6', "no endpoint named"),
    ('FAUL:SCH:TIME "source","MELT",1e6', "unknown fault"),
    ('FAUL:SCH:POIN "source","RESET",1.5', "must be an integer"),
])
def test_a_schedule_that_cannot_fire_is_refused(visa: Opener, command: str, why: str) -> None:
    ctl = visa("control")
    ctl.write("CLOC:ADV 10")
    ctl.write(command)
    code, message = ctl.query("SYST:ERR?").split(",", 1)
    assert code == "-224" and why in message
    assert schedule(ctl)["pending"] == []


def test_the_clock_driver_schedules_and_reads_the_log(sim: RunningBench, rm: pyvisa.ResourceManager) -> None:
    clock = SimulationClock(VisaTransport("control", sim.resource("control"), rm=rm))
    clock.schedule_fault("source", "RESET", at_s=clock.now() + 50)
    clock.schedule_fault("reference", "ERROR", point=1, arg=-300)
    with pytest.raises(ValueError):
        clock.schedule_fault("source", "RESET")
    clock.sleep(60)
    log = json.loads(clock.fault_schedule())
    assert [f["kind"] for f in log["fired"]] == ["RESET"] and len(log["pending"]) == 1
    assert json.loads(clock.truth())["source"]["output"] is False
    clock.schedule_fault("source", "DROP", point=2)
    clock.write("FAUL:SCH:CLE")
    assert json.loads(clock.fault_schedule())["pending"] == []


@pytest.mark.parametrize(("spec", "expect"), [
    ("reference:HANG@point=3", ("reference", "HANG", None, None, 3)),
    ("meter4:nopulses@t=120.5", ("meter4", "NOPULSES", None, 120.5, None)),
    ("error_calculator:ERROR:-350@point=1", ("error_calculator", "ERROR", -350.0, None, 1)),
    ("source:RESET@end=2", ("source", "RESET", None, None, None, 2)),
])
def test_sim_fault_specs(spec: str, expect: tuple[Any, ...]) -> None:
    f = parse_fault(spec)
    assert (f.endpoint, f.kind, f.arg, f.at_s, f.point, f.after_point)[:len(expect)] == expect


@pytest.mark.parametrize("spec", ["reference:HANG", "reference:MELT@point=1", "reference:HANG@point=0",
                                  "reference HANG@point=1", "reference:HANG@t=inf"])
def test_bad_sim_fault_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="--sim-fault"):
        parse_fault(spec)


def _two_positions(d: Path) -> Path:
    (d / "plan.yaml").write_text(SHORT_PLAN, encoding="utf-8")
    return two_position_bench(d / "sim.yaml")


def test_hil_run_drill_an_instrument_error_in_point_2_breaks_it(tmp_path: Path) -> None:
    """The reference queues -310 as point 2 starts: point 1 stands, point 2 is broken with the reference's
    message on every position, the console names the fault, exit 3 (a bench fault made results broken)."""
    sim = _two_positions(tmp_path)
    p = hil("run", str(tmp_path / "plan.yaml"), "--sim-bench", str(sim), "--out", str(tmp_path / "run"),
            "--no-progress", "--sim-fault", "reference:ERROR:-310@point=2")
    out = p.communicate(timeout=300)[0]
    assert p.returncode == 3, out
    assert "simulation: fault ERROR -310 on reference fired at point 2" in out
    rows = pd.read_parquet(tmp_path / "run" / "results.parquet").sort_values("point")
    by_point = dict(tuple(rows.groupby("point")))
    first, second = (by_point[k] for k in sorted(by_point, key=lambda k: rows.index[rows["point"] == k][0]))
    assert set(first["verdict"]) <= {"pass", "fail"}
    assert set(second["verdict"]) == {"broken"}
    assert all('reference reported -310,"System error" during the point' in r for r in second["reason"])
    # the run's rows also landed in the lab-wide dataset beside its run directory (hil.dataset)
    published = list((tmp_path / "dataset").rglob("rows.parquet"))
    assert len(published) == 1 and len(pd.read_parquet(published[0])) == len(rows)
    assert set(pd.read_parquet(published[0])["meter_type"]) == {"MHS-B3-60"}  # the packaged bench's meter type


def test_hil_run_drill_refusals(tmp_path: Path) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text("name: x\n", encoding="utf-8")
    for args, why in [(["--sim-fault", "reference:HANG"], "expected ENDPOINT:KIND"),
                      (["--sim-fault", "nowhere:HANG@point=1"], "no endpoint named 'nowhere'"),
                      (["--sim-speed", "-1"], "--sim-speed must be"),
                      (["--sim-speed", "10", "--bench", str(bench)], "not with --bench")]:
        p = hil("run", "--out", str(tmp_path / "r"), "--no-progress", *args)
        out = p.communicate(timeout=120)[0]
        assert p.returncode == 2, (args, out)
        assert why in out and "Traceback" not in out, out
        assert not (tmp_path / "r" / "results.csv").exists()


def test_hil_run_at_sim_speed_follows_the_free_running_clock(tmp_path: Path) -> None:
    """--sim-speed: the plan waits in wall time on the free-running clock instead of moving it; every point is
    measured and the meters' errors are those of the deterministic run within their resolution."""
    sim = _two_positions(tmp_path)
    runs = {}
    for name, extra in (("fast", ["--sim-speed", "400"]), ("exact", [])):
        p = hil("run", str(tmp_path / "plan.yaml"), "--sim-bench", str(sim), "--out", str(tmp_path / name),
                "--no-progress", *extra)
        out = p.communicate(timeout=300)[0]
        assert p.returncode in (0, 1), out
        runs[name] = pd.read_parquet(tmp_path / name / "results.parquet").set_index(["point", "position"])
    fast, exact = runs["fast"], runs["exact"]
    assert len(fast) == len(exact) == 4 and set(fast["verdict"]) <= {"pass", "fail"}
    diff = (fast["value"] - exact["value"]).abs()
    assert all(math.isfinite(d) and d < 0.1 for d in diff), diff  # resolution_fraction 0.1 of a 1 % limit


def test_describe_fired_says_when() -> None:
    from instruments.simulators.fault_schedule import ScheduledFault

    f = ScheduledFault("source", "RESET", at_s=100.0, fired_at_s=100.0, fired_point=3)
    assert describe_fired(f) == "simulation: fault RESET on source fired at virtual time 100 s (in point 3)"
