"""Low credit, zero credit, top-up and emergency credit under load, judged by the bench's truth (IEC 62055-31).

From ``start_credit_kwh`` (a clear-credit token, then a credit token) the load runs. The reference standard gives
the power P; the meter's price query the price; so the credit must reach each threshold t = (credit − threshold)
/ (P × price) after the start, and zero after credit / (P × price). Judged:

- each low-credit alarm in the event log at its instant (the meter's clock), within ``tolerance_s`` plus the
  meter's class share of the time elapsed (its energy error moves the instant one for one);
- out of credit: the event at zero, and from ``max_open_s`` after zero the error calculator counts no pulse of the
  meter in ``window_s`` (the supply is cut, whatever the meter says);
- a top-up token: accepted, and the meter pulses again (control mode 5 or 6: it reconnects by itself);
- emergency credit: at zero again (clear credit), invoke_credit is accepted and the meter pulses; it is cut again
  when the emergency credit is used up; the next token pays it back first: available = token − emergency credit.
"""

from __future__ import annotations

import json
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
from hil.kinds.prepayment.model import CreditLimitsTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import idle_spec, outcome
from hil.standards import MeterRating, StandardsLibrary
from instruments.drivers.errors import BenchFault
from instruments.sts import TokenError

KIND = "prepayment_credit_limits"
#: pulses an open supply may still show in a window (one the meter had nearly accumulated), as for the disconnect
OPEN_PULSES = 1


def credit_limits_tasks(test: CreditLimitsTest, rating: MeterRating, positions: list[int],
                        library: StandardsLibrary) -> list[Step]:
    spec, limit = load_spec(KIND, "credit limits", test.id, rating, library, test.current, test.power_factor)
    power = spec.active_power_w(rating.elements)
    run_s = 3600.0 * test.start_credit_kwh / power + 4 * test.window_s if power > 0 else 0.0

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test, rating, limit)

    return [Step(test.id, KIND, spec.point, spec, positions, run, lambda o: _measurements(o, test),
                 limit_pct=limit, duration_s=run_s, params={"port_only": False})]


class _Bench:
    """The step's bench side: load on / off, pulse windows, the positions still judged."""

    def __init__(self, session: RunContext, task: Step, rating: MeterRating) -> None:
        self.bench, self.clock = session.bench, session.bench.clock
        self.runner = runner_of(session)
        self.task = task
        self.idle = idle_spec(KIND, "no load", rating)

    def pulses(self, positions: list[int], seconds: float) -> dict[int, int]:
        return {o.position: o.mut_pulses for o in self.runner.count(self.task.spec, positions, seconds)}


def _prepare(b: _Bench, accounts: dict[int, Account], test: CreditLimitsTest, broken: dict[int, str],
             refused: dict[int, str], restore: Restore) -> None:
    """Control mode, the meter clock, and the start credit: clear credit, then a credit token."""
    local = at_local(b.clock.utc(), test.clock, test.weekday)
    for p in list(accounts):
        a = accounts[p]
        try:
            v = vending_of(b.bench, p, a)
            restore.modes[p] = a.control_mode()
            a.set_control_mode(test.control_mode)
            restore.clocks.add(p)
            a.set_clock_local(local)
            for token in (v.clear_credit(b.clock.utc()), v.credit(test.start_credit_kwh, b.clock.utc(), random=11)):
                r = a.enter(token)
                if not r.accepted:
                    refused[p] = f"a valid token to set the start credit was refused: {r.text()}"
                    del accounts[p]
                    break
        except (BenchFault, TokenError) as exc:
            broken[p] = f"start credit not set: {exc}"
            del accounts[p]


