"""Extended Register (IC 4 version 0, Blue Book 4.3.3): the maximum demand import 1.0.1.6.0.255 — the largest
average active power over one capture period of the load profile since the last reset, with the instant it was
captured (capture_time) and a status (0: valid).

Derived from the meter's own electricity memory (the energy delta of consecutive load-profile entries ÷ the
period), so it agrees with what the profile shows; entries flagged power-down are skipped (a filled interval has no
measured demand).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import TYPE_CHECKING

from instruments.dlms.axdr import Data
from instruments.dlms.cosem import NOT_SPECIFIED, CosemDateTime, Obis, ScalerUnit, Unit
from instruments.simulators.dlms.objects import Attribute, Caller, CosemObject, Method
from instruments.simulators.world.profile import STATUS_POWER_DOWN

if TYPE_CHECKING:
    from instruments.simulators.dlms.meter import MeterCosem

MAXIMUM_DEMAND_IMPORT = Obis(1, 0, 1, 6, 0, 255)


def objects(cosem: MeterCosem) -> list[CosemObject]:
    profile = cosem.meter.profile
    since: list[float] = [float("-inf")]  # reset instant (meter clock, POSIX)

    def peak() -> tuple[float, float | None]:
        """(W, the capture instant of the period with the largest average import power)."""
        best, when = 0.0, None
        entries = [e for e in profile.entries if e.posix > since[0]]
        for a, b in itertools.pairwise(entries):
            if b.status & STATUS_POWER_DOWN or b.posix - a.posix != profile.period_s:
                continue
            watts = (b.import_kwh - a.import_kwh) * 3.6e6 / profile.period_s
            if watts > best:
                best, when = watts, b.posix
        return best, when

    def value(_c: Caller, _s: object) -> Data:
        return Data.uint32(min(int(peak()[0]), 2**32 - 1))  # whole W, truncated like the energy registers

    def capture_time(_c: Caller, _s: object) -> Data:
        when = peak()[1]
        if when is None:
            return NOT_SPECIFIED.to_data()
        return CosemDateTime.from_datetime(cosem.local(dt.datetime.fromtimestamp(when, dt.UTC))).to_data()

    def reset(_c: Caller, _v: Data | None) -> None:
        since[0] = cosem.meter.clock_datetime().timestamp()

    su = ScalerUnit(0, Unit.WATT)
    return [CosemObject(4, 0, MAXIMUM_DEMAND_IMPORT, {
        2: Attribute(get=value),
        3: Attribute(get=lambda _c, _s: su.to_data()),
        4: Attribute(get=lambda _c, _s: Data.uint8(0)),
        5: Attribute(get=capture_time),
    }, {1: Method(reset)})]
