#!/usr/bin/env python3
"""Read a payment meter's DLMS payment objects with the Gurux client (gurux-dlms, GPL-2.0) -- a test-time checker.

Run only as a subprocess::

    python tests/dlms_checkers/gurux_payment.py '{"port": 4059}'

Takes the JSON config of ``gurux_client.py`` (README.md in this folder). With no ``ops`` it reads Account
0.0.19.0.0.255 attributes 2, 5 and 15, Charge 0.0.19.20.0.255 attribute 5 and Token Gateway 0.0.19.40.0.255
attribute 6; ``ops`` may instead list ``{"op": "get", "ic", "obis", "attr"}``. Each result has the value as
on the wire (``value``, ``type``, as ``gurux_client.py`` reports it) and ``parsed``: what Gurux's own class
(GXDLMSAccount, GXDLMSCharge, GXDLMSTokenGateway, GXDLMSCredit) makes of it after ``updateValue`` -- or
``parse_error`` when that class cannot take the value. Gurux is imported here (and in ``gurux_client.py``)
only; nothing in ``hil/`` or ``instruments/`` may import this file.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import run_main
from gurux_client import GuruxSession, run_session, to_json

ACCOUNT, CHARGE, TOKEN_GATEWAY = "0.0.19.0.0.255", "0.0.19.20.0.255", "0.0.19.40.0.255"
#: the reads made when the config lists no ops
DEFAULT_OPS: list[dict[str, Any]] = [
    {"op": "get", "ic": 111, "obis": ACCOUNT, "attr": 2},
    {"op": "get", "ic": 111, "obis": ACCOUNT, "attr": 5},
    {"op": "get", "ic": 111, "obis": ACCOUNT, "attr": 15},
    {"op": "get", "ic": 113, "obis": CHARGE, "attr": 5},
    {"op": "get", "ic": 115, "obis": TOKEN_GATEWAY, "attr": 6},
]


def _plain(value: Any) -> Any:
    """An enum member as its integer, everything else as :func:`to_json` gives it."""
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), int) and not isinstance(value, int):
        return int(value.value)
    if isinstance(value, int):
        return int(value)
    return to_json(value)


def parsed(target: Any, ic: int, attr: int) -> Any:
    """What Gurux's class holds for ``attr`` after ``updateValue`` (the fields it parsed the value into)."""
    if ic == 111:
        if attr == 2:
            return [_plain(target.paymentMode), _plain(target.accountStatus)]
        if attr == 4:
            return _plain(target.currentCreditStatus)
        if attr == 5:
            return _plain(target.availableCredit)
        if attr == 15:
            c = target.currency
            return [str(c.name), _plain(c.scale), _plain(c.unit)]
    if ic == 113 and attr in (5, 6):
        u = target.unitChargeActive if attr == 5 else target.unitChargePassive
        commodity = u.commodity
        return {
            "scaling": [_plain(u.chargePerUnitScaling.commodityScale), _plain(u.chargePerUnitScaling.priceScale)],
            "commodity_index": _plain(commodity.index),
            "charge_table": [[to_json(t.index), _plain(t.chargePerUnit)] for t in u.chargeTables],
        }
    if ic == 115 and attr == 6:
        return [_plain(target.statusCode), str(target.dataValue)]
    if ic == 112:
        names = {2: "currentCreditAmount", 3: "type", 8: "status"}
        if attr in names:
            return _plain(getattr(target, names[attr]))
    return None


def op_get(session: GuruxSession, op: dict[str, Any]) -> dict[str, Any]:
    out = session.op_get(op)
    ic, attr = int(op["ic"]), int(op["attr"])
    target = session.obj(op)
    try:
        reply = session.read(target, attr)
        session.client.updateValue(target, attr, reply.value)
        out["parsed"] = parsed(target, ic, attr)
    except Exception as exc:  # what the checker is for: Gurux's class could not take our value
        out["parse_error"] = f"{type(exc).__name__}: {exc}"
    return out


def _handler(session: GuruxSession, op: dict[str, Any]) -> Any:
    """A get through Gurux's own class (this checker only reads)."""
    if op.get("op") != "get":
        return None
    return lambda o: {"ic": o.get("ic"), "obis": o.get("obis"), "attr": o.get("attr"), **op_get(session, o)}


def body(config: dict[str, Any], doc: dict[str, Any]) -> bool:
    return run_session(config, doc, _handler, DEFAULT_OPS)


if __name__ == "__main__":
    sys.exit(run_main(body, f"gurux-dlms {version('gurux-dlms')}", sys.argv))
