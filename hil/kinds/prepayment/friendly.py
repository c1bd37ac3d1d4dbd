"""Friendly hours (IEC 62055-31: periods in which a payment meter does not disconnect for lack of credit), judged
by the bench's pulse counts.

The meters' clocks are set a little before the window [start, end) of their local time; their credit is set so it
runs out ``lead_s`` into the window (from the reference power and the price query). Judged: after zero, inside
the window, the meter still pulses (the supply stays on); from ``max_open_s`` after the window's end it gives no
pulse (the supply is cut then). A top-up afterwards leaves the meters with credit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hil.core import Measurement, PositionOutcome, RunContext, Step
from hil.kinds.prepayment.common import (
    Account,
    Restore,
    at_local,
    load_spec,
    reference_share,
    said,
    vending_of,
)
from hil.kinds.prepayment.model import FriendlyTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import idle_spec, outcome
from hil.standards import MeterRating, StandardsLibrary
from instruments.drivers.errors import BenchFault
from instruments.sts import TokenError

KIND = "prepayment_friendly"
OPEN_PULSES = 1
#: the meters' clocks are set this long before the window
BEFORE_S = 300.0


def friendly_tasks(test: FriendlyTest, rating: MeterRating, positions: list[int],
                   library: StandardsLibrary) -> list[Step]:
    spec, limit = load_spec(KIND, f"friendly hours {test.start}-{test.end}", test.id, rating, library, test.current,
                            test.power_factor)
    start, end = (dt.datetime.strptime(t, "%H:%M") for t in (test.start, test.end))
    span = (end - start).total_seconds() % 86400 or 86400.0

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test, rating, limit, span)

    return [Step(test.id, KIND, spec.point, spec, positions, run, lambda o: _measurements(o, test),
                 limit_pct=limit, duration_s=BEFORE_S + span + 2 * test.window_s, params={"port_only": False})]


def _run(session: RunContext, task: Step, test: FriendlyTest, rating: MeterRating, class_pct: float,
         span_s: float) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    idle = idle_spec(KIND, "no load", rating)
    runner.energise(idle)
    accounts: dict[int, Account] = {}
    broken: dict[int, str] = {}
    x: dict[int, dict[str, Any]] = {p: {} for p in task.positions}
    window_start = at_local(clock.utc(), test.start, test.weekday)
    power_nominal = task.spec.active_power_w(rating.elements)
    restore = Restore.new()
    for p in task.positions:
        try:
            a = Account(bench, p)
            v = vending_of(bench, p, a)
            restore.modes[p] = a.control_mode()
            a.set_control_mode(6)
            restore.clocks.add(p)
            a.set_clock_local(window_start - dt.timedelta(seconds=BEFORE_S))
            price = a.price(1)  # the window and the minutes before it are in tariff 1 (06:00-22:00)
            kwh = power_nominal * price * (BEFORE_S + test.lead_s) / 3.6e6
            for token in (v.clear_credit(clock.utc()), v.credit(f"{kwh:.1f}", clock.utc(), random=14)):
                r = a.enter(token)
                if not r.accepted:
                    x[p]["refused"] = f"a valid token to set the credit was refused: {r.text()}"
                    break
            else:
                accounts[p] = a
                x[p]["price"] = price
        except (BenchFault, TokenError) as exc:
            broken[p] = f"credit not set: {exc}"
    live = list(accounts)
    try:
        runner.energise(task.spec)
        t0 = clock.now()
        power_w = float(bench.reference.read([("P", "SIGMA")])[0]) * reference_share(bench, rating)
        for p in live:
            a = accounts[p]
            rate = power_w / 3.6e6 * x[p]["price"]
            meter_now = a.port.clock().replace(tzinfo=None)
            x[p].update(zero_s=a.available_kwh() / rate if rate > 0 else float("inf"),
                        start_s=(window_start - meter_now).total_seconds(),
                        end_s=(window_start - meter_now).total_seconds() + span_s)
        slack = test.max_open_s + 2.0 + class_pct / 100.0 * (BEFORE_S + span_s)
        inside = max((x[p]["zero_s"] for p in live), default=0.0) + slack
        end = min((x[p]["end_s"] for p in live), default=0.0)
        clock.sleep(max(t0 + inside - clock.now(), 0.0))
        if inside + test.window_s < end:
            counts = {o.position: o.mut_pulses for o in runner.count(task.spec, live, test.window_s)}
            for p in live:
                x[p]["pulses_in_window"] = counts[p]
        clock.sleep(max(t0 + max((x[p]["end_s"] for p in live), default=0.0) + slack - clock.now(), 0.0))
        counts = {o.position: o.mut_pulses for o in runner.count(task.spec, live, test.window_s)}
        for p in live:
            x[p]["pulses_after_window"] = counts[p]
    except (BenchFault, TokenError) as exc:
        for p in live:
            broken.setdefault(p, f"friendly hours: {exc}")
    finally:
        runner.energise(idle)
        # the debt of the friendly hours cleared, credit to go on with
        restore.back(bench, broken, with_credit=True, failed={p for p in x if "refused" in x[p]})
    return [outcome(bench, p, broken, x[p]) for p in task.positions]


def _measurements(o: PositionOutcome, test: FriendlyTest) -> list[Measurement]:
    x = o.extra
    if "refused" in x:
        return [Measurement("credit tokens accepted", False, text=x["refused"])]
    w = f"{test.window_s:g} s"
    out = []
    if not x["start_s"] < x["zero_s"] < x["end_s"]:
        return [Measurement("zero credit in the friendly window", False, text=(
            f"the credit ran out {x['zero_s']:.0f} s after the start, outside the window "
            f"[{x['start_s']:.0f} s, {x['end_s']:.0f} s): the test cannot judge the friendly hours"))]
    if "pulses_in_window" not in x:
        out.append(Measurement("pulses in friendly hours", False, text=(
            f"no room to count in the friendly hours after zero credit (window_s {test.window_s:g} s, lead_s "
            f"{test.lead_s:g} s): the supply in them cannot be judged")))
    else:
        out.append(Measurement("pulses in friendly hours", x["pulses_in_window"], "", lower=1, text=said(
            f"supply kept on at zero credit in the friendly hours: {x['pulses_in_window']} pulses in {w}",
            f"the supply was cut in the friendly hours {test.start}-{test.end}: 0 pulses in {w} after zero credit")))
    out.append(Measurement("pulses after friendly hours", x["pulses_after_window"], "", upper=OPEN_PULSES,
                           text=said(f"supply cut at the end of the friendly hours ({test.end}): no pulse in {w}",
                                     f"the supply stays on after the friendly hours at zero credit: "
                                     f"{x['pulses_after_window']} pulses in {w}")))
    return out
