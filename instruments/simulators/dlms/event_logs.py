"""Event logs of a simulated meter (Profile Generic IC 7 v1, Blue Book 4.3.6): the standard event log
0.0.99.98.0.255 with its event code Data 0.0.96.11.0.255, and the power quality / power failure event log
0.0.99.98.1.255 with 0.0.96.11.1.255. Each entry is {clock 0.0.1.0.0.255 attribute 2, event code (unsigned)};
capture_period 0 (asynchronous: an entry per event), sort fifo, selective access by range (the clock column) and
by entry as the load profile. The clock column shows the meter's local time with the deviation its clock had when it
logged the event (and status bit 0x80 then in DST). The world records the events
(:mod:`instruments.simulators.world.events`, where the codes and their sources are).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from instruments.dlms.axdr import Data
from instruments.dlms.cosem import STATUS_DST, CosemDateTime, Obis
from instruments.simulators.dlms.objects import Attribute, CosemObject
from instruments.simulators.dlms.profile_generic import CLOCK, Column, profile_generic
from instruments.simulators.world.events import POWER_QUALITY, STANDARD, EventEntry

if TYPE_CHECKING:
    from instruments.simulators.dlms.meter import MeterCosem

STANDARD_EVENT_LOG = Obis(0, 0, 99, 98, 0, 255)
POWER_EVENT_LOG = Obis(0, 0, 99, 98, 1, 255)
STANDARD_EVENT_CODE = Obis(0, 0, 96, 11, 0, 255)
POWER_EVENT_CODE = Obis(0, 0, 96, 11, 1, 255)
LOGS = ((STANDARD, STANDARD_EVENT_LOG, STANDARD_EVENT_CODE), (POWER_QUALITY, POWER_EVENT_LOG, POWER_EVENT_CODE))


def objects(cosem: MeterCosem) -> list[CosemObject]:
    events, tou = cosem.meter.events, cosem.meter.tou

    def row(e: EventEntry) -> Data:
        offset = dt.timezone(dt.timedelta(minutes=-e.deviation_min))
        when = dt.datetime.fromtimestamp(e.posix, dt.UTC).astimezone(offset)
        status = STATUS_DST if e.deviation_min != tou.time_zone_min else 0
        return Data.structure([CosemDateTime.from_datetime(when, status).to_data(), Data.uint8(e.code)])

    def one(log: str, ln: Obis, code: Obis) -> list[CosemObject]:
        entries = events.logs[log]
        columns: list[Column] = [(8, CLOCK, 2), (1, code, 2)]
        last = CosemObject(1, 0, code, {2: Attribute(get=lambda _c, _s: Data.uint8(events.last_code(log)))})
        return [last, profile_generic(ln, columns, lambda: entries, row, lambda: 0, lambda: entries.maxlen or 0,
                                      entries.clear)]

    return [obj for log, ln, code in LOGS for obj in one(log, ln, code)]
