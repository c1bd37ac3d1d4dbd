"""The limiter test: the load limiter (Limiter IC 71) judged by the bench's own pulse counts under the source's load.

The meter's pulses come out of its metrology: while its supply control switch is open no current flows through it
and it registers nothing, so its test output is silent; the bench's error calculator counts them (the bench's
truth, not the meter's word). The meter's control_state is recorded at every judged window and must agree.

Procedure (every position at once; O = min_over_s, U = min_under_s, M = margin_s; times from the instant the
source is programmed for the phase's load, the settling included):

0. at the load above, before the limiter is armed: the pulse-output check (a few pulse periods: an output that is
   silent here cannot show the relay; broken). Then at the load below: control_mode, monitored value, min_over,
   min_under and the actions (over → script ``disconnect_script``, under → ``reconnect_script`` of the
   disconnect control's script table) and last threshold_active are written over DLMS (management client);
1. short overload: the load above for O/2 (pulses counted from the end of settling to O/2: > 0), then below;
   pulses counted from O + M to O + U − M must be > 0 (a limiter that did not restart its duration when the load
   fell would be open there) and the meter must say connected;
2. overload: the load above; pulses counted from the end of settling to O − M must be > 0 (still connected),
   from O + M to O + U − M must be 0 (disconnected: while open the meter measures no power, so the limiter may
   reconnect U after it opened — the window ends before that); the meter must say ready_for_reconnection;
3. the load below: pulses counted from U + M for U − 2M must be > 0 where the control mode lets the limiter
   reconnect (5, 6: local reconnection h), 0 in the other modes (the customer's button is needed).

On every exit path the limiter is disarmed (threshold_active 2³² − 1), its other attributes and the control mode
are put back as they were read, and a meter left open is reconnected (control mode 2 for the remote transitions
c and a); a failure to do so is reported (the last measurement, or a note on the run's exception), never raised
over the original error.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hil.core import Measurement, PlanError, PointSpec, PositionOutcome, RunContext, Step
from hil.kinds.dlms.disconnect import OPEN_PULSES
from hil.kinds.dlms.model import LimiterTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import dlms_port
from hil.measure.pulse_outputs import pulse_outputs
from hil.standards import MeterRating, PowerFactor, StandardsLibrary
from instruments.drivers.errors import BenchFault

_log = logging.getLogger(__name__)

LIMITER_IC, DISCONNECT_IC, REGISTER_IC = 71, 70, 3
#: a disarmed limiter: the largest double-long-unsigned, which no monitored value exceeds (IEC 62056-6-2 4.5.9)
NO_THRESHOLD = 2**32 - 1
DISCONNECTED, CONNECTED, READY_FOR_RECONNECTION = 0, 1, 2
#: control modes whose local reconnection (h) lets the limiter's under action reconnect (Blue Book 4.5.8 control
#: modes; status C, see docs/dlms-disconnect.md)
LOCAL_RECONNECT_MODES = frozenset({5, 6})
#: the mode used to bring an open meter back at the end: remote_disconnect (c) from ready_for_reconnection, then
#: remote_reconnect (a) connects at once
_RESTORE_MODE = 2
#: each load's power at Un must be this far (relative) on its side of the threshold: the limiter compares the
#: meter's own measurement, off by its error (class 2: 2 % at Iref, 2.5 % at low current) and the source's
#: setting error (the lab's choice)
POWER_GAP = 0.05
#: fewest pulses a judged window must be expected to give at its load: a working output then pulses in it
MIN_EXPECTED_PULSES = 2.0
#: a window shorter than this after the source settled cannot be counted
_MIN_WINDOW_S = 1.0
_WS_PER_KWH = 3.6e6
_W_UNIT = 27  # DLMS unit enumeration: W (active power)


def limiter_tasks(test: LimiterTest, rating: MeterRating, positions: list[int], library: StandardsLibrary,
                  settle_s: float) -> list[Step]:
    """The limiter test as one step (all positions at once), or a PlanError naming what cannot be judged."""
    def refuse(why: str) -> PlanError:
        return PlanError(f"test {test.id!r}: {why}")

    try:
        currents = rating.currents(library)
        hi_a, lo_a = currents.evaluate(test.current_above), currents.evaluate(test.current_below)
        pf = PowerFactor.parse(test.power_factor)
    except ValueError as exc:
        raise refuse(str(exc)) from exc
    point = (f"limiter {test.threshold_w:g} W: {test.current_above} / {test.current_below} PF {pf}, over"
             f" {test.min_over_s} s, under {test.min_under_s} s, control mode {test.control_mode}")
    above = PointSpec("limiter", point, rating.un_v, hi_a, pf.phi_deg, str(pf), frequency_hz=rating.frequency_hz,
                      limit_table="plan", limit_status="lab")
    below = dataclasses.replace(above, current_a=lo_a)
    p_hi, p_lo = above.active_power_w(rating.elements), below.active_power_w(rating.elements)
    thr = test.threshold_w
    if not (p_lo * (1 + POWER_GAP) <= thr <= p_hi * (1 - POWER_GAP)):
        raise refuse(f"threshold_w {thr:g} W must lie between the two loads' power at Un with {POWER_GAP:.0%} to"
                     f" spare on each side: {test.current_below} gives {p_lo:.5g} W, {test.current_above}"
                     f" {p_hi:.5g} W ({rating.elements} element(s) × {rating.un_v:g} V, PF {pf})")
    o, u, m = float(test.min_over_s), float(test.min_under_s), test.margin_s
    short_s = o / 2 - settle_s
    if short_s < _MIN_WINDOW_S:
        raise refuse(f"min_over_s {test.min_over_s} s: the short overload (min_over_s / 2 = {o / 2:g} s) leaves"
                     f" no time to count after the source settles (measure.settle_s {settle_s:g} s)")
    k = rating.constant_imp_per_kwh
    expected_short = p_hi * short_s * k / _WS_PER_KWH
    expected_below = p_lo * (u - 2 * m) * k / _WS_PER_KWH
    for what, n in ((f"{test.current_above} in the {short_s:g} s counted during the short overload", expected_short),
                    (f"{test.current_below} in the {u - 2 * m:g} s windows (min_under_s − 2 margin_s)",
                     expected_below)):
        if n < MIN_EXPECTED_PULSES:
            raise refuse(f"{what} gives {n:.3g} pulses at {k:g} imp/kWh (at least {MIN_EXPECTED_PULSES:g} needed"
                         " for no pulse to mean no current): raise the load or the durations")

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test, below)

    duration = 2 * (o + u - m) + (2 * u - m) + 4 * settle_s
    return [Step(test.id, "limiter", point, above, positions, run, _measurements, duration_s=duration,
                 setpoints=(below,), params={"port_only": False})]


@dataclass
class _Meter:
    """One position's side of the run: its port, what was read before (to put back), what went wrong."""

    port: Any = None
    broken: str = ""
    refused: str = ""
    original_mode: int | None = None
    original: dict[int, Any] = field(default_factory=dict)  # limiter attribute → Data as read
    threshold_raw: int | None = None
    scaler: int | None = None
    touched: bool = False
    states: dict[str, int | None] = field(default_factory=dict)
    restore_problem: str = ""


