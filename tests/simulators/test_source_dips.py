"""Voltage dips, short interruptions and power cycling in the physics and the 6105A simulator: exact energy of a
dip (hand formula), ride-through within the hold-up time, power failures (C.7.0), power-cycle wear.

Bench: an ideal 3P4W source (no settling, no setting error) and perfect meters, 50 Hz, 230 V, 5 A per phase, so
P = 3 · 230 V · 5 A = 3450 W and a cycle lasts 20 ms."""

from __future__ import annotations

import math
from typing import Any

import pytest

from instruments.simulators.fluke6100 import Fluke6105A
from instruments.simulators.world.config import load_sim_bench
from instruments.simulators.world.reliability import weibull_life
from instruments.simulators.world.world import World
from tests.helpers import Out

KWH = 3.6e6  # W·s
P_W = 3 * 230.0 * 5.0
CYCLE_S = 1 / 50.0
REF_REL = 2e-4  # reference standard class 0.02 %


def _energy_deficit(worlds: Any, level_pct: float, cycles: float, **behaviour: Any) -> tuple[float, float, World]:
    """(reference kWh deficit, meter 1.8.0 deficit) of one dip against 60 s without it. The reference's HF
    pulses carry its own systematic error (within its class 0.02 %), hence ``REF_REL`` below."""
    totals = []
    for dip in (False, True):
        w = worlds.world(behaviour=behaviour)
        worlds.energise(w, 5.0)
        w.advance(10.0)
        reg0, e_ref0 = w.meters[1].registers["1.8.0"], w.reference.pulse_acc
        if dip:
            w.source.start_dips(level_pct, cycles * CYCLE_S)
        for _ in range(37):  # odd steps that do not meet the dip's edges
            w.advance(60.0 / 37)
        totals.append(((w.reference.pulse_acc - e_ref0) / 5.0e6, w.meters[1].registers["1.8.0"] - reg0, w))
    (r_full, m_full, _), (r_dip, m_dip, w_dip) = totals
    return r_full - r_dip, m_full - m_dip, w_dip


def test_dip_40_pct_for_10_cycles_delivers_the_hand_computed_energy_less(worlds: Any) -> None:
    # a meter that holds up longer than the dip and still runs at 40 %: it registers what is delivered
    ref, meter, w = _energy_deficit(worlds, 40.0, 10, supply_min_pct=30.0, holdup_ms=500.0)
    expected_kwh = P_W * (1 - 0.4) * 10 / 50 / KWH  # ΔE = P·(1 − 0.4)·10/50 s
    assert ref == pytest.approx(expected_kwh, rel=REF_REL)
    assert meter == pytest.approx(expected_kwh, rel=1e-9)
    assert w.meters[1].power_failures == 0  # ridden through


def test_dip_below_the_supply_threshold_stops_registering_and_fails_after_the_hold_up(worlds: Any) -> None:
    # default meter: below 50 % of Un it registers nothing; 200 ms > 100 ms hold-up → one power failure
    ref, meter, w = _energy_deficit(worlds, 40.0, 10)
    assert ref == pytest.approx(P_W * 0.6 * 0.2 / KWH, rel=REF_REL)
    assert meter == pytest.approx(P_W * 0.2 / KWH, rel=1e-9)
    m = w.meters[1]
    assert m.power_failures == 1 and m.registers["C.7.0"] == 1.0
    assert m.power_ups == 2  # the first energising and the one after the dip


def test_half_cycle_interruption_is_ridden_through(worlds: Any) -> None:
    ref, meter, w = _energy_deficit(worlds, 0.0, 0.5)
    assert ref == pytest.approx(P_W * 0.01 / KWH, rel=REF_REL)
    assert meter == pytest.approx(P_W * 0.01 / KWH, rel=1e-9)  # nothing registered below the threshold
    m = w.meters[1]
    assert m.power_failures == 0 and m.power_ups == 1 and m.port_alive


