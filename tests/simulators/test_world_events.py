"""Event detection in the physics world (world/events.py) on an ideal source (no settling: a setpoint is delivered
at once, so every event falls exactly on the instant of the command): the virtual instant and the code of each."""

from __future__ import annotations

import datetime as dt
from typing import Any

from instruments.simulators.world.events import POWER_QUALITY, STANDARD
from instruments.simulators.world.world import World


def log(world: World, name: str, position: int = 1) -> list[tuple[int, float]]:
    m = world.meters[position]
    t0 = world.clock.epoch.timestamp()
    return [(e.code, round(e.posix - t0, 6)) for e in m.events.logs[name]]


def test_outage_phase_loss_dip_and_reversal(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    w.advance(10)
    w.source.set_output(False)  # t = 10: a 2 s outage (hold-up 100 ms): power down at 10, up at 12
    w.advance(2)
    w.source.set_output(True)
    w.advance(8)
    w.source.set_voltage(2, 0.0)  # t = 20: L2 missing
    w.advance(5)
    w.source.set_voltage(2, 230.0)  # t = 25: normal again
    w.advance(5)
    w.source.set_voltage(1, 0.0)  # t = 30: L1 (the supply phase) for 50 ms, ridden through on the hold-up
    w.advance(0.05)
    w.source.set_voltage(1, 230.0)
    w.advance(10)
    for ph, angle in ((1, 180.0), (2, 60.0), (3, -60.0)):  # t = 40.05: export
        w.source.set_current_angle(ph, angle)
    w.advance(10)
    assert log(w, STANDARD) == [(2, 0.0), (1, 10.0), (2, 12.0)]
    assert log(w, POWER_QUALITY) == [(2, 0.0), (1, 10.0), (2, 12.0), (83, 20.0), (86, 25.0), (82, 30.0),
                                     (85, 30.05), (91, 40.05)]
    assert w.meters[1].power_failures == 1  # the dip was ridden through


def test_the_faulty_type_misses_interruptions_shorter_than_3_s(worlds: Any) -> None:
    w = worlds.world(behaviour={"event_log_misses_short_interruptions": True})
    worlds.energise(w, 5.0)
    w.advance(10)
    for seconds in (2.9, 3.0):
        w.source.set_output(False)
        w.advance(seconds)
        w.source.set_output(True)
        w.advance(10)
    assert log(w, STANDARD) == [(2, 0.0), (1, 22.9), (2, 25.9)]  # the 2.9 s one is lost, the 3.0 s one kept
    assert w.meters[1].power_failures == 2


def test_clock_set_and_no_events_from_a_dead_meter(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    w.advance(10)
    m = w.meters[1]
    old = m.meter_posix()
    m.set_clock(m.clock_datetime().replace(microsecond=0) + dt.timedelta(seconds=90))
    assert [e.code for e in m.events.logs[STANDARD]][-2:] == [4, 5]
    assert m.events.logs[STANDARD][-2].posix == old
    m.fail_now()
    w.source.set_output(False)
    w.advance(5)
    assert [e.code for e in m.events.logs[STANDARD]] == [2, 4, 5]
