"""The deduction test: the credit a payment meter takes for the energy it supplies, against the bench's reference
energy (IEC 62055-31: the meter's account follows its measurement of the energy; the charges are the meter's
configuration, shown by its price query).

Per tariff window (the meters' clocks set into it): credit before; the reference integrates while the load flows
for ``duration_s``; credit after. Expected drop = reference energy × the tariff's price + the standing charges that
fell due on the meter's clock in between (collections counted from its clock readings). The error of the drop,
in % of the consumption charge, is held to the meter's class limit at the load (its energy error moves the charge
one for one) plus the credit resolution of two readings. With no load, over ``standing_s``: the drop is the
standing charge alone, held to the credit resolution. The price query (the consumption charge's active unit
charge) must show ``prices`` where the plan gives them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from typing import Any

from hil.core import Measurement, PointSpec, PositionOutcome, RunContext, Step
from hil.kinds.prepayment.common import (
    Account,
    Restore,
    at_local,
    load_spec,
    reference_share,
    said,
    vending_of,
)
from hil.kinds.prepayment.model import DeductionTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import idle_spec, outcome
from hil.standards import MeterRating, StandardsLibrary
from instruments.drivers.errors import BenchFault
from instruments.sts import TokenError

KIND = "prepayment_deduction"


def deduction_tasks(test: DeductionTest, rating: MeterRating, positions: list[int],
                    library: StandardsLibrary) -> list[Step]:
    spec, limit = load_spec(KIND, "credit deduction", test.id, rating, library, test.current, test.power_factor)

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test, rating)

    return [Step(test.id, KIND, spec.point, spec, positions, run, lambda o: _measurements(o, test),
                 limit_pct=limit, duration_s=len(test.windows) * test.duration_s + test.standing_s,
                 params={"port_only": False})]


def _posix(port: Any) -> float:
    """The meter's local clock as seconds (its collections fall on whole periods of its own day, U)."""
    local = port.clock()
    return float(local.replace(tzinfo=dt.UTC).timestamp())


def _window(bench: Any, clock: Any, runner: Any, accounts: dict[int, Account], spec: PointSpec | None,
            seconds: float, local: dt.datetime | None, share: float) -> dict[int, dict[str, float]]:
    """Credit and meter clock before and after ``seconds`` at ``spec`` (None: no load), with the reference
    energy; the meters' clocks first set to ``local`` (their own zone)."""
    for a in accounts.values():
        if local is not None:
            a.set_clock_local(local)
    before = {p: (a.available_kwh(), _posix(a.port)) for p, a in accounts.items()}
    ref = bench.reference
    ref.start_integration()
    if spec is not None:
        runner.energise(spec)
    clock.sleep(seconds)
    if spec is not None:
        runner.energise(dataclasses.replace(spec, current_a=0.0))
    ref_wh = float(ref.read([("WH", "SIGMA")])[0]) * share
    ref.stop_integration()
    out = {}
    for p, a in accounts.items():
        after, t1 = a.available_kwh(), _posix(a.port)
        out[p] = {"drop_kwh": before[p][0] - after, "clock0": before[p][1], "clock1": t1,
                  "reference_kwh": ref_wh / 1000.0 if spec is not None else 0.0}
    return out


def _collections(t0: float, t1: float, period: float) -> int:
    return math.floor(t1 / period) - math.floor(t0 / period)


def _run(session: RunContext, task: Step, test: DeductionTest, rating: MeterRating) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    idle = idle_spec(KIND, "no load", rating)
    runner.energise(idle)
    accounts: dict[int, Account] = {}
    config: dict[int, dict[str, Any]] = {}
    broken: dict[int, str] = {}
    refused: dict[int, str] = {}
    for p in task.positions:
        try:
            a = Account(bench, p)
            result = a.enter(vending_of(bench, p, a).credit(test.credit_kwh, clock.utc(), random=9))
            if not result.accepted:
                refused[p] = f"a valid credit token for the test was refused: {result.text()}"
                continue
            period, per = a.standing()
            config[p] = {"prices": a.prices(), "period_s": period, "per_collection": per,
                         "configured": {"period_s": period, "per_collection": per}}
            if test.standing_charge_per_day is not None:  # the charge the meter should have, not its word
                period = float(test.collection_period_s or period)
                config[p].update(period_s=period, per_collection=test.standing_charge_per_day * period / 86400)
            accounts[p] = a
        except (BenchFault, TokenError) as exc:
            broken[p] = f"account not ready: {exc}"
    runs: list[tuple[int | None, dict[int, dict[str, float]]]] = []
    share = reference_share(bench, rating)
    restore = Restore.new()
    restore.clocks.update(accounts)
    try:
        for w in test.windows:
            local = at_local(clock.utc(), w.clock, w.weekday)
            runs.append((w.tariff, _window(bench, clock, runner, accounts, task.spec, test.duration_s, local, share)))
        if test.standing_s > 0:
            runs.append((None, _window(bench, clock, runner, accounts, None, test.standing_s, None, share)))
    finally:
        restore.back(bench, broken)
    out = []
    for p in task.positions:
        if p in broken or p in refused:
            out.append(outcome(bench, p, broken, {"refused": refused.get(p)}))
            continue
        c = config[p]
        rows = []
        for tariff, r in runs:
            m = r[p]
            n = _collections(m["clock0"], m["clock1"], c["period_s"]) if c["period_s"] > 0 else 0
            standing = n * c["per_collection"]
            price = c["prices"].get(tariff, math.nan) if tariff is not None else 0.0  # NaN: the meter shows none
            rows.append({"tariff": tariff, "price": price, "reference_kwh": m["reference_kwh"],
                         "collections": n, "standing_kwh": standing, "drop_kwh": m["drop_kwh"],
                         "expected_kwh": m["reference_kwh"] * price + standing})
        out.append(outcome(bench, p, broken, {"windows": json.dumps(rows), "prices": json.dumps(c["prices"]),
                                              "configured": json.dumps(c["configured"]),
                                              "limit_pct": task.limit_pct}))
    return out


