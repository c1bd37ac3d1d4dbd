"""The key change test (IEC 62055-41 class 2 Set1stSectionDecoderKey / Set2ndSectionDecoderKey), written for the
TID rollover of 2024-11-24: a meter still on base date 1993 must take a token issued in the last minutes of that
base date, the two key change tokens to a new key revision with the rollover bit, and from then on refuse its old
key and take tokens issued at the rollover minute (2024-11-24 20:16) and later on base date 2014.

Steps, each judged by the token gateway's status and the credit it gave (credit conservation as in the acceptance
matrix): 1. credit token before the rollover, old key; 2. and 3. the two key change tokens, old key; 4. a token
of the old key after the change (refused: authentication); 5. credit at the rollover minute on the new base date,
new key; 6. credit issued now, new key. The bench's vending moves to the new key once the meter took both key
change tokens.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hil.core import Measurement, PositionOutcome, RunContext, Step
from hil.kinds.prepayment.common import ACCEPTED, Account, said, vending_of
from hil.kinds.prepayment.model import KeyChangeTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import idle_spec, outcome
from hil.standards import MeterRating
from instruments.drivers.errors import BenchFault
from instruments.sts import TID_MAX, Token, TokenError, encode_token, rollover
from instruments.sts.amount import tenths

KIND = "sts_key_change"
#: step → (what, expected status, credits the amount)
STEPS: dict[str, tuple[str, int, bool]] = {
    "before": ("credit issued before the rollover, old key", ACCEPTED, True),
    "key_1": ("key change, 1st section", ACCEPTED, False),
    "key_2": ("key change, 2nd section", ACCEPTED, False),
    "old_key": ("credit made with the old key after the change", 5, False),
    "at_rollover": ("credit issued at the rollover minute, new key", ACCEPTED, True),
    "now": ("credit issued now, new key", ACCEPTED, True),
}


def key_change_tasks(test: KeyChangeTest, rating: MeterRating, positions: list[int]) -> list[Step]:
    spec = idle_spec(KIND, "key change across the TID rollover", rating)

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test)

    return [Step(test.id, KIND, spec.point, spec, positions, run, lambda o: _measurements(o, test),
                 duration_s=10.0, params={"port_only": False})]


def _run(session: RunContext, task: Step, test: KeyChangeTest) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    runner_of(session).energise(task.spec)
    broken: dict[int, str] = {}
    found: dict[int, dict[str, Any]] = {}
    for p in task.positions:
        steps: dict[str, dict[str, Any]] = {}
        try:
            account = Account(bench, p)
            v = vending_of(bench, p, account)
            roll = v.base_date == 1993 if test.rollover is None else test.rollover
            edge = rollover(v.base_date)  # the first minute the present base date cannot give
            issued_before = edge - dt.timedelta(minutes=15) if roll else clock.utc()
            steps["before"] = account.enter_counted(v.credit(test.amount_kwh, issued_before, random=1))
            old_key, before_tid = v.decoder_key, v.last_tid
            krn = test.new_krn or v.krn % 9 + 1
            first, second, new_key, new_base = v.key_change_tokens(krn, roll, test.ken)
            steps["key_1"], steps["key_2"] = account.enter_counted(first), account.enter_counted(second)
            took = steps["key_1"]["status"] == ACCEPTED and steps["key_2"]["status"] == ACCEPTED
            if took:
                v.key_changed(new_key, krn, new_base, test.ken)
            # as a vending system that missed the change would make it: the old key, the next TID of the old base
            stale = Token.of(0, 0, random=2, tid=min(before_tid + 1, TID_MAX), amount=tenths(str(test.amount_kwh)))
            steps["old_key"] = account.enter_counted(encode_token(stale, old_key))
            later = ["at_rollover", "now"] if roll else ["now"]
            if not took:  # the meter kept its old key: no token of the new one can be judged
                for step in later:
                    steps[step] = {"token": "", "status": None, "result": "not entered: the key change was refused",
                                   "credited_wh": 0.0}
            else:
                if roll:
                    steps["at_rollover"] = account.enter_counted(v.credit(test.amount_kwh, edge, random=3))
                now = clock.utc().replace(tzinfo=None)
                steps["now"] = account.enter_counted(v.credit(test.amount_kwh, now, random=4))
        except (BenchFault, TokenError) as exc:
            broken[p] = f"key change: {exc}"
            continue
        found[p] = {"steps": json.dumps(steps), "krn": krn, "rollover": roll, "base_date": new_base, "took": took}
    return [outcome(bench, p, broken, found.get(p)) for p in task.positions]


def _measurements(o: PositionOutcome, test: KeyChangeTest) -> list[Measurement]:
    out = []
    res = test.credit_resolution_wh
    for step, c in json.loads(o.extra["steps"]).items():
        what, want, credits = STEPS[step]
        got = c["result"]
        out.append(Measurement(f"{step}: token status", c["status"] == want, text=said(
            f"{what}: {got}", f"{what}: the meter answered {got}, expected status {want}")))
        expected = test.amount_kwh * 1000.0 if credits else 0.0
        changed = f"{what}: credit changed by {c['credited_wh']:g} Wh"
        out.append(Measurement(f"{step}: credit change", c["credited_wh"] - expected, "Wh", -res, res,
                               text=said(changed, f"{changed}, expected {expected:g} Wh")))
    return out
