"""The meter's supply control switch and its load limiter in the physics world (instruments.simulators.world.relay).

Expected states from the Blue Book (IEC 62056-6-2:2021 4.5.8 "Disconnect control": state diagram, transitions a … h
and the table of control modes 0 … 6; 4.5.9 "Limiter"), written out here by hand; energies from P·t."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from instruments.simulators.world.relay import NO_THRESHOLD, ControlState, SupplySwitch

KWH = 3.6e6  # W·s
D, C, R = ControlState.DISCONNECTED, ControlState.CONNECTED, ControlState.READY_FOR_RECONNECTION
P_5A = 3 * 230.0 * 5.0  # 3450 W of a perfect meter at 5 A per phase, PF 1


def _switch(mode: int, state: ControlState, stuck: bool = False) -> SupplySwitch:
    s = SupplySwitch(stuck, lambda p: p, lambda: 0.0, lambda: True)
    s.set_control_mode(mode)
    s.control_state = state
    s.contacts_closed = state is C
    return s


# (control_mode, state before, trigger, state after, the remote method succeeds). Blue Book 4.5.8, IC 70 version 0:
#   transitions  a remote_reconnect D→C  b remote_disconnect C→D  c remote_disconnect R→D  d remote_reconnect D→R
#                e manual_reconnect R→C  f manual_disconnect C→R  g local_disconnect C→R   h local_reconnect R→C
#   modes        0 none; 1 b,c,f,g | d,e; 2 b,c,f,g | a,e; 3 b,c,g | d,e; 4 b,c,g | a,e; 5 b,c,f,g | d,e,h;
#                6 b,c,g | d,e,h
TABLE: list[tuple[int, ControlState, str, ControlState, bool | None]] = [
    # mode 0: always connected, nothing moves it
    (0, C, "remote_disconnect", C, False),
    (0, C, "remote_reconnect", C, True),
    (0, C, "button", C, None),
    (0, C, "local_disconnect", C, None),
    # mode 1
    (1, C, "remote_disconnect", D, True),  # b
    (1, R, "remote_disconnect", D, True),  # c
    (1, D, "remote_disconnect", D, True),  # already there
    (1, D, "remote_reconnect", R, True),  # d: only to ready
    (1, R, "remote_reconnect", R, True),  # where d leads: nothing to do
    (1, R, "button", C, None),  # e
    (1, C, "button", R, None),  # f
    (1, D, "button", D, None),  # no manual transition from disconnected
    (1, C, "local_disconnect", R, None),  # g
    (1, R, "local_reconnect", R, None),  # h not in mode 1
    # mode 2: direct remote reconnection
    (2, D, "remote_reconnect", C, True),  # a
    (2, R, "remote_reconnect", R, False),  # no remote transition from ready: refused
    (2, C, "button", R, None),  # f
    (2, R, "button", C, None),  # e
    (2, R, "local_reconnect", R, None),
    # mode 3: no manual disconnection
    (3, C, "button", C, None),
    (3, D, "remote_reconnect", R, True),  # d
    (3, C, "local_disconnect", R, None),  # g
    (3, R, "button", C, None),  # e
    # mode 4
    (4, C, "button", C, None),
    (4, D, "remote_reconnect", C, True),  # a
    (4, R, "remote_disconnect", D, True),  # c
    # mode 5: local reconnection
    (5, C, "button", R, None),  # f
    (5, R, "local_reconnect", C, None),  # h
    (5, D, "remote_reconnect", R, True),  # d
    (5, D, "local_reconnect", D, None),  # h only from ready
    # mode 6
    (6, C, "button", C, None),
    (6, C, "local_disconnect", R, None),  # g
    (6, R, "local_reconnect", C, None),  # h
    (6, D, "remote_reconnect", R, True),  # d
]


@pytest.mark.parametrize(("mode", "before", "trigger", "after", "ok"), TABLE)
def test_the_control_modes_make_the_blue_book_transitions(mode: int, before: ControlState, trigger: str,
                                                          after: ControlState, ok: bool | None) -> None:
    s = _switch(mode, before)
    result: Any = (s.press_button if trigger == "button" else getattr(s, trigger))()
    assert s.control_state is after
    assert s.output_state is (after is C)
    assert s.conducting is (after is C)
    if ok is not None:
        assert result is ok


def test_control_mode_0_connects_and_every_contact_move_is_counted() -> None:
    s = _switch(2, C)
    assert s.remote_disconnect() and s.remote_reconnect() and s.remote_disconnect()
    assert s.operations == 3 and s.transitions == ["b", "a", "b"]
    s.set_control_mode(0)  # "the disconnect control object is always in the connected state"
    assert s.control_state is C and s.conducting and s.operations == 4
    with pytest.raises(ValueError):
        s.set_control_mode(7)


def test_welded_contacts_never_open() -> None:
    s = _switch(2, C, stuck=True)
    assert s.remote_disconnect()
    assert s.control_state is D and not s.output_state  # what the meter believes
    assert s.conducting and s.operations == 0  # what is true


# -- physics -------------------------------------------------------------------------------------------------
def test_an_open_relay_stops_energy_pulses_and_current_but_not_the_voltage(worlds: Any) -> None:
    w = worlds.world(positions=2)
    worlds.energise(w, 5.0)
    w.advance(600.0)
    m1, m2 = w.meters[1], w.meters[2]
    regs, pulses, ref = m1.registers["1.8.0"], m1.pulses, w.reference.pulses
    assert m1.relay.remote_disconnect()
    assert m1.power_now() == 0.0 and math.isnan(m1.error_pct())
    (u1, i1), *_ = m1.instantaneous()[0]
    assert i1 == 0.0 and u1 == pytest.approx(230.0)
    clock = m1.clock_datetime()
    w.advance(3600.0)
    assert m1.registers["1.8.0"] == regs and m1.pulses == pulses
    assert m1.port_alive and m1.clock_datetime() - clock == timedelta(seconds=3600)
    assert m2.registers["1.8.0"] == pytest.approx(P_5A * 4200.0 / KWH, rel=1e-12)  # the other position counts on
    assert w.reference.pulses > ref  # the reference in the primary circuit still measures
    t = m1.truth()
    assert t["relay_closed"] is False and t["relay_operations"] == 1
    m1.relay.set_control_mode(2)
    assert m1.relay.remote_reconnect()
    w.advance(600.0)
    assert m1.registers["1.8.0"] == pytest.approx(regs + P_5A * 600.0 / KWH, rel=1e-12)
    assert m1.truth()["relay_closed"] is True and m1.truth()["relay_operations"] == 2


def test_a_creeping_meter_creeps_with_its_relay_open(worlds: Any) -> None:
    w = worlds.world(behaviour={"creep_w": 5.0})
    worlds.energise(w, 5.0)
    w.meters[1].relay.remote_disconnect()
    w.advance(3600.0)
    assert w.meters[1].registers["1.8.0"] == pytest.approx(5.0 / 1000.0, rel=1e-12)


def test_a_closed_relay_and_an_unarmed_limiter_change_nothing(worlds: Any) -> None:
    plain, toggled = worlds.world(positions=2), worlds.world(positions=2)
    s = toggled.meters[1].relay
    s.set_control_mode(2)
    assert s.remote_disconnect() and s.remote_reconnect()  # and closed again before anything flows
    for w in (plain, toggled):
        worlds.energise(w, 5.0)
        w.advance(7200.0)
        w.source.set_current(1, 0.3)
        w.advance(7200.0)
    a, b = plain.truth(), toggled.truth()
    assert b["meters"]["1"].pop("relay_operations") == 2
    a["meters"]["1"].pop("relay_operations")
    assert a == b  # bit for bit, segments included


def test_a_stuck_relay_is_visible_only_in_the_truth(worlds: Any) -> None:
    w = worlds.world(behaviour={"relay_stuck_closed": True})
    worlds.energise(w, 5.0)
    m = w.meters[1]
    assert m.relay.remote_disconnect()
    assert not m.relay.output_state and m.relay.control_state is D
    w.advance(3600.0)
    assert m.registers["1.8.0"] == pytest.approx(P_5A * 3600.0 / KWH, rel=1e-12) and m.pulses >= 3449
    assert m.truth()["relay_closed"] is True and m.truth()["relay_operations"] == 0


def test_a_button_press_of_an_unpowered_meter_does_nothing(worlds: Any) -> None:
    w = worlds.world()
    s = w.meters[1].relay
    assert not w.meters[1].port_alive and s.press_button() is None and s.control_state is C
    worlds.energise(w, 5.0)
    assert s.press_button() == "f"


# -- the load limiter ----------------------------------------------------------------------------------------
def _arm(w: Any, threshold_w: float, over_s: int, under_s: int, mode: int = 5) -> Any:
    m = w.meters[1]
    m.relay.set_control_mode(mode)
    lim = m.relay.limiter
    lim.threshold_normal = round(threshold_w * 10)  # 1.0.1.7.0.255 counts 0.1 W
    lim.min_over_s, lim.min_under_s = over_s, under_s
    lim.changed()
    return m


def test_demand_over_the_threshold_for_min_over_disconnects_at_that_instant(worlds: Any) -> None:
    w = worlds.world(positions=2)
    m = _arm(w, 3000.0, over_s=60, under_s=30, mode=1)
    worlds.energise(w, 5.0)  # 3450 W > 3000 W from t = 0
    w.advance(59.5)
    assert m.relay.control_state is C
    w.advance(0.5)
    assert m.relay.control_state is R and m.relay.transitions == ["g"]  # local_disconnect
    assert m.registers["1.8.0"] == pytest.approx(P_5A * 60.0 / KWH, rel=1e-12)  # exactly 60 s of energy
    w.advance(3600.0)  # under the threshold (0 W) long enough, but mode 1 has no local reconnection (h)
    assert m.relay.control_state is R and m.relay.limiter.under_actions == 1
    assert m.registers["1.8.0"] == pytest.approx(P_5A * 60.0 / KWH, rel=1e-12)
    assert m.relay.press_button() == "e"  # the customer reconnects: over again, off again after 60 s
    w.advance(120.0)
    assert m.relay.transitions == ["g", "e", "g"]
    assert m.registers["1.8.0"] == pytest.approx(P_5A * 120.0 / KWH, rel=1e-12)
    assert w.meters[2].registers["1.8.0"] == pytest.approx(P_5A * 3780.0 / KWH, rel=1e-12)


def test_local_reconnection_after_min_under_and_no_steps_per_second(worlds: Any) -> None:
    w = worlds.world()
    m = _arm(w, 3000.0, over_s=60, under_s=30, mode=5)
    worlds.energise(w, 5.0)
    segments = w.segments
    w.advance(1000.0)
    # over 0-60 → g at 60; open: 0 W under 60-90 → h at 90; over 90-150 → g at 150; …: a 90 s cycle, 60 s on
    cycles, rest = divmod(1000.0, 90.0)
    on_s = cycles * 60.0 + min(rest, 60.0)
    assert m.registers["1.8.0"] == pytest.approx(P_5A * on_s / KWH, rel=1e-12)
    assert m.relay.transitions[:4] == ["g", "h", "g", "h"]
    # off at 60 + 90k ≤ 1000 and on at 90 + 90k ≤ 1000: k = 0 … 10, eleven of each
    assert m.relay.limiter.over_actions == 11 and m.relay.limiter.under_actions == 11
    assert w.segments - segments <= 2 * 23 + 2  # two limiter instants per cycle, never one per second


def test_demand_over_the_threshold_shorter_than_min_over_does_nothing(worlds: Any) -> None:
    w = worlds.world()
    m = _arm(w, 3000.0, over_s=60, under_s=30)
    worlds.energise(w, 5.0)
    w.advance(59.0)
    worlds.energise(w, 2.0)  # 1380 W: under the threshold before 60 s were over
    w.advance(3600.0)
    worlds.energise(w, 5.0)  # over again: the time counts from here
    w.advance(59.0)
    assert m.relay.control_state is C and m.relay.limiter.over_actions == 0
    w.advance(1.0)
    assert m.relay.control_state is R


def test_an_armed_limiter_with_a_constant_demand_adds_no_segments(worlds: Any) -> None:
    w = worlds.world()
    m = _arm(w, 5000.0, over_s=60, under_s=30)
    worlds.energise(w, 5.0)
    w.advance(10.0)
    before = w.segments
    w.advance(1.0e6)
    assert m.relay.control_state is C and w.segments - before <= 40  # tariff switches only
    assert m.relay.limiter.threshold_now() == 50000 and NO_THRESHOLD == 2**32 - 1


def test_the_emergency_threshold_applies_inside_the_emergency_window(worlds: Any) -> None:
    w = worlds.world()
    m = _arm(w, 5000.0, over_s=30, under_s=30, mode=5)
    lim = m.relay.limiter
    lim.threshold_emergency = 20000  # 2000 W
    lim.emergency.profile_id, lim.emergency.duration_s = 7, 100
    lim.emergency.start_posix = m.meter_posix() + 100.0
    lim.group_ids = (3, 7)
    lim.changed()
    worlds.energise(w, 5.0)  # 3450 W: under 5000 W, over 2000 W
    w.advance(99.0)
    assert not lim.emergency_active_now() and m.relay.control_state is C
    w.advance(1.0)
    assert lim.emergency_active_now() and lim.threshold_now() == 20000
    # over from 100 → g at 130; 0 W → h at 160; over again (window until 200) → g at 190; h at 220; then normal
    w.advance(200.0)
    assert m.relay.transitions == ["g", "h", "g", "h"]
    assert not lim.emergency_active_now() and m.relay.control_state is C
    assert m.registers["1.8.0"] == pytest.approx(P_5A * (300.0 - 60.0) / KWH, rel=1e-12)


def test_an_emergency_profile_not_in_the_group_list_never_activates(worlds: Any) -> None:
    w = worlds.world()
    m = _arm(w, 5000.0, over_s=30, under_s=30)
    lim = m.relay.limiter
    lim.threshold_emergency = 20000
    lim.emergency.profile_id, lim.emergency.duration_s, lim.emergency.start_posix = 9, 100, m.meter_posix()
    lim.group_ids = (3, 7)
    worlds.energise(w, 5.0)
    w.advance(300.0)
    assert not lim.emergency_active_now() and m.relay.transitions == []


def test_the_limiter_sleeps_while_the_meter_is_down(worlds: Any) -> None:
    w = worlds.world()
    m = _arm(w, 3000.0, over_s=60, under_s=30)
    worlds.energise(w, 5.0)
    w.advance(50.0)
    w.source.set_output(False)  # the meter's supply fails: its limiter stops looking
    w.advance(600.0)
    w.source.set_output(True)
    w.advance(59.0)
    assert m.relay.control_state is C
    w.advance(1.0)
    assert m.relay.control_state is R
