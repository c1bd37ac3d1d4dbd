"""The token acceptance matrix (IEC 62055-41 token validation): one token per case through the DLMS token gateway,
judged by the gateway's status and by the account's credit, against the bench's own vending (the tokens are made
here from the bench file's key data; the expected status of each case comes from which check it must fail).

Credit conservation: between the readings around a token the meter may charge (a standing charge falling due);
the credit change is judged as Δavailable + Δcharged, which is the token's amount for an accepted credit token and
zero for every refused one, to the credit resolution.
"""

from __future__ import annotations

import json
from typing import Any

from hil.core import Measurement, PositionOutcome, RunContext, Step
from hil.kinds.prepayment.common import Account, said, vending_of
from hil.kinds.prepayment.model import CASES, TokenAcceptanceTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import idle_spec, outcome
from hil.standards import MeterRating
from hil.vending import Vending, other_meter_key
from instruments.drivers.errors import BenchFault
from instruments.sts import TokenError, decode_token, make_pan

KIND = "sts_token_acceptance"


def acceptance_tasks(test: TokenAcceptanceTest, rating: MeterRating, positions: list[int]) -> list[Step]:
    spec = idle_spec(KIND, "token acceptance matrix", rating)

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test)

    return [Step(test.id, KIND, spec.point, spec, positions, run, lambda o: _measurements(o, test),
                 duration_s=10.0, params={"port_only": False})]


def _other_pan(pan: str) -> str:
    """The PAN of the next meter (DRN + 1)."""
    iin = pan[:6] if pan.startswith("600727") else pan[:4]
    drn = pan[len(iin):17]
    return make_pan(iin, f"{(int(drn) + 1) % 10 ** len(drn):0{len(drn)}d}")


def _corrupt(token: str, key: int) -> str:
    """The token with one digit changed so that it is still a 66-bit number and its CRC fails."""
    for i in range(len(token) - 1, 0, -1):
        for d in "1234567890":
            bad = token[:i] + d + token[i + 1:]
            if bad == token:
                continue
            try:
                decode_token(bad, key)
            except TokenError as exc:
                if exc.reason.startswith("CRC"):
                    return bad
    raise AssertionError("no single-digit corruption of the token fails its CRC")


def _tokens(v: Vending, test: TokenAcceptanceTest, now: Any) -> dict[str, str | None]:
    """The token of each case (None: not applicable on this meter)."""
    keys, amount = v.keys, test.amount_kwh
    out: dict[str, str | None] = {}
    valid = v.credit(amount, now, random=1)
    out["valid"] = valid
    out["replayed"] = valid
    # TID 0, the base date's first minute: older than anything the meter remembers once the valid token is in
    out["old_tid"] = v.credit(amount, now, random=2, tid=0)
    out["wrong_meter"] = v.credit(amount, now, random=3, key=other_meter_key(keys, v.krn, v.base_date,
                                                                             pan=_other_pan(keys.pan)))
    out["wrong_supply_group"] = v.credit(amount, now, random=4, key=other_meter_key(
        keys, v.krn, v.base_date, sgc=f"{(int(keys.sgc) + 1) % 1_000_000:06d}"))
    out["wrong_key_revision"] = v.credit(amount, now, random=5, key=other_meter_key(
        keys, v.krn % 9 + 1, v.base_date))
    out["corrupted_digit"] = _corrupt(v.credit(amount, now, random=6), v.decoder_key)
    out["key_expired"] = (None if v.ken == 255
                          else v.credit(amount, now, random=7, tid=(v.ken + 1) << 16, expiry=255))
    out["wrong_class"] = v.credit(amount, now, random=8, subclass=1)  # water credit
    return {c: out[c] for c in CASES if c in test.cases}  # in the matrix's order: the replay after the valid token


def _run(session: RunContext, task: Step, test: TokenAcceptanceTest) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    runner_of(session).energise(task.spec)
    broken: dict[int, str] = {}
    found: dict[int, dict[str, Any]] = {}
    for p in task.positions:
        try:
            account = Account(bench, p)
            tokens = _tokens(vending_of(bench, p, account), test, clock.utc())
            cases = {case: {"applicable": False} if token is None else {"applicable": True,
                                                                         **account.enter_counted(token)}
                     for case, token in tokens.items()}
        except (BenchFault, TokenError) as exc:
            broken[p] = f"token acceptance: {exc}"
            continue
        found[p] = {"cases": json.dumps(cases)}  # one results column, whatever the cases hold
    return [outcome(bench, p, broken, found.get(p)) for p in task.positions]


def _measurements(o: PositionOutcome, test: TokenAcceptanceTest) -> list[Measurement]:
    out = []
    res = test.credit_resolution_wh
    for case, c in json.loads(o.extra["cases"]).items():
        if not c["applicable"]:
            continue
        want = CASES[case]
        status, got = c["status"], c["result"]
        name = case.replace("_", " ")
        out.append(Measurement(f"{case}: token status", status == want, text=said(
            f"{name}: {got}", f"{name}: the meter answered {got}, expected status {want}")))
        expected_wh = test.amount_kwh * 1000.0 if want == 3 else 0.0
        changed = f"{name}: credit changed by {c['credited_wh']:g} Wh"
        out.append(Measurement(f"{case}: credit change", c["credited_wh"] - expected_wh, "Wh", -res, res,
                               text=said(changed, f"{changed}, expected {expected_wh:g} Wh")))
    return out