def _run(session: RunContext, task: Step, test: CreditLimitsTest, rating: MeterRating,
         class_pct: float) -> list[PositionOutcome]:
    b = _Bench(session, task, rating)
    bench, clock = b.bench, b.clock
    b.runner.energise(b.idle)
    broken: dict[int, str] = {}
    accounts: dict[int, Account] = {}
    for p in task.positions:
        try:
            accounts[p] = Account(bench, p)
        except BenchFault as exc:
            broken[p] = str(exc)
    x: dict[int, dict[str, Any]] = {p: {} for p in task.positions}
    refused: dict[int, str] = {}
    restore = Restore.new()
    try:
        _prepare(b, accounts, test, broken, refused, restore)
        live = list(accounts)
        b.runner.energise(task.spec)
        t0 = clock.now()
        power_w = float(bench.reference.read([("P", "SIGMA")])[0]) * reference_share(bench, rating)
        for p in live:
            a = accounts[p]
            price = a.price(test.tariff)
            credit = a.available_kwh()
            rate = power_w / 3.6e6 * price  # credit per second
            # (index in the plan's list, threshold, instant): the code of a threshold is by its index
            x[p].update(start_kwh=credit, price=price, power_w=power_w, meter_t0=a.port.clock(),
                        zero_s=credit / rate if rate > 0 else float("inf"),
                        thresholds=[(k, thr, (credit - thr) / rate) for k, thr in enumerate(test.thresholds_kwh)
                                    if thr < credit])
        zero_s = max((x[p]["zero_s"] for p in live), default=0.0)
        slack = test.tolerance_s + class_pct / 100.0 * zero_s
        clock.sleep(max(t0 + zero_s + slack + test.max_open_s - clock.now(), 0.0))
        open_pulses = b.pulses(live, test.window_s)
        for p in live:
            x[p]["pulses_at_zero"] = open_pulses[p]
            x[p]["slack_s"] = slack
            a = accounts[p]
            t_meter = x[p]["meter_t0"]
            x[p]["events"] = [(None if w is None else (w - t_meter).total_seconds(), code)
                              for w, code in a.events(t_meter, a.port.clock())]  # not the start credit's own
        # top-up: reconnects by itself in control modes 5 and 6
        for p in live:
            r = accounts[p].enter(vending_of(bench, p).credit(test.topup_kwh, clock.utc(), random=12))
            x[p]["topup"] = r.text()
            x[p]["topup_ok"] = r.accepted
        clock.sleep(test.max_open_s)
        back = b.pulses(live, test.window_s)
        for p in live:
            x[p]["pulses_after_topup"] = back[p]
        if test.emergency:
            _emergency(b, accounts, live, test, x)
    except (BenchFault, TokenError) as exc:
        for p in accounts:
            broken.setdefault(p, f"credit limits: {exc}")
    finally:
        b.runner.energise(b.idle)
        restore.back(bench, broken, with_credit=True, failed=refused)  # whatever the emergency credit left
    return [outcome(bench, p, broken, {
        **x[p], "refused": refused.get(p), "meter_t0": str(x[p].get("meter_t0")),
        "thresholds": json.dumps(x[p].get("thresholds", [])), "events": json.dumps(x[p].get("events", []))})
        for p in task.positions]


def _emergency(b: _Bench, accounts: dict[int, Account], live: list[int], test: CreditLimitsTest,
               x: dict[int, dict[str, Any]]) -> None:
    clock = b.clock
    for p in live:  # out of credit at once
        r = accounts[p].enter(vending_of(b.bench, p).clear_credit(clock.utc()))
        x[p]["clear_ok"] = r.accepted
    clock.sleep(test.max_open_s)
    for p in live:
        x[p]["emergency_refused"] = accounts[p].invoke_emergency()
    clock.sleep(test.max_open_s)
    on = b.pulses(live, test.window_s)
    used_s = 0.0
    for p in live:
        a = accounts[p]
        x[p]["pulses_on_emergency"] = on[p]
        left = a.available_kwh()
        x[p]["emergency_left_kwh"] = left
        rate = x[p]["power_w"] / 3.6e6 * x[p]["price"]
        used_s = max(used_s, left / rate if rate > 0 else 0.0)
    clock.sleep(used_s + x[live[0]]["slack_s"] + test.max_open_s if live else 0.0)
    off = b.pulses(live, test.window_s)
    for p in live:
        a = accounts[p]
        x[p]["pulses_emergency_used"] = off[p]
        before = a.available_kwh()
        r = a.enter(vending_of(b.bench, p).credit(test.topup_kwh, clock.utc(), random=13))
        x[p]["payback_token"] = r.text()
        x[p]["payback_kwh"] = a.available_kwh() - before


