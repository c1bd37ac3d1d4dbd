"""The `limiter` kind: a plan run by pytest as a subprocess (as on hardware) on a simulated bench served by this
process, every verdict checked against the simulator's truth and against numbers worked out by hand.

By hand (the default bench's meter type MHS-B3-60, instruments/simulators/data/default_bench.yaml: 3P4W, Un 230 V,
Iref 5 A, 1000 imp/kWh; the plan's loads at PF 1; the plan core's default measure.settle_s 10 s):

- above: Iref → P = 3 × 230 V × 5 A = 3450 W → 3450 × 1000 / 3.6e6 = 0.9583 pulses/s;
  below: 0.1 Iref = 0.5 A → 345 W → 0.09583 pulses/s; threshold 2000 W (20000 in 0.1 W units of 1.0.1.7.0.255);
- min_over O = 60 s, min_under U = 120 s, margin M = 2 s; times from the instant the load is set, counting starts
  after the 10 s settling:
  short overload  10 … 30 s at 3450 W  (20 s)  → 19.17 pulses
  after it        62 … 178 s at 345 W  (116 s) → 11.12 pulses
  overload        10 … 58 s at 3450 W  (48 s)  → 46.0 pulses; 62 … 178 s (116 s): 0 (a stuck relay: 111.2)
  below again     122 … 238 s at 345 W (116 s) → 11.12 pulses in control mode 5, 0 in control mode 1;
- a good meter's count is within one pulse of these (its error ≲ 0.4 %, its energy accumulator anywhere in one
  pulse at the start of a window): |n − P·t·k| ≤ 1.5.

Faults: relay_stuck_closed (the default bench's own, and position 3 of an overridden copy of the file) fails with
the pulses counted after min_over named; position 11 (dead pulse output) is broken; the others pass. Afterwards
every relay is closed and every limiter disarmed with the control mode put back (the simulator's truth).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from hil.results import read_results
from hil.simbench import simulated_bench
from instruments.simulators.world.config import load_sim_bench
from tests.dlms.conftest import StepRun

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BENCH = ROOT / "instruments" / "simulators" / "data" / "default_bench.yaml"
#: the dead pulse output of the default bench (position 11, pulse_output_broken)
DEAD_OUTPUT = 11
#: the position the overridden bench file gives welded relay contacts
OVERRIDDEN_STUCK = 3

K = 1000.0  # imp/kWh
P_ABOVE, P_BELOW = 3 * 230.0 * 5.0, 3 * 230.0 * 0.5  # W


def pulses(power_w: float, seconds: float) -> float:
    return power_w * seconds * K / 3.6e6


EXPECTED = {  # window → (pulses with the relay closed, seconds)
    "short_overload": (pulses(P_ABOVE, 20.0), 20.0),  # 19.17
    "after_short": (pulses(P_BELOW, 116.0), 116.0),  # 11.12
    "before_min_over": (pulses(P_ABOVE, 48.0), 48.0),  # 46.0
    "after_min_over": (pulses(P_ABOVE, 116.0), 116.0),  # 111.2 if the relay stays closed
    "after_min_under": (pulses(P_BELOW, 116.0), 116.0),  # 11.12
}


def _test(test_id: str, mode: int, **extra: Any) -> dict[str, Any]:
    return {"id": test_id, "kind": "limiter", "threshold_w": 2000, "min_over_s": 60, "min_under_s": 120,
            "control_mode": mode, "current_above": "Iref", "current_below": "0.1 Iref", "margin_s": 2, **extra}


def _plan(tests: list[dict[str, Any]]) -> dict[str, Any]:
    return {"plan": "Load limiter over DLMS", "standard": "IEC 62053-21", "edition": "2020", "class": "1",
            "tests": tests}


def _stuck_in(sim_file: Path | None) -> set[int]:
    """Positions the simulated-bench file gives welded relay contacts (read from the file: the truth)."""
    cfg = load_sim_bench(sim_file).model_dump()
    out = set()
    for pos in cfg["positions"]:
        behaviour = ((pos.get("overrides") or {}).get("behaviour") or {})
        if behaviour.get("relay_stuck_closed"):
            out.add(int(pos["position"]))
    mtype = cfg["meter_types"]
    return out | {int(p["position"]) for p in cfg["positions"]
                  if (mtype[p["type"]].get("behaviour") or {}).get("relay_stuck_closed")}


def _run_plan(tmp: Path, plan: dict[str, Any], sim_file: Path | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    (tmp / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    with simulated_bench(sim_file, seed=3, write_to=tmp / "bench.yaml") as (rb, _):
        cmd = [sys.executable, "-m", "pytest", str(tmp / "plan.yaml"), "--bench", str(tmp / "bench.yaml"),
               "--run-dir", str(tmp / "run"), "-p", "no:cacheprovider", "-q"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600)
        assert p.returncode == 1, p.stdout + p.stderr  # a stuck relay fails

        def after(world: Any) -> dict[str, Any]:
            t: dict[str, Any] = world.truth()
            for n, m in world.meters.items():
                lim = m.relay.limiter
                t["meters"][str(n)].update(armed=lim.armed, threshold=lim.threshold_normal,
                                            control_mode=m.relay.control_mode, state=int(m.relay.control_state))
            return t

        truth = rb.call(lambda: after(rb.bench.world))
    return read_results(tmp / "run"), truth["meters"]


def _check_good(r: Any, mode: int) -> None:
    assert r["verdict"] == "pass", (r["position"], r["reason"])
    for name, (n, seconds) in EXPECTED.items():
        assert r[f"window_{name}_s"] == pytest.approx(seconds, abs=1e-3), name
        want = 0.0 if name == "after_min_over" or (name == "after_min_under" and mode != 5) else n
        assert abs(r[f"pulses_{name}"] - want) <= 1.5, (r["position"], name, r[f"pulses_{name}"], want)
        if want:
            assert r[f"expected_{name}"] == pytest.approx(n, abs=0.01)
    assert r["control_state_after_short"] == 1 and r["control_state_before_min_over"] == 1
    assert r["control_state_after_min_over"] == 2  # g: ready_for_reconnection
    assert r["control_state_after_min_under"] == (1 if mode == 5 else 2)  # h only in modes 5 and 6
    assert r["threshold_raw"] == 20000 and r["monitored_scaler"] == -1
    assert r["power_above_w"] == P_ABOVE and r["power_below_w"] == P_BELOW
    assert r["restore_problem"] == "" and r["pulses"] == 0


def _check_stuck(r: Any) -> None:
    assert r["verdict"] == "fail" and r["quantity"] == "pulses after min_over", r["reason"]
    n, _ = EXPECTED["after_min_over"]
    assert abs(r["value"] - n) <= 1.5 and r["upper_limit"] == 1  # OPEN_PULSES: one from creep or a nearly full pulse
    assert "the relay did not open" in r["reason"] and "counted after min_over + margin (62 s)" in r["reason"]
    assert f"{int(r['value'])} pulses in 116 s" in r["reason"]
    assert r["reason"].endswith("the meter reports it open")  # it believes it opened (control_state 2)
    assert r["control_state_after_min_over"] == 2


def _check_restored(meters: dict[str, Any], touched: set[int]) -> None:
    for n, m in meters.items():
        assert m["relay_closed"] is True and m["state"] == 1, n  # every meter left connected
        assert m["armed"] is False and m["threshold"] == 2**32 - 1, n  # and its limiter disarmed
        assert m["control_mode"] == 1, n  # the control mode as found (a new meter's)
        if int(n) not in touched:
            assert m["relay_operations"] == 0, n


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pd.DataFrame, dict[str, Any]]]:
    plan = _plan([_test("limiter_mode5", 5), _test("limiter_mode1", 1)])
    yield _run_plan(tmp_path_factory.mktemp("limiter_default"), plan, None)


@pytest.mark.parametrize(("test_id", "mode"), [("limiter_mode5", 5), ("limiter_mode1", 1)])
def test_default_bench_good_meters_pass(default_run: tuple[pd.DataFrame, dict[str, Any]], test_id: str,
                                        mode: int) -> None:
    df, meters = default_run
    stuck = _stuck_in(None)
    rows = df[df["test_id"] == test_id].set_index("position")
    assert sorted(rows.index) == list(range(1, 13))
    for pos in range(1, 13):
        r = rows.loc[pos].copy()
        r["position"] = pos
        if pos == DEAD_OUTPUT:  # no pulse output: the bench cannot see the relay
            assert r["verdict"] == "broken" and "no pulses" in r["reason"] and r["pulses_check"] == 0
            continue
        assert abs(r["pulses_check"] - 3) <= 1  # the pulse-output check: three pulse periods at 3450 W
        if pos in stuck:
            _check_stuck(r)
        else:
            _check_good(r, mode)
    # welded contacts never move; a good meter's relay opened and closed once per test (mode 1: closed by the
    # restore); the dead output's meter was never armed
    for pos in range(1, 13):
        ops = meters[str(pos)]["relay_operations"]
        assert ops == (0 if pos in stuck or pos == DEAD_OUTPUT else 4), (pos, ops)
    _check_restored(meters, set(range(1, 13)) - stuck - {DEAD_OUTPUT})


def test_overridden_bench_stuck_relay_fails_by_its_pulses(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_BENCH.read_text(encoding="utf-8"))
    pos = next(p for p in data["positions"] if p["position"] == OVERRIDDEN_STUCK)
    pos.setdefault("overrides", {}).setdefault("behaviour", {})["relay_stuck_closed"] = True
    sim_file = tmp_path / "stuck_bench.yaml"
    sim_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    stuck = _stuck_in(sim_file)
    assert OVERRIDDEN_STUCK in stuck
    df, meters = _run_plan(tmp_path, _plan([_test("limiter", 5)]), sim_file)
    rows = df.set_index("position")
    for p in range(1, 13):
        r = rows.loc[p].copy()
        r["position"] = p
        if p == DEAD_OUTPUT:
            assert r["verdict"] == "broken"
        elif p in stuck:
            _check_stuck(r)
            assert meters[str(p)]["relay_operations"] == 0
        else:
            _check_good(r, 5)
            assert meters[str(p)]["relay_operations"] == 2
    _check_restored(meters, set(range(1, 13)) - stuck - {DEAD_OUTPUT})


# -- plans whose durations or loads cannot be judged: refused before anything is energised --------------------

def _write(tmp: Path, **fields: Any) -> Path:
    path = tmp / "plan.yaml"
    test = {k: v for k, v in _test("lim", 5, **fields).items() if v is not None}  # None: the field left out
    path.write_text(yaml.safe_dump(_plan([test]), sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("fields", "where", "words"), [
    ({"margin_s": 30}, "tests[0].margin_s", "must be less than half min_over_s (60 s)"),
    ({"min_under_s": 4}, "tests[0].margin_s", "must be less than half min_under_s (4 s)"),
    ({"min_under_s": 4, "margin_s": None}, "tests[0].margin_s", "margin_s 2 s must be less than half min_under_s"),
    ({"current_below": "2 Iref"}, "tests[0].current_below", "must be less than current_above Iref"),
    ({"current_above": "5 Ifoo"}, "tests[0].current_above", "current must be a multiple of"),
    ({"control_mode": 0}, "tests[0].control_mode", "greater than or equal to 1"),
    ({"limiter": "0.0.17.0"}, "tests[0].limiter", ""),
])
def test_refused_at_load_with_the_field_named(tmp_path: Path, fields: dict[str, Any], where: str,
                                              words: str) -> None:
    from hil.core.plan import load_plan

    with pytest.raises(Exception) as err:
        load_plan(_write(tmp_path, **fields))
    assert where in str(err.value) and words in str(err.value), str(err.value)


@pytest.mark.parametrize(("fields", "words"), [
    # 0.95 × 3450 W = 3277.5 W < 3300 W: too close to the load above for a meter's error
    ({"threshold_w": 3300}, "threshold_w 3300 W must lie between the two loads' power at Un"),
    ({"threshold_w": 300}, "0.1 Iref gives 345 W, Iref 3450 W (3 element(s) × 230 V, PF 1)"),
    # min_over 20 s: the short overload (10 s) is over when the source has settled (10 s)
    ({"min_over_s": 20, "margin_s": 2}, "leaves no time to count after the source settles"),
    # 24 − 2 × 2 = 20 s at 345 W and 1000 imp/kWh: 1.92 pulses < 2
    ({"min_under_s": 24}, "gives 1.92 pulses at 1000 imp/kWh"),
])
def test_refused_at_expand_with_the_test_named(sim: Any, tmp_path: Path, fields: dict[str, Any], words: str) -> None:
    from hil.core.expand import expand_plan
    from hil.core.plan import load_plan
    from hil.core.steps import PlanError
    from hil.simbench import bench_file_for
    from hil.standards import default_library

    bench_file = sim.call(bench_file_for, sim.bench)
    with pytest.raises(PlanError) as err:
        expand_plan(load_plan(_write(tmp_path, **fields)), bench_file, default_library())
    assert "test 'lim'" in str(err.value) and words in str(err.value), str(err.value)


def test_a_judgeable_plan_expands_to_one_step_with_both_loads(sim: Any, tmp_path: Path) -> None:
    from hil.core.expand import expand_plan
    from hil.core.plan import load_plan
    from hil.simbench import bench_file_for
    from hil.standards import default_library

    (step,) = expand_plan(load_plan(_write(tmp_path)), sim.call(bench_file_for, sim.bench), default_library())
    assert step.spec.current_a == 5.0 and [s.current_a for s in step.setpoints] == [0.5]
    assert step.positions == list(range(1, 13)) and step.kind == "limiter"
    # 2 (O + U − M) + (2U − M) + 4 settle = 2 × 178 + 238 + 40 s
    assert step.duration_s == pytest.approx(634.0)


# -- every exit path: an error in the middle of the test still leaves the meters connected and disarmed ----------



def test_an_error_while_disconnected_still_restores_and_reports_what_could_not(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from hil.bench import Bench
    from hil.core.expand import expand_plan
    from hil.core.plan import load_plan
    from hil.measure.accuracy import runner_of
    from hil.standards import default_library
    from instruments.drivers.errors import BenchFault

    with simulated_bench(None, seed=3) as (rb, bench_file):
        (step,) = expand_plan(load_plan(_write(tmp_path, control_mode=1)), bench_file, default_library())
        bench = Bench(bench_file)
        bench.connect()
        try:
            session = StepRun(bench)
            runner = runner_of(session)
            count = runner.count

            def failing_count(spec: Any, positions: Any, seconds: float) -> Any:
                if spec.current_a == 5.0 and seconds > 100:  # the window after min_over: every relay is open
                    raise RuntimeError("error calculator gone")
                return count(spec, positions, seconds)

            monkeypatch.setattr(runner, "count", failing_count)
            port = bench.meter(2).dlms
            set_attr = port.set

            def deaf_to_disarm(ic: int, obis: Any, attr: int, value: Any) -> None:
                if (ic, attr, value.value) == (71, 3, 2**32 - 1):
                    raise BenchFault("meter2-dlms", "no answer")
                set_attr(ic, obis, attr, value)

            monkeypatch.setattr(port, "set", deaf_to_disarm)
            with pytest.raises(RuntimeError, match="error calculator gone") as err:  # the original error
                step.run(session, step)
        finally:
            bench.close()
        meters = rb.call(lambda: {n: (m.relay.contacts_closed, int(m.relay.control_state), m.relay.control_mode,
                                      m.relay.limiter.armed) for n, m in rb.bench.world.meters.items()})
    (note,) = err.value.__notes__
    assert note == ("limiter test 'lim': restoring the meters failed: position 2: threshold_active not reset:"
                    " meter2-dlms: no answer")
    for n, (closed, state, mode, armed) in meters.items():
        # reconnected (mode 1 left them ready_for_reconnection: remote c then a in mode 2), mode 1 put back
        assert closed and state == 1 and mode == 1, n
        assert armed is (n == 2), n  # only the meter that did not answer is still armed