def _problem(exc: BenchFault) -> tuple[str, bool]:
    """The fault's text and whether the meter answered it with a refusal (not a silent or broken link)."""
    from instruments.dlms.client import DataAccessError, ServiceRefused

    cause = getattr(exc, "cause", None)
    return str(exc), isinstance(cause, DataAccessError | ServiceRefused)


def _prepare(bench: Any, p: int, test: LimiterTest) -> _Meter:
    """Open the position's DLMS port; read the control mode and state, the limiter's attributes and the monitored
    register's scaler."""
    from instruments.dlms.cosem import ScalerUnit

    m = _Meter()
    try:
        m.port = dlms_port(bench, p)
        m.original_mode = int(m.port.get(DISCONNECT_IC, test.disconnect_control, 4).value)
        m.states["start"] = int(m.port.get(DISCONNECT_IC, test.disconnect_control, 3).value)
        for attr in (2, 6, 7, 11):
            m.original[attr] = m.port.get(LIMITER_IC, test.limiter, attr)
        su = ScalerUnit.from_data(m.port.get(REGISTER_IC, test.monitored_value, 3))
    except (BenchFault, ValueError) as exc:
        m.broken = f"disconnect control or limiter not readable: {exc}"
        return m
    if su.unit != _W_UNIT:
        m.refused = f"the monitored value {test.monitored_value} is in {su.symbol}, not W"
        return m
    m.scaler = su.scaler
    raw = round(test.threshold_w / 10.0 ** su.scaler)
    if not 0 <= raw < NO_THRESHOLD:
        m.refused = (f"threshold {test.threshold_w:g} W is {raw} in the units of {test.monitored_value} (scaler"
                     f" {su.scaler}): beyond a double-long-unsigned")
        return m
    m.threshold_raw = raw
    if m.states["start"] != CONNECTED:
        m.broken = (f"not connected at the start (control_state {m.states['start']}): the limiter's disconnection"
                    " cannot be seen")
    return m