def _event(name: str, events: list[tuple[float | None, int]], code: int | None, at_s: float, slack_s: float,
           what: str) -> Measurement:
    """The logged event nearest its instant, within ``slack_s``; none logged is a failure, not a missing value."""
    seen = [t for t, c in events if c == code and t is not None]
    if not seen:
        return Measurement(name, False, text=f"no {what} in the event log (expected {at_s:.0f} s after the start)")
    off = min((t - at_s for t in seen), key=abs)
    return Measurement(name, off, "s", -slack_s, slack_s, text=f"{what} {off:+.1f} s from its instant")


def _measurements(o: PositionOutcome, test: CreditLimitsTest) -> list[Measurement]:
    x = o.extra
    if x.get("refused"):
        return [Measurement("start credit tokens accepted", False, text=x["refused"])]
    out = []
    w = f"{test.window_s:g} s"
    codes = test.codes
    events = [(t, int(c)) for t, c in json.loads(x["events"])]
    for k, thr, at_s in json.loads(x["thresholds"]):
        code = codes.low_credit[k] if k < len(codes.low_credit) else None
        out.append(_event(f"low credit {thr:g} kWh alarm", events, code, at_s, x["slack_s"],
                           f"low-credit alarm (code {code}) at {thr:g} kWh"))
    out.append(_event("out of credit event", events, codes.out_of_credit, x["zero_s"], x["slack_s"],
                      f"out-of-credit event (code {codes.out_of_credit})"))
    out.append(Measurement("pulses at zero credit", x["pulses_at_zero"], "", upper=OPEN_PULSES, text=said(
        f"supply cut at zero credit: no pulse in {w} from {test.max_open_s:g} s after it",
        f"the supply stays on at zero credit: {x['pulses_at_zero']} pulses in {w} from {test.max_open_s:g} s after")))
    out.append(Measurement("top-up accepted", x["topup_ok"], text=said(f"top-up: {x['topup']}",
                                                                       f"top-up refused: {x['topup']}")))
    out.append(Measurement("pulses after top-up", x["pulses_after_topup"], "", lower=1, text=said(
        f"reconnected after the top-up: {x['pulses_after_topup']} pulses in {w}",
        f"no current after the top-up (control mode {test.control_mode}): 0 pulses in {w}")))
    if test.emergency and "pulses_on_emergency" in x:
        refused = x["emergency_refused"]
        out.append(Measurement("emergency credit invoked", not refused, text=said(
            "emergency credit invoked at zero credit", f"emergency credit refused at zero credit: {refused}")))
        out.append(Measurement("pulses on emergency credit", x["pulses_on_emergency"], "", lower=1, text=said(
            f"supply back on emergency credit: {x['pulses_on_emergency']} pulses in {w}",
            f"no current on emergency credit: 0 pulses in {w}")))
        out.append(Measurement("pulses emergency used up", x["pulses_emergency_used"], "", upper=OPEN_PULSES,
                               text=said(f"supply cut when the emergency credit was used up: no pulse in {w}",
                                         f"the supply stays on after the emergency credit: "
                                         f"{x['pulses_emergency_used']} pulses in {w}")))
        res = test.credit_resolution_wh * 2 / 1000.0
        want = test.topup_kwh - test.emergency_kwh
        got = x["payback_kwh"]
        out.append(Measurement("emergency credit paid back", (got - want) * 1000.0, "Wh", -res * 1000, res * 1000,
                               text=said(f"the top-up of {test.topup_kwh:g} kWh paid the {test.emergency_kwh:g} kWh "
                                         f"emergency credit back: credit +{got:.3f} kWh",
                                         f"credit +{got:.3f} kWh after a {test.topup_kwh:g} kWh top-up, expected "
                                         f"{want:.3f} kWh (the emergency credit paid back first)")))
    return out
