"""The disconnect test: remote disconnect and reconnect judged by the bench's own pulse counts.

The meter's pulses come out of its metrology: while its supply control switch is open no current flows through it
and it registers nothing, so its test output is silent; the bench's error calculator counts them (the bench's
truth, not the meter's word). The meter's own output_state is recorded and must agree.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hil.core import Measurement, PointSpec, PositionOutcome, RunContext, Step
from hil.kinds.dlms.model import DisconnectTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import dlms_port, resolve_load
from hil.standards import MeterRating, StandardsLibrary
from instruments.drivers.errors import BenchFault

#: pulses an open relay may still show in a counting window: one, from the pulse the meter had nearly accumulated or
#: from its creep (voltage stays on); a closed relay at the test load gives tens (the windows are chosen so)
OPEN_PULSES = 1

#: control modes whose remote_reconnect connects at once (transition a: disconnected → connected); in the others it
#: only makes the meter ready_for_reconnection (d), the customer's button (e) or a local action (h) then connects
#: (IEC 62056-6-2 Disconnect control, transitions a–h and control modes 0–6; status U: the letters as a vendor
#: manual tabulates them, MetCom MCS301 manual table 44, and the modes as Gurux's ControlMode lists them)
RECONNECTS_AT_ONCE = frozenset({2, 4})
READY_FOR_RECONNECTION = 2
CONNECTED = 1


def disconnect_tasks(test: DisconnectTest, rating: MeterRating, positions: list[int],
                     library: StandardsLibrary) -> list[Step]:
    load = resolve_load(test.id, rating, library, test.current, test.power_factor)
    amps, pf = load.amps, load.pf
    point = f"remote disconnect at {test.current} PF {pf}" + (" and reconnect" if test.reconnect else "")
    spec = PointSpec("disconnect", point, rating.un_v, amps, pf.phi_deg, str(pf), frequency_hz=rating.frequency_hz,
                     limit_table="plan", limit_status="lab")

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test)

    windows = 3 if test.reconnect else 2
    return [Step(test.id, "disconnect", point, spec, positions, run, _measurements,
                 duration_s=windows * test.window_s + test.max_open_s, params={"port_only": False})]


def _act(bench: Any, positions: list[int], test: DisconnectTest, method: int,
         problems: dict[int, str], modes: dict[int, int]) -> None:
    from instruments.dlms.axdr import Data

    name = "remote_disconnect" if method == 1 else "remote_reconnect"
    for p in positions:
        if p in problems:
            continue
        try:
            port = dlms_port(bench, p)
            if method == 1:
                modes[p] = int(port.get(70, test.disconnect_control, 4).value)
            port.action(70, test.disconnect_control, method, Data.int8(0))
        except BenchFault as exc:
            problems[p] = f"{name} refused: {exc}"


def _connect_first(bench: Any, positions: list[int], test: DisconnectTest, problems: dict[int, str]) -> None:
    """The control mode written, and each meter connected before the test: a meter left ready_for_reconnection
    or disconnected (by an earlier test) is reconnected remotely where the mode allows it (c then a)."""
    from instruments.dlms.axdr import Data

    for p in positions:
        try:
            port = dlms_port(bench, p)
            if test.control_mode is not None:
                port.set(70, test.disconnect_control, 4, Data.enum(test.control_mode))
            for _ in range(2):
                state = int(port.get(70, test.disconnect_control, 3).value)
                if state == CONNECTED:
                    break
                method = 1 if state == READY_FOR_RECONNECTION else 2  # c: ready → disconnected; a: → connected
                port.action(70, test.disconnect_control, method, Data.int8(0))
            state = int(port.get(70, test.disconnect_control, 3).value)
            if state != CONNECTED:
                problems[p] = (f"not connected at the start (control_state {state}) and the control mode does not"
                               " let a remote reconnection connect it")
        except BenchFault as exc:
            problems[p] = f"disconnect control not accessible: {exc}"


def _state(bench: Any, p: int, test: DisconnectTest) -> tuple[bool | None, int | None]:
    """The meter's word: output_state and control_state (None where unreadable)."""
    try:
        port = dlms_port(bench, p)
        return bool(port.get(70, test.disconnect_control, 2).value), int(port.get(70, test.disconnect_control, 3).value)
    except BenchFault:
        return None, None