def _configure(m: _Meter, test: LimiterTest) -> None:
    """control_mode, the limiter's parameters and last threshold_active (which arms it)."""
    from instruments.dlms.axdr import Data
    from instruments.dlms.cosem import Obis

    def script(selector: int) -> Data:
        return Data.structure([Data.octets(bytes(Obis.parse(test.script_table))), Data.uint16(selector)])

    assert m.threshold_raw is not None
    writes: list[tuple[str, int, str, int, Data]] = [
        ("control_mode", DISCONNECT_IC, test.disconnect_control, 4, Data.enum(test.control_mode)),
        ("monitored_value", LIMITER_IC, test.limiter, 2,
         Data.structure([Data.uint16(REGISTER_IC), Data.octets(bytes(Obis.parse(test.monitored_value))),
                         Data.int8(2)])),
        ("min_over_threshold_duration", LIMITER_IC, test.limiter, 6, Data.uint32(test.min_over_s)),
        ("min_under_threshold_duration", LIMITER_IC, test.limiter, 7, Data.uint32(test.min_under_s)),
        ("actions", LIMITER_IC, test.limiter, 11,
         Data.structure([script(test.disconnect_script), script(test.reconnect_script)])),
        ("threshold_active", LIMITER_IC, test.limiter, 3, Data.uint32(m.threshold_raw)),
    ]
    m.touched = True
    for name, ic, obis, attr, value in writes:
        try:
            m.port.set(ic, obis, attr, value)
        except BenchFault as exc:
            text, refused = _problem(exc)
            if refused:
                m.refused = f"{name} not accepted: {text}"
            else:
                m.broken = f"{name} not written: {text}"
            return


def _control_state(m: _Meter, test: LimiterTest) -> int | None:
    try:
        return int(m.port.get(DISCONNECT_IC, test.disconnect_control, 3).value)
    except (BenchFault, ValueError):
        return None


def _restore(m: _Meter, test: LimiterTest) -> None:
    """Disarm the limiter, put its attributes and the control mode back, reconnect a meter left open."""
    from instruments.dlms.axdr import Data

    if not m.touched or m.port is None:
        return
    problems = []

    def step(what: str, call: Callable[[], object]) -> None:
        try:
            call()
        except (BenchFault, ValueError) as exc:
            problems.append(f"{what}: {exc}")

    port, dc, lim = m.port, test.disconnect_control, test.limiter

    def reconnect() -> None:
        port.set(DISCONNECT_IC, dc, 4, Data.enum(_RESTORE_MODE))
        port.action(DISCONNECT_IC, dc, 1, Data.int8(0))  # c from ready_for_reconnection (nothing if disconnected)
        port.action(DISCONNECT_IC, dc, 2, Data.int8(0))  # a

    step("threshold_active not reset", lambda: port.set(LIMITER_IC, lim, 3, Data.uint32(NO_THRESHOLD)))
    def put_back(attr: int, value: Any) -> Callable[[], object]:
        return lambda: port.set(LIMITER_IC, lim, attr, value)

    for attr, value in m.original.items():
        step(f"limiter attribute {attr} not put back", put_back(attr, value))
    state = _control_state(m, test)
    if state is not None and state != CONNECTED:
        step("not reconnected", reconnect)
    mode = m.original_mode
    if mode is not None:
        step("control_mode not put back", lambda: port.set(DISCONNECT_IC, dc, 4, Data.enum(mode)))
    final = _control_state(m, test)
    if final != CONNECTED and not any(p.startswith("not reconnected") for p in problems):
        problems.append(f"left with control_state {final}, not connected")
    m.restore_problem = "; ".join(problems)


