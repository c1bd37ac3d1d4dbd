"""The simulated meter's power-quality functions (instruments.simulators.world.power_quality): IEC 61000-4-30 5.4
thresholds by hand (dip below 90 % of Un = 207 V, back at 92 % = 211.6 V; swell above 110 % = 253 V, over at
108 % = 248.4 V; interruption below 5 % = 11.5 V), polyphase rules, THD = √(Σ U_h²) of the programmed harmonics."""

from __future__ import annotations

import math
from typing import Any

import pytest

from instruments.simulators.world.config import SimBenchConfig
from instruments.simulators.world.world import World


def _world(worlds: Any, **pq: Any) -> World:
    data = worlds.data(meter={"power_quality": pq})
    w = World(SimBenchConfig.model_validate(data))
    for ph in (1, 2, 3):
        w.source.set_voltage(ph, 230.0)
    w.source.set_output(True)
    w.advance(1.0)
    return w


def _events(w: World) -> list[tuple[str, float, float]]:
    pq = w.meters[1].pq
    assert pq is not None
    return [(e.describe()["kind"], round(e.duration_s, 9), round(e.extreme_v, 6)) for e in pq.events]


def test_a_dip_on_one_phase_is_a_polyphase_dip_with_its_residual(worlds: Any) -> None:
    w = _world(worlds)
    w.source.start_dips(40.0, 0.25, phases=(3,))
    w.advance(2.0)
    assert _events(w) == [("dip", 0.25, 92.0)]


def test_hysteresis_keeps_a_dip_open_until_92_percent(worlds: Any) -> None:
    w = _world(worlds)
    w.source.set_voltage(1, 200.0)  # 87 %: a dip
    w.advance(1.0)
    w.source.set_voltage(1, 210.0)  # 91.3 %: above the threshold, not above threshold + hysteresis
    w.advance(1.0)
    assert _events(w) == []
    w.source.set_voltage(1, 212.0)  # 92.2 %: over
    w.advance(1.0)
    assert _events(w) == [("dip", 2.0, 200.0)]


def test_a_swell_and_an_interruption_instead_of_its_dip(worlds: Any) -> None:
    w = _world(worlds)
    w.source.start_dips(120.0, 0.5)
    w.advance(2.0)
    w.source.start_dips(0.0, 1.5)
    w.advance(3.0)
    assert _events(w) == [("swell", 0.5, 276.0), ("interruption", 1.5, 0.0)]
    pq = w.meters[1].pq
    assert pq is not None and pq.truth()["counts"] == {"dip": 0, "swell": 1, "interruption": 1}


def test_an_interruption_needs_every_phase(worlds: Any) -> None:
    w = _world(worlds)
    w.source.start_dips(0.0, 0.5, phases=(1, 2))  # L3 stays: a dip to 0 V, not an interruption
    w.advance(2.0)
    assert _events(w) == [("dip", 0.5, 0.0)]


def test_the_faults(worlds: Any) -> None:
    w = _world(worlds, faults={"thd_ignores_above_13": True, "dip_duration_wrong": True})
    for order, pct in ((5, 4.0), (17, 2.0), (23, 1.5)):
        w.source.set_harmonic(1, "U", order, pct, 0.0)
    w.advance(1.0)
    w.source.start_dips(50.0, 0.2, phases=(2,))
    w.advance(1.0)
    pq = w.meters[1].pq
    assert pq is not None
    assert pq.thd_pct(0) == pytest.approx(4.0)  # the 17th and 23rd left out
    assert _events(w) == [("dip", 0.4, 115.0)]


def test_thd_and_harmonic_magnitudes_of_a_good_meter(worlds: Any) -> None:
    w = _world(worlds)
    for order, pct in ((3, 5.0), (17, 2.0), (41, 1.0)):  # the 41st is beyond THD's orders 2 … 40
        w.source.set_harmonic(2, "U", order, pct, 30.0)
    w.advance(1.0)
    pq = w.meters[1].pq
    assert pq is not None
    assert pq.thd_pct(1) == pytest.approx(math.sqrt(25 + 4))
    assert pq.harmonic_pct(1, 17) == 2.0 and pq.harmonic_pct(0, 3) == 0.0


def test_diagnosis_flags_after_their_delay_and_clears_at_once(worlds: Any) -> None:
    w = _world(worlds)  # diagnosis_delay_s 1 s; bits 0-2 phase loss, 3 reversed sequence, 4-6 reversed current
    pq = w.meters[1].pq
    assert pq is not None and pq.status() == 0
    w.source.set_voltage(2, 100.0)  # 43 % of Un: below the 50 % of a lost phase
    w.advance(0.5)
    assert pq.status() == 0  # not yet held 1 s
    w.advance(0.6)
    assert pq.status() == 1 << 1
    w.source.set_voltage(2, 230.0)
    w.source.set_voltage_angle(2, 120.0)  # L2 leads L1: L1-L3-L2
    w.source.set_voltage_angle(3, -120.0)
    w.advance(1.5)
    assert pq.status() == 1 << 3
    w.source.set_voltage_angle(2, -120.0)
    w.source.set_voltage_angle(3, 120.0)
    for ph, angle in ((1, 180.0), (2, -120.0), (3, 120.0)):  # L1's current reversed, the others in phase
        w.source.set_current(ph, 5.0)
        w.source.set_current_angle(ph, angle)
    w.advance(1.5)
    assert pq.status() == 1 << 4


def test_the_missing_sequence_alarm(worlds: Any) -> None:
    w = _world(worlds, faults={"phase_sequence_alarm_missing": True})
    w.source.set_voltage_angle(2, 120.0)
    w.source.set_voltage_angle(3, -120.0)
    w.advance(2.0)
    pq = w.meters[1].pq
    assert pq is not None and pq.status() == 0



