"""Power-quality objects of a simulated meter with PQ functions (world: :mod:`instruments.simulators.world.
power_quality`). OBIS codes after IEC 62056-6-1 value groups as meters use them (U: not checked against the OBIS
table itself):

- per element (C = 32, 52, 72 for the voltage of L1, L2, L3): THD 1.0.C.7.124.255 (Register, %, scaler −2) and the
  harmonic voltages 1.0.C.7.h.255 for h = 2 … 40 (Register, % of the fundamental, scaler −2);
- counters: dips 1.0.12.32.0.255, swells 1.0.12.36.0.255, interruptions 0.0.96.7.21.255 (Data, double-long-unsigned);
- per element Pst of the last complete 10-min interval 1.0.C.35.0.255 (Register, no unit, scaler −3; ours) and
  Plt of the last complete 2-h interval 1.0.C.36.0.255 next to it (the same pattern; ours, U: not confirmed against
  the OBIS table);
- three-phase meters: the voltage unbalance u2 (IEC 61000-4-30 5.7.1) 1.0.12.7.125.255 (Register, %, scaler −2;
  ours, U: not confirmed against the OBIS table);
- the diagnostic status 0.0.96.5.4.255 (Data, long-unsigned; bits 0-2 phase loss L1-L3, 3 reversed phase sequence,
  4-6 reversed current L1-L3; ours);
- the power-quality event log 0.0.99.98.4.255 (Profile Generic, asynchronous): {clock of the start, event code
  0.0.96.11.4.255 (1 dip, 2 swell, 3 interruption), duration 1.0.12.33.0.255 (ms), residual or maximum voltage
  1.0.12.34.0.255 (V, scaler −1)}; the three code / duration / voltage objects hold the last event's values.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from instruments.dlms.axdr import Data
from instruments.dlms.cosem import CosemDateTime, Obis, ScalerUnit, Unit
from instruments.simulators.dlms.objects import Attribute, CosemObject, register
from instruments.simulators.dlms.profile_generic import CLOCK, Column, profile_generic
from instruments.simulators.world.power_quality import DIP, INTERRUPTION, SWELL, THD_MAX_ORDER, PowerQuality, PqEvent

if TYPE_CHECKING:
    from instruments.simulators.dlms.meter import MeterCosem

PQ_EVENT_LOG = Obis(0, 0, 99, 98, 4, 255)
DIAGNOSTIC_STATUS = Obis(0, 0, 96, 5, 4, 255)
PQ_EVENT_CODE = Obis(0, 0, 96, 11, 4, 255)
PQ_DURATION = Obis(1, 0, 12, 33, 0, 255)
PQ_EXTREME = Obis(1, 0, 12, 34, 0, 255)
UNBALANCE = Obis(1, 0, 12, 7, 125, 255)
COUNTERS = {DIP: Obis(1, 0, 12, 32, 0, 255), SWELL: Obis(1, 0, 12, 36, 0, 255),
            INTERRUPTION: Obis(0, 0, 96, 7, 21, 255)}
_VOLTAGE_C = (32, 52, 72)
_PCT = ScalerUnit(-2, Unit.PERCENT)
_MS = ScalerUnit(-3, Unit.SECOND)
_DV = ScalerUnit(-1, Unit.VOLT)


def _percent(value: float) -> Data:
    return Data.uint16(max(0, min(math.floor(value * 100 + 0.5), 0xFFFF)))


def objects(cosem: MeterCosem) -> list[CosemObject]:
    """The PQ objects of ``cosem``'s meter (none if it has no PQ functions)."""
    pq: PowerQuality | None = getattr(cosem.meter, "pq", None)
    if pq is None:
        return []
    out: list[CosemObject] = []

    def thd(k: int) -> Callable[[], Data]:
        return lambda: _percent(pq.thd_pct(k))

    def harmonic(k: int, h: int) -> Callable[[], Data]:
        return lambda: _percent(pq.harmonic_pct(k, h))

    def pst(k: int) -> Callable[[], Data]:
        return lambda: Data.uint16(min(math.floor(pq.pst(k) * 1000 + 0.5), 0xFFFF))

    def plt(k: int) -> Callable[[], Data]:
        return lambda: Data.uint16(min(math.floor(pq.plt(k) * 1000 + 0.5), 0xFFFF))

    def count(code: int) -> Attribute:
        return Attribute(get=lambda _c, _s: Data.uint32(pq.counts[code]))

    for k in range(len(pq.meter.elements)):
        c = _VOLTAGE_C[k]
        out.append(register(Obis(1, 0, c, 7, 124, 255), thd(k), _PCT))
        out.append(register(Obis(1, 0, c, 35, 0, 255), pst(k), ScalerUnit(-3, Unit.COUNT)))
        out.append(register(Obis(1, 0, c, 36, 0, 255), plt(k), ScalerUnit(-3, Unit.COUNT)))
        out += [register(Obis(1, 0, c, 7, h, 255), harmonic(k, h), _PCT) for h in range(2, THD_MAX_ORDER + 1)]
    if len(pq.meter.elements) == 3:
        out.append(register(UNBALANCE, lambda: _percent(pq.unbalance_pct() or 0.0), _PCT))
    out += [CosemObject(1, 0, ln, {2: count(code)}) for code, ln in COUNTERS.items()]
    out.append(CosemObject(1, 0, DIAGNOSTIC_STATUS, {2: Attribute(get=lambda _c, _s: Data.uint16(pq.status()))}))

    def last() -> PqEvent | None:
        return pq.events[-1] if pq.events else None

    def ms(e: PqEvent) -> Data:
        return Data.uint32(min(math.floor(e.duration_s * 1000 + 0.5), 2**32 - 1))

    def dv(e: PqEvent) -> Data:
        return Data.uint16(min(math.floor(e.extreme_v * 10 + 0.5), 0xFFFF))

    out += [
        CosemObject(1, 0, PQ_EVENT_CODE, {2: Attribute(get=lambda _c, _s: Data.uint8(e.code if (e := last()) else 0))}),
        register(PQ_DURATION, lambda: ms(e) if (e := last()) else Data.uint32(0), _MS),
        register(PQ_EXTREME, lambda: dv(e) if (e := last()) else Data.uint16(0), _DV),
    ]

    def row(e: PqEvent) -> Data:
        when = cosem.local(dt.datetime.fromtimestamp(e.start_posix, dt.UTC))
        return Data.structure([CosemDateTime.from_datetime(when).to_data(), Data.uint8(e.code), ms(e), dv(e)])

    columns: list[Column] = [(8, CLOCK, 2), (1, PQ_EVENT_CODE, 2), (3, PQ_DURATION, 2), (3, PQ_EXTREME, 2)]
    out.append(profile_generic(PQ_EVENT_LOG, columns, lambda: pq.events, row, lambda: 0,
                               lambda: pq.events.maxlen or 0, pq.events.clear))
    return out