def test_ten_cycle_interruption_is_a_power_failure(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    w.advance(1.0)
    w.source.start_dips(0.0, 10 * CYCLE_S, count=3, delay_s=10.0)
    assert w.source.dips_running
    w.advance(0.05)  # 50 ms into the first interruption: held up
    assert w.meters[1].port_alive and w.meters[1].power_failures == 0
    w.advance(0.1)  # 150 ms: the 100 ms hold-up ran out at 100 ms
    assert not w.meters[1].port_alive and w.meters[1].power_failures == 1
    w.advance(60.0)
    m = w.meters[1]
    assert not w.source.dips_running and w.source.dip_events_done() == 3
    assert m.power_failures == 3 and m.power_ups == 4 and m.port_alive


def test_dips_on_selected_phases_leave_the_others(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    w.advance(1.0)
    w.source.start_dips(70.0, 1.0, phases=(2,))
    w.advance(0.5)
    assert w.source.delivered(2).voltage == pytest.approx(0.7 * 230.0)
    assert w.source.delivered(1).voltage == pytest.approx(230.0) and w.source.delivered(3).voltage == 230.0
    assert w.source.delivered(2).current == pytest.approx(5.0)  # a phantom source keeps the current
    w.advance(0.5)
    assert w.source.delivered(2).voltage == pytest.approx(230.0)


def test_output_off_longer_than_hold_up_is_a_power_failure_and_registers_survive(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    w.advance(100.0)
    regs = dict(w.meters[1].registers)
    w.source.set_output(False)
    w.advance(0.05)
    assert w.meters[1].power_failures == 0  # still held up
    w.advance(5.0)
    assert w.meters[1].power_failures == 1 and not w.meters[1].port_alive
    w.source.set_output(True)
    w.advance(1.0)
    m = w.meters[1]
    assert m.port_alive and m.power_ups == 2
    assert m.registers["1.8.0"] >= regs["1.8.0"] > 0  # non-volatile


def _cycle(w: World, n: int) -> None:
    for _ in range(n):
        w.source.set_output(False)
        w.advance(5.0)
        w.source.set_output(True)
        w.advance(25.0)


def test_power_cycle_wear_fails_the_weak_unit_after_its_drawn_life(worlds: Any) -> None:
    pcf = {"weibull_beta": 4.0, "weibull_eta_cycles": 20.0, "mode": "dead"}
    data = worlds.data(positions=2)
    data["positions"][0]["overrides"] = {"power_cycle_failure": pcf}
    w = worlds.world(data)
    weak, good = w.meters[1], w.meters[2]
    life = weak.power_cycle_life
    assert math.isfinite(life) and good.power_cycle_life == math.inf
    # the drawn life is the Weibull quantile of a uniform draw: within (0, ∞), below η·(ln 1e6)^(1/β)
    assert 0 < life < weibull_life(1 - 1e-6, 4.0, 20.0)
    n = math.ceil(life)
    worlds.energise(w, 5.0)  # power-up 1
    w.advance(25.0)
    _cycle(w, n - 2)  # power-ups 2 .. n−1: still alive
    assert weak.alive and weak.power_ups == n - 1
    t_before = w.clock.now
    _cycle(w, 1)  # power-up n: dead at that instant
    assert not weak.alive and weak.failure_mode == "dead" and weak.failure_power_up == n
    assert weak.failed_at == pytest.approx(t_before + 5.0)
    assert good.alive and good.power_ups == n
    truth = w.truth()["meters"]["1"]
    assert (truth["failure_power_up"], truth["power_ups"], truth["power_cycle_life"]) == (n, n, life)


def test_power_cycle_life_is_deterministic_per_seed_and_position() -> None:
    cfg = load_sim_bench()
    a, b, c = (World(cfg, seed=s).meters[8] for s in (1, 1, 2))
    assert a.power_cycle_life == b.power_cycle_life != c.power_cycle_life
    # only position 8 of the default bench wears out by power cycling; others' truths unchanged
    assert [p for p, m in World(cfg, seed=1).meters.items() if math.isfinite(m.power_cycle_life)] == [8]


def test_default_bench_weak_position_survives_20_and_fails_within_500_power_ups() -> None:
    for seed in (1, 3):
        life = World(load_sim_bench(), seed=seed).meters[8].power_cycle_life
        assert 20 < life < 500, (seed, life)


def test_dip_and_cycle_truth_is_deterministic(worlds: Any) -> None:
    def run() -> dict[str, Any]:
        w = worlds.world(positions=2)
        worlds.energise(w, 5.0)
        w.advance(3.0)
        w.source.start_dips(40.0, 0.2, count=4, delay_s=10.0)
        w.advance(45.0)
        _cycle(w, 3)
        t = w.truth()
        return {"meters": t["meters"], "reference": t["reference"], "segments": t["segments"]}

    assert run() == run()


def test_a_level_above_100_percent_is_a_swell(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    w.source.start_dips(120.0, 0.5, phases=(2,))
    w.advance(0.25)
    assert w.source.delivered(2).voltage == pytest.approx(1.2 * 230.0)  # 276 V
    assert w.source.delivered(1).voltage == 230.0
    w.advance(0.5)
    assert w.source.delivered(2).voltage == 230.0


def test_bad_dips_are_refused_before_the_physics(worlds: Any) -> None:
    w = worlds.world()
    with pytest.raises(ValueError, match="output is off"):
        w.source.start_dips(40.0, 0.2)
    worlds.energise(w, 5.0)
    for kw in ({"level_pct": 201.0}, {"level_pct": 140.0}, {"level_pct": -1.0}, {"duration_s": 0.0},
               {"duration_s": -1.0}, {"count": 0}, {"delay_s": -1.0}):  # 140 %: 322 V, beyond the 300 V rating
        args: dict[str, Any] = {"level_pct": 40.0, "duration_s": 0.2, **kw}
        with pytest.raises(ValueError):
            w.source.start_dips(**args)
    assert w.source.dips is None


# -- the 6105A simulator's DIPS subsystem -------------------------------------------------------------
def _talk(w: World) -> Any:
    dev = Fluke6105A(w.source)
    dev.attach_clock(w.clock)
    session, out = dev.new_session(), Out()

    def talk(message: str) -> str:
        session.data_received(message.encode() + b"\n", out)
        return out.take()

    return talk


def test_scpi_dips_run_on_the_virtual_clock(worlds: Any) -> None:
    w = worlds.world()
    talk = _talk(w)
    talk("SOUR:PHAS1:VOLT 230;CURR 5;:SOUR:PHAS2:VOLT 230;CURR 5;:SOUR:PHAS3:VOLT 230;CURR 5;:OUTP ON")
    talk("SOUR:DIPS:LEV 40;DUR:CYCL 10;:SOUR:DIPS:COUN 2;DEL 10;:SOUR:PHAS3:VOLT:DIPS OFF")
    reply = talk("SOUR:DIPS:DUR?;LEV?;COUN?;DEL?;:SOUR:DIPS:DUR:CYCL?;:PHAS3:VOLT:DIPS?;:PHAS1:VOLT:DIPS?")
    assert [float(x) for x in reply.split(";")] == pytest.approx([0.2, 40, 2, 10, 10, 0, 1])
    talk("SOUR:DIPS:INIT")
    assert talk("SOUR:DIPS:RUNN?") == "1\n"
    w.advance(0.1)
    assert w.source.delivered(1).voltage == pytest.approx(92.0) and w.source.delivered(3).voltage == 230.0
    w.advance(20.0)
    assert talk("SOUR:DIPS:RUNN?;EVEN?;:SYST:ERR?") == '0;2;0,"No error"\n'


def test_scpi_dips_refuse_bad_values_with_errors(worlds: Any) -> None:
    w = worlds.world()
    talk = _talk(w)
    for cmd in ("SOUR:DIPS:LEV 201", "SOUR:DIPS:LEV -1", "SOUR:DIPS:DUR 0", "SOUR:DIPS:DUR 61",
                "SOUR:DIPS:DUR:CYCL 0", "SOUR:DIPS:COUN 0", "SOUR:DIPS:DEL 61"):
        assert talk(cmd + ";:SYST:ERR?").startswith("-222"), cmd
    assert talk("SOUR:DIPS:INIT;:SYST:ERR?").startswith("-221")  # output off
    assert w.source.dips is None