def test_pst_of_the_last_whole_interval_by_table_5(worlds: Any) -> None:
    # IEC 61000-4-15 Ed. 2 Table 5, 230 V lamp at 50 Hz: 0.894 % at 39 changes/min is Pst = 1; Pst ∝ ΔV/V
    w = _world(worlds)  # the meter clock starts 08:00:01 (epoch 08:00 + 1 s): intervals end at whole 10 min
    pq = w.meters[1].pq
    assert pq is not None
    w.advance(599.0)  # 08:10:00
    w.source.start_flicker(0.894 * 1.5, 39.0, phases=(1, 2))
    w.advance(600.0)  # 08:20:00: the interval 08:10-08:20 is complete
    assert [pq.pst(k) for k in range(3)] == pytest.approx([1.5, 1.5, 0.0])
    w.advance(300.0)
    w.source.stop_flicker()  # half of 08:20-08:30 at Pst 1.5, half steady: the cube root of 1.5³ / 2
    w.advance(300.0)
    assert pq.pst(0) == pytest.approx(1.5 / 2 ** (1 / 3))


def test_the_meter_that_does_not_compute_flicker(worlds: Any) -> None:
    """Neither Pst (after two whole 10-min intervals) nor Plt (after a whole 2 h) of a flickering supply."""
    w = _world(worlds, faults={"flicker_not_computed": True})
    w.source.start_flicker(1.0, 110.0)
    w.advance(1300.0)
    pq = w.meters[1].pq
    assert pq is not None and pq.pst(0) == 0.0
    w.advance(6000.0)
    assert pq.plt(0) == 0.0


def test_plt_of_the_last_whole_two_hours(worlds: Any) -> None:
    # Plt = ∛(Σ Pst³ / 12) over 12 Pst of 2 h aligned to the meter clock's whole 2 h (IEC 61000-4-15):
    # 6 intervals at Pst 1.5 and 6 at 0 → 1.5 · ∛(6/12) = 1.1906
    w = _world(worlds)  # meter clock 08:00:01
    pq = w.meters[1].pq
    assert pq is not None
    w.advance(599.0)  # 08:10:00
    w.source.start_flicker(0.894 * 1.5, 39.0)
    w.advance(3600.0)  # 09:10:00
    w.source.stop_flicker()
    w.advance(2999.0)  # 09:59:59: the last whole 2 h is 06:00-08:00, steady
    assert pq.plt(0) == 0.0
    w.advance(2.0)  # 10:00:01
    assert [pq.plt(k) for k in range(3)] == pytest.approx([1.5 * 0.5 ** (1 / 3)] * 3)
    assert w.truth()["meters"]["1"]["power_quality"]["plt"] == pytest.approx([1.1906] * 3, abs=1e-4)


def test_unbalance_of_one_phase_at_0_9_un(worlds: Any) -> None:
    # Ua = 207 V, Ub = Uc = 230 V on 0°, −120°, +120°: U1 = (207 + 230 + 230)/3, U2 = (207 − 230)/3
    # → u2 = 23 / 667 = 3.448 %
    w = _world(worlds)
    w.source.set_voltage(1, 207.0)
    w.advance(5.0)
    pq = w.meters[1].pq
    assert pq is not None
    assert pq.unbalance_pct() == pytest.approx(100 * 23 / 667, abs=1e-3)


def test_unbalance_of_an_angle_alone_and_the_meter_that_ignores_angles(worlds: Any) -> None:
    # equal magnitudes, Ub turned by δ = 10°: U1 = U(2 + e^{jδ})/3, U2 = U·a(e^{jδ} − 1)/3
    # → u2 = 2 sin(δ/2) / √(5 + 4 cos δ) = 5.830 %; from magnitudes alone it is 0
    d = math.radians(10.0)
    want = 100 * 2 * math.sin(d / 2) / math.sqrt(5 + 4 * math.cos(d))
    for faults, expect in (({}, want), ({"unbalance_wrong": True}, 0.0)):
        w = _world(worlds, faults=faults)
        w.source.set_voltage_angle(2, w.source.delivered(2).voltage_angle + 10.0)
        w.advance(5.0)
        pq = w.meters[1].pq
        assert pq is not None
        assert pq.unbalance_pct() == pytest.approx(expect, abs=1e-6)
        assert w.truth()["meters"]["1"]["power_quality"]["unbalance_pct"] == pytest.approx(expect, abs=1e-6)


def test_the_new_registers_over_the_simulated_cosem(worlds: Any) -> None:
    from types import SimpleNamespace

    from instruments.dlms.cosem import Obis
    from instruments.simulators.dlms.power_quality import objects

    w = _world(worlds)
    w.source.set_voltage(1, 207.0)
    w.advance(599.0)
    w.source.start_flicker(0.894, 39.0)
    w.advance(7200.0)  # 10:10:00: 08:00-10:00 has 11 intervals at Pst 1 and 08:00-08:10 steady
    by_ln = {o.logical_name: o for o in objects(SimpleNamespace(meter=w.meters[1]))}  # type: ignore[arg-type]

    def read(ln: Obis) -> Any:
        return by_ln[ln].attributes[2].get(None, None).value  # type: ignore[misc, arg-type]

    assert read(Obis(1, 0, 32, 36, 0, 255)) == round(1000 * (11 / 12) ** (1 / 3))  # Plt, scaler −3
    assert read(Obis(1, 0, 72, 36, 0, 255)) == round(1000 * (11 / 12) ** (1 / 3))
    assert read(Obis(1, 0, 12, 7, 125, 255)) == round(100 * 100 * 23 / 667)  # u2 %, scaler −2