def _run(session: RunContext, task: Step, test: DisconnectTest) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    positions = list(task.positions)
    unready: dict[int, str] = {}
    runner.energise(task.spec)
    _connect_first(bench, positions, test, unready)
    before = {o.position: o.mut_pulses for o in runner.count(task.spec, positions, test.window_s)}
    refused: dict[int, str] = dict(unready)
    modes: dict[int, int] = {}
    _act(bench, positions, test, 1, refused, modes)
    clock.sleep(test.max_open_s)
    opened = {o.position: o.mut_pulses for o in runner.count(task.spec, positions, test.window_s)}
    said_open = {p: _state(bench, p, test) for p in positions}
    again: dict[int, int] = {}
    said_again: dict[int, tuple[bool | None, int | None]] = {}
    reconnect_refused: dict[int, str] = {}
    if test.reconnect:
        _act(bench, positions, test, 2, reconnect_refused, modes)
        clock.sleep(test.max_open_s)
        again = {o.position: o.mut_pulses for o in runner.count(task.spec, positions, test.window_s)}
        said_again = {p: _state(bench, p, test) for p in positions}
        runner.energise(dataclasses.replace(task.spec, current_a=0.0))
    out = []
    for p in positions:
        serial = bench.meter(p).spec.serial
        o = PositionOutcome(p, serial, opened[p], 0, None, test.window_s, None)
        if p in unready:
            o.verdict, o.reason = "broken", unready[p]
        elif before[p] == 0:
            o.verdict, o.reason = "broken", (f"no pulses in {test.window_s:g} s before the disconnect: the test output"
                                            " cannot show the relay (check the pulse output first)")
        output_state, control_state = said_open[p]
        o.extra.update(pulses_before=before[p], pulses_open=opened[p], pulses_reconnected=again.get(p),
                       refused=refused.get(p, ""), reconnect_refused=reconnect_refused.get(p, ""),
                       output_state_open=output_state, control_state_open=control_state,
                       window_s=test.window_s, max_open_s=test.max_open_s, reconnect=test.reconnect,
                       control_mode=modes.get(p), control_state_reconnected=said_again.get(p, (None, None))[1],
                       reconnects_at_once=modes.get(p) in RECONNECTS_AT_ONCE)
        out.append(o)
    return out


def _measurements(o: PositionOutcome) -> list[Measurement]:
    x = o.extra
    w = f"{x['window_s']:g} s"
    out = [
        Measurement("disconnect accepted", not x["refused"], text=lambda ok: "remote_disconnect accepted" if ok
                    else x["refused"]),
        Measurement("pulses while disconnected", x["pulses_open"], "", upper=OPEN_PULSES,
                    text=lambda ok: f"no pulse in {w} from {x['max_open_s']:g} s after remote_disconnect" if ok
                    else f"the relay did not open: {x['pulses_open']} pulses in {w} from {x['max_open_s']:g} s after"
                         f" remote_disconnect ({x['pulses_before']} before)"
                         + (", the meter reports it disconnected" if x["output_state_open"] is False else "")),
        Measurement("meter reports disconnected", x["output_state_open"] is False,
                    text=lambda ok: "output_state false while disconnected" if ok
                    else f"output_state {x['output_state_open']} while no current flows through it"),
    ]
    if x["reconnect"] and x["reconnects_at_once"]:
        out += [
            Measurement("reconnect accepted", not x["reconnect_refused"],
                        text=lambda ok: "remote_reconnect accepted" if ok else x["reconnect_refused"]),
            Measurement("pulses after reconnect", x["pulses_reconnected"], "", lower=1,
                        text=lambda ok: f"{x['pulses_reconnected']} pulses in {w} after remote_reconnect (control mode"
                                        f" {x['control_mode']})" if ok
                        else f"no current after remote_reconnect in control mode {x['control_mode']}: 0 pulses in {w}"),
        ]
    elif x["reconnect"]:  # remote_reconnect only arms it: the current must stay off until the customer reconnects
        state = x["control_state_reconnected"]
        out += [
            Measurement("reconnect accepted", not x["reconnect_refused"],
                        text=lambda ok: "remote_reconnect accepted" if ok else x["reconnect_refused"]),
            Measurement("ready for reconnection", state == READY_FOR_RECONNECTION,
                        text=lambda ok: f"ready_for_reconnection after remote_reconnect (control mode"
                                        f" {x['control_mode']}: manual reconnection)" if ok
                        else f"control_state {state} after remote_reconnect in control mode {x['control_mode']},"
                             " expected 2 ready_for_reconnection"),
            Measurement("pulses before manual reconnection", x["pulses_reconnected"], "", upper=OPEN_PULSES,
                        text=lambda ok: f"no current until the customer reconnects (control mode {x['control_mode']})"
                        if ok else f"the meter reconnected without the customer: {x['pulses_reconnected']} pulses in"
                                   f" {w} after remote_reconnect (control mode {x['control_mode']})"),
        ]
    return out