def _run(session: RunContext, task: Step, test: LimiterTest, below: PointSpec) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    above, positions = task.spec, list(task.positions)
    o, u, mg = float(test.min_over_s), float(test.min_under_s), test.margin_s
    runner.energise(above)  # the meters are powered (their ports answer); the limiter is not armed yet
    meters = {p: _prepare(bench, p, test) for p in positions}
    check = {c.position: c for c in runner.pulse_output_check(above, positions)}
    counts: dict[str, dict[int, int]] = {}
    durations: dict[str, float] = {}

    def live() -> list[_Meter]:
        return [m for m in meters.values() if not m.broken and not m.refused]

    def window(name: str, spec: PointSpec, start: float, end: float, read: bool = True) -> None:
        """Pulses of every position from ``start`` to ``end`` (bench clock), the meters' control_state at its
        start."""
        clock.sleep(max(start - clock.now(), 0.0))
        if read:
            for m in live():
                m.states[name] = _control_state(m, test)
        left = end - clock.now()
        if left < _MIN_WINDOW_S:
            raise BenchFault("source", f"{name}: {left:.3g} s left to count (the source settled or the meters"
                                       " answered too late for the plan's durations)")
        res = runner.count(spec, positions, left)
        counts[name] = {r.position: r.mut_pulses for r in res}
        durations[name] = res[0].duration_s if res else left

    failure: BaseException | None = None
    try:
        runner.energise(below)
        for p, m in meters.items():
            if check[p].mut_pulses == 0 and not m.broken:
                m.broken = (f"no pulses in {check[p].duration_s:.3g} s at {test.current_above} before the limiter"
                            " was armed: the test output cannot show the relay (check the pulse output first)")
            if not m.broken and not m.refused:
                _configure(m, test)
        t1 = clock.now()  # (1) short overload
        runner.energise(above)
        window("short_overload", above, clock.now(), t1 + o / 2, read=False)
        runner.energise(below)
        window("after_short", below, t1 + o + mg, t1 + o + u - mg)
        t2 = clock.now()  # (2) overload
        runner.energise(above)
        window("before_min_over", above, clock.now(), t2 + o - mg)
        window("after_min_over", above, t2 + o + mg, t2 + o + u - mg)
        t3 = clock.now()  # (3) the load below again
        runner.energise(below)
        start = max(t3 + u + mg, clock.now())  # no later bound: open for good, or reconnected for good
        window("after_min_under", below, start, start + u - 2 * mg)
        runner.energise(dataclasses.replace(below, current_a=0.0))
    except BaseException as exc:
        failure = exc
        raise
    finally:
        for m in meters.values():
            try:
                _restore(m, test)
            except Exception as exc:  # reported, never raised over the test's own result or error
                m.restore_problem = f"{type(exc).__name__}: {exc}"
        problems = {p: m.restore_problem for p, m in meters.items() if m.restore_problem}
        if problems and failure is not None:
            text = "; ".join(f"position {p}: {why}" for p, why in sorted(problems.items()))
            failure.add_note(f"limiter test {test.id!r}: restoring the meters failed: {text}")
            _log.error("limiter test %r: restoring the meters failed: %s", test.id, text)
    k = {p: bench.meter(p).spec.constant_imp_per_kwh for p in positions}
    power = {"above": above.active_power_w(_elements(bench, positions[0])) if positions else 0.0,
             "below": below.active_power_w(_elements(bench, positions[0])) if positions else 0.0}
    load_of = {"short_overload": "above", "after_short": "below", "before_min_over": "above",
               "after_min_over": "above", "after_min_under": "below"}
    out = []
    for p in positions:
        m = meters[p]
        n = {name: c[p] for name, c in counts.items()}
        r = PositionOutcome(p, bench.meter(p).spec.serial, n["after_min_over"], 0, None,
                            durations["after_min_over"], None)
        if m.broken:
            r.verdict, r.reason = "broken", m.broken
        reconnects = test.control_mode in LOCAL_RECONNECT_MODES
        r.extra.update(
            threshold_w=test.threshold_w, threshold_raw=m.threshold_raw, monitored_scaler=m.scaler,
            min_over_s=test.min_over_s, min_under_s=test.min_under_s, margin_s=mg, control_mode=test.control_mode,
            limiter_reconnects=reconnects, power_above_w=round(power["above"], 3),
            power_below_w=round(power["below"], 3), refused=m.refused, restore_problem=m.restore_problem,
            pulses_check=check[p].mut_pulses,
            **{f"pulses_{name}": n[name] for name in load_of},
            **{f"window_{name}_s": round(durations[name], 3) for name in load_of},
            # what a closed relay gives in each window at its load (P·t·k), for the reader
            **{f"expected_{name}": round(power[load] * durations[name] * k[p] / _WS_PER_KWH, 2)
               for name, load in load_of.items()},
            control_state_start=m.states.get("start"),
            control_state_after_short=m.states.get("after_short"),
            control_state_before_min_over=m.states.get("before_min_over"),
            control_state_after_min_over=m.states.get("after_min_over"),
            control_state_after_min_under=m.states.get("after_min_under"),
        )
        out.append(r)
    pulse_outputs(session).after(out, "limiter", test.id)
    return out


def _elements(bench: Any, position: int) -> int:
    return 3 if getattr(bench.meter(position).spec, "connection", "3P4W") == "3P4W" else 1