def _measurements(o: PositionOutcome, test: DeductionTest) -> list[Measurement]:
    x = o.extra
    if x.get("refused"):
        return [Measurement("credit token accepted", False, text=x["refused"])]
    res_kwh = 2 * test.credit_resolution_wh / 1000.0  # two readings, each to the credit's resolution
    prices = {int(k): v for k, v in json.loads(x["prices"]).items()}
    out = []
    for tariff, want in sorted((test.prices or {}).items()):
        got = prices.get(tariff)
        if got is None:
            out.append(Measurement(f"price tariff {tariff}", False,
                                   text=f"price query: no price for tariff {tariff}, the tariff is {want:g}"))
            continue
        out.append(Measurement(f"price tariff {tariff}", got, "kWh/kWh", want - 5e-4, want + 5e-4, text=said(
            f"price query: tariff {tariff} at {got:g} per kWh",
            f"price query: tariff {tariff} at {got:g} per kWh, the tariff is {want:g}")))
    if test.standing_charge_per_day is not None:
        cfg = json.loads(x["configured"])
        period = float(test.collection_period_s or cfg["period_s"])
        want = test.standing_charge_per_day * period / 86400
        ok = cfg["period_s"] == period and abs(cfg["per_collection"] - want) <= 1e-6 + 1e-3 * want
        out.append(Measurement("standing charge configured", ok, text=(
            f"the meter's time-based charge: {cfg['per_collection'] * 1000:g} Wh every {cfg['period_s']:g} s (plan: "
            f"{want * 1000:g} Wh every {period:g} s)")))
    for w in json.loads(x["windows"]):
        if w["tariff"] is None:
            err = w["drop_kwh"] - w["expected_kwh"]
            out.append(Measurement("standing charge", err * 1000.0, "Wh", -res_kwh * 1000.0, res_kwh * 1000.0,
                                   text=said(f"no load: credit fell {w['drop_kwh'] * 1000:.0f} Wh for "
                                             f"{w['collections']} standing charges of "
                                             f"{w['standing_kwh'] * 1000 / max(w['collections'], 1):g} Wh",
                                             f"no load: credit fell {w['drop_kwh'] * 1000:.0f} Wh, the "
                                             f"{w['collections']} standing charges due make "
                                             f"{w['expected_kwh'] * 1000:.0f} Wh")))
            continue
        if math.isnan(w["price"]):
            out.append(Measurement(f"deduction tariff {w['tariff']}", False,
                                   text=f"the price query shows no price for tariff {w['tariff']}"))
            continue
        charge = w["reference_kwh"] * w["price"]
        if charge <= 0:
            out.append(Measurement(f"deduction tariff {w['tariff']}", None, "%",
                                   text="no energy charged in the window: nothing to compare"))
            continue
        err = (w["drop_kwh"] - w["expected_kwh"]) / charge * 100.0
        limit = x["limit_pct"] + 100.0 * res_kwh / charge
        what = (f"tariff {w['tariff']}: credit fell {w['drop_kwh'] * 1000:.0f} Wh for {w['reference_kwh'] * 1000:.1f}"
                f" Wh at {w['price']:g} per kWh" + (f" + {w['standing_kwh'] * 1000:.0f} Wh standing charge"
                                                    if w["collections"] else ""))
        out.append(Measurement.within(f"deduction error tariff {w['tariff']}", err, limit, text=said(
            what, f"{what}: expected {w['expected_kwh'] * 1000:.0f} Wh, {err:+.2f} % of the charge")))
    return out