def _state_name(state: int | None) -> str:
    return {DISCONNECTED: "0 disconnected", CONNECTED: "1 connected",
            READY_FOR_RECONNECTION: "2 ready_for_reconnection"}.get(state, str(state)) if state is not None \
        else "unreadable"


def _measurements(o: PositionOutcome) -> list[Measurement]:
    x = o.extra
    over, under, mg = x["min_over_s"], x["min_under_s"], x["margin_s"]

    def said(key: str, want: int, when: str) -> Measurement:
        state = x[key]
        return Measurement(f"meter reports {_state_name(want).split(' ', 1)[1]} {when}",
                           None if state is None else state == want,
                           text=lambda ok: f"control_state {_state_name(state)} {when}" if ok
                           else f"the meter's word disagrees: control_state {_state_name(state)} {when}, the bench"
                                f" saw {'no current' if want != CONNECTED else 'current'}")

    def counted(name: str) -> str:
        return f"{x[f'pulses_{name}']} pulses in {x[f'window_{name}_s']:g} s (≈ {x[f'expected_{name}']:g} with" \
               " the relay closed)"

    out = [
        Measurement("limiter settings accepted", not x["refused"],
                    text=lambda ok: "control mode and limiter written" if ok else x["refused"]),
        Measurement("pulses during a short overload", x["pulses_short_overload"], "", lower=1,
                    text=lambda ok: f"connected during a {over / 2:g} s overload: {counted('short_overload')}" if ok
                    else f"the limiter disconnected before min_over ({over} s) in a {over / 2:g} s overload:"
                         f" {counted('short_overload')}"),
        Measurement("pulses after a short overload", x["pulses_after_short"], "", lower=1,
                    text=lambda ok: f"no disconnection after a {over / 2:g} s overload: {counted('after_short')}"
                                    f" from {over + mg:g} s" if ok
                    else f"the limiter disconnected after a {over / 2:g} s overload (< min_over {over} s):"
                         f" {counted('after_short')} from {over + mg:g} s after it began"),
        said("control_state_after_short", CONNECTED, "after a short overload"),
        Measurement("pulses before min_over", x["pulses_before_min_over"], "", lower=1,
                    text=lambda ok: f"connected until min_over − margin ({over - mg:g} s) of an overload:"
                                    f" {counted('before_min_over')}" if ok
                    else f"disconnected before min_over − margin ({over - mg:g} s) of an overload:"
                         f" {counted('before_min_over')}"),
        Measurement("pulses after min_over", x["pulses_after_min_over"], "", upper=OPEN_PULSES,
                    text=lambda ok: f"disconnected from min_over + margin ({over + mg:g} s) of an overload: no pulse"
                                    f" in {x['window_after_min_over_s']:g} s" if ok
                    else f"the relay did not open: {counted('after_min_over')} counted after min_over + margin"
                         f" ({over + mg:g} s) of an overload above {x['threshold_w']:g} W"
                         + (", the meter reports it open" if x["control_state_after_min_over"] in
                            (DISCONNECTED, READY_FOR_RECONNECTION) else "")),
        said("control_state_after_min_over", READY_FOR_RECONNECTION, "after min_over"),
    ]
    if x["limiter_reconnects"]:
        out += [
            Measurement("pulses after min_under", x["pulses_after_min_under"], "", lower=1,
                        text=lambda ok: f"reconnected by the limiter after min_under + margin ({under + mg:g} s)"
                                        f" below the threshold (control mode {x['control_mode']}):"
                                        f" {counted('after_min_under')}" if ok
                        else f"not reconnected after min_under + margin ({under + mg:g} s) below the threshold in"
                             f" control mode {x['control_mode']}: {counted('after_min_under')}"),
            said("control_state_after_min_under", CONNECTED, "after min_under"),
        ]
    else:
        out += [
            Measurement("pulses after min_under", x["pulses_after_min_under"], "", upper=OPEN_PULSES,
                        text=lambda ok: f"still open after min_under + margin ({under + mg:g} s): control mode"
                                        f" {x['control_mode']} needs the customer's reconnection" if ok
                        else f"the limiter reconnected in control mode {x['control_mode']} (no local reconnection):"
                             f" {counted('after_min_under')} from min_under + margin ({under + mg:g} s)"),
            said("control_state_after_min_under", READY_FOR_RECONNECTION, "after min_under"),
        ]
    out.append(Measurement("left connected and disarmed", not x["restore_problem"],
                           text=lambda ok: "limiter disarmed, settings and control mode put back, connected" if ok
                           else f"not restored: {x['restore_problem']}"))
    return out
