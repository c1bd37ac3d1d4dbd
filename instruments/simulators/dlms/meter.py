"""The COSEM objects of one simulated meter, read from and written to the physics world's :class:`Meter`.

Objects and OBIS codes as reference/smart-functions.md lists them (IEC 62056-6-1 / -6-2, Blue Book): Association
LN 0.0.40.0.0.255, logical device name 0.0.42.0.0.255, serial 0.0.96.1.0.255, Clock 0.0.1.0.0.255, energy
registers 1.0.1.8.0/1/2.255 and 1.0.2.8.0.255, instantaneous voltage, current, power and frequency, number of power
failures 0.0.96.7.0.255, AMR profile status 0.0.96.10.1.255, invocation counter 0.0.43.1.0.255 and the load profile
1.0.99.1.0.255 with selective access by range and by entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from instruments.dlms.acse import Mechanism
from instruments.dlms.apdu import DataAccessResult, Selection
from instruments.dlms.axdr import BitString, Data, Tag
from instruments.dlms.cosem import CosemDateTime, Obis, ScalerUnit, Unit
from instruments.simulators.dlms import (
    calendar_objects,
    clock_object,
    demand,
    disconnect,
    event_logs,
    payment,
    power_quality,
    profile_generic,
)
from instruments.simulators.dlms.objects import (
    AccessError,
    Attribute,
    Caller,
    CosemObject,
    Method,
    ObjectDirectory,
    register,
)
from instruments.simulators.world.profile import ProfileEntry

if TYPE_CHECKING:
    from instruments.simulators.dlms.association import ServerAssociation
    from instruments.simulators.world.events import EventLogs
    from instruments.simulators.world.tou import TimeOfUse

CLOCK = Obis(0, 0, 1, 0, 0, 255)
LOAD_PROFILE = Obis(1, 0, 99, 1, 0, 255)
PROFILE_STATUS = Obis(0, 0, 96, 10, 1, 255)
INVOCATION_COUNTER = Obis(0, 0, 43, 1, 0, 255)
ENERGY = {Obis(1, 0, 1, 8, 0): "1.8.0", Obis(1, 0, 1, 8, 1): "1.8.1", Obis(1, 0, 1, 8, 2): "1.8.2",
          Obis(1, 0, 2, 8, 0): "2.8.0"}
#: voltage and current of L1, L2, L3 (OBIS C = 32/52/72 and 31/51/71, D = 7 instantaneous)
_PHASE_C = ((32, 31), (52, 51), (72, 71))
#: joint-iso-ctt 2, country 16, country-name 756, identified-organization 5, DLMS UA 8 (Blue Book 4.4.3)
_DLMS_UA = (2, 16, 756, 5, 8)


class WorldMeter(Protocol):
    """What the COSEM objects need from the world's Meter."""

    serial: str
    manufacturer: str
    registers: dict[str, float]
    profile: Any
    tou: TimeOfUse
    events: EventLogs

    def clock_datetime(self) -> dt.datetime: ...
    def set_clock(self, when: dt.datetime) -> None: ...
    def instantaneous(self) -> tuple[list[tuple[float, float]], float]: ...
    def power_now(self) -> float: ...
    @property
    def power_failures(self) -> int: ...
    @property
    def port_alive(self) -> bool: ...
    @property
    def failure_mode(self) -> str | None: ...


def system_title(manufacturer: str, serial: str) -> bytes:
    """Manufacturer ID (3 ASCII letters) and 5 octets derived from the serial (Green Book 9.2.4.8.2: the
    system title carries the manufacturer ID and a unique number)."""
    return manufacturer.upper().encode("ascii")[:3] + hashlib.sha256(serial.encode()).digest()[:5]


def register_wh(kwh: float) -> int:
    """What an energy register shows: whole Wh counted so far (truncated, as the IEC 62056-21 port shows it, after
    rounding to 1 µWh), rolled over like a 32-bit counter."""
    return math.floor(round(kwh * 1000.0, 6)) % 2**32



def _data(ln: Obis, read: Callable[[], Data], write: Callable[[Data], None] | None = None) -> CosemObject:
    """Data IC 1 version 0 (Blue Book 4.3.1)."""
    setter = None if write is None else (lambda _c, v: write(v))
    return CosemObject(1, 0, ln, {2: Attribute(get=lambda _c, _s: read(), set=setter)})


def _scaled(value: float, scaler: int, make: Callable[[int], Data], limit: int) -> Data:
    raw = math.floor(value / 10.0 ** scaler + 0.5)
    return make(max(0, min(raw, limit)))


class MeterCosem:
    """The logical device (server SAP 1) of one meter: its objects and the time zone of its clock."""

    def __init__(self, meter: WorldMeter, time_zone_min: int = 0, counters: Any = None) -> None:
        self.meter = meter
        meter.tou.set_time_zone(time_zone_min)  # time zone and DST live in the meter's time-keeping (world.tou)
        self.counters = counters
        self.directory = ObjectDirectory()
        self._build()

    @property
    def time_zone_min(self) -> int:
        """Clock time_zone (UTC − local normal time, minutes), as the meter's time-keeping holds it."""
        return self.meter.tou.time_zone_min

    # -- time ---------------------------------------------------------------------------------------
    def local(self, utc: dt.datetime) -> dt.datetime:
        """The meter's local time with its deviation (time zone and DST as its clock has them then)."""
        return self.meter.tou.local(utc)

    def now_data(self) -> Data:
        utc = self.meter.clock_datetime()
        return CosemDateTime.from_datetime(self.local(utc), self.meter.tou.clock_status(utc.timestamp())).to_data()

    def _set_time(self, value: Data) -> None:
        try:
            cdt = CosemDateTime.from_data(value)
            if cdt.deviation is None:
                cdt = CosemDateTime(cdt.year, cdt.month, cdt.day, cdt.weekday, cdt.hour, cdt.minute, cdt.second,
                                    cdt.hundredths, self.meter.tou.deviation_now(), cdt.status)
            when = cdt.to_datetime()
        except ValueError as exc:
            raise AccessError(DataAccessResult.TYPE_UNMATCHED, f"clock time: {exc}") from None
        self.meter.set_clock(when.astimezone(dt.UTC))

    def _entry_data(self, e: ProfileEntry) -> Data:
        when = self.local(dt.datetime.fromtimestamp(e.posix, dt.UTC))
        return Data.structure([
            CosemDateTime.from_datetime(when).to_data(),
            Data.uint8(e.status),
            Data.uint32(register_wh(e.import_kwh)),
            Data.uint32(register_wh(e.export_kwh)),
        ])

    # -- objects ------------------------------------------------------------------------------------
    def _build(self) -> None:
        m, d = self.meter, self.directory
        d.add(self._association())
        ldn = (m.manufacturer.upper() + m.serial).encode("ascii")[:16]
        d.add(_data(Obis(0, 0, 42, 0, 0), lambda: Data.octets(ldn)))
        d.add(_data(Obis(0, 0, 96, 1, 0), lambda: Data.visible(m.serial)))
        d.add(clock_object.clock(self))
        wh = ScalerUnit(0, Unit.WATT_HOUR)
        for ln, reg in ENERGY.items():
            d.add(register(ln, self._energy(reg), wh))
        values_volt = ScalerUnit(-1, Unit.VOLT)
        values_amp = ScalerUnit(-3, Unit.AMPERE)
        for element in range(len(m.instantaneous()[0])):
            c_u, c_i = _PHASE_C[element]
            d.add(register(Obis(1, 0, c_u, 7, 0), self._phase(element, 0, values_volt, 0xFFFF), values_volt))
            d.add(register(Obis(1, 0, c_i, 7, 0), self._phase(element, 1, values_amp, 0xFFFFFFFF), values_amp))
        watt = ScalerUnit(-1, Unit.WATT)
        d.add(register(Obis(1, 0, 1, 7, 0), lambda: _scaled(max(m.power_now(), 0.0), -1, Data.uint32, 2**32 - 1),
                        watt))
        d.add(register(Obis(1, 0, 2, 7, 0), lambda: _scaled(max(-m.power_now(), 0.0), -1, Data.uint32, 2**32 - 1),
                        watt))
        hz = ScalerUnit(-2, Unit.HERTZ)
        d.add(register(Obis(1, 0, 14, 7, 0), lambda: _scaled(m.instantaneous()[1], -2, Data.uint16, 0xFFFF), hz))
        d.add(_data(Obis(0, 0, 96, 7, 0), lambda: Data.uint16(min(m.power_failures, 0xFFFF))))
        d.add(_data(PROFILE_STATUS, lambda: Data.uint8(self._status_now())))
        d.add(_data(INVOCATION_COUNTER, lambda: Data.uint32(self._counter())))
        d.add(self._load_profile())
        for obj in disconnect.objects(self):  # Disconnect control 0.0.96.3.10.255, Limiter 0.0.17.0.0.255
            d.add(obj)
        for obj in [*calendar_objects.objects(self), *event_logs.objects(self)]:  # TOU calendar, event logs
            d.add(obj)
        for obj in demand.objects(self):  # Extended Register: maximum demand 1.0.1.6.0.255
            d.add(obj)
        for obj in payment.objects(self):  # a payment meter's Account, Credits, Charges and Token Gateway
            d.add(obj)
        for obj in power_quality.objects(self):  # THD, harmonics, dip / swell / interruption counts and log
            d.add(obj)

    def _counter(self) -> int:
        """The last invocation counter accepted from the management client (its next message must exceed it)."""
        if self.counters is None:
            return 0
        return int(self.counters.received.get(1, 0))

    def _status_now(self) -> int:
        return int(self.meter.profile.pending)

    def _energy(self, reg: str) -> Callable[[], Data]:
        return lambda: Data.uint32(register_wh(self.meter.registers.get(reg, 0.0)))

    def _phase(self, element: int, which: int, su: ScalerUnit, limit: int) -> Callable[[], Data]:
        make = Data.uint16 if limit == 0xFFFF else Data.uint32

        def read() -> Data:
            values = self.meter.instantaneous()[0]
            return _scaled(values[element][which], su.scaler, make, limit)
        return read

    def _association(self) -> CosemObject:
        """Association LN IC 15 version 1 (Blue Book 4.4.3) as seen by the asking association."""
        def assoc(c: Caller) -> ServerAssociation:
            return c  # type: ignore[return-value]  # the server's association is the caller

        def context(_c: Caller, _s: Selection | None) -> Data:
            ctx = 3 if assoc(_c).mechanism is Mechanism.HLS_GMAC else 1
            return _id_structure((*_DLMS_UA, 1, ctx))

        def mechanism(_c: Caller, _s: Selection | None) -> Data:
            return _id_structure((*_DLMS_UA, 2, int(assoc(_c).mechanism)))

        def xdlms(_c: Caller, _s: Selection | None) -> Data:
            a = assoc(_c)
            return Data.structure([
                Data(Tag.BIT_STRING, BitString(int(a.conformance).to_bytes(3, "big"), 24)),
                Data.uint16(1024), Data.uint16(min(a.client_max_pdu, 0xFFFF)), Data.uint8(6), Data.int8(0),
                Data.octets(b""),
            ])

        return CosemObject(15, 1, Obis(0, 0, 40, 0, 0), {
            2: Attribute(get=lambda c, _s: self.directory.object_list(c)),
            3: Attribute(get=lambda c, _s: Data.structure([Data.int8(c.client_sap), Data.uint16(1)])),
            4: Attribute(get=context),
            5: Attribute(get=xdlms),
            6: Attribute(get=mechanism),
            8: Attribute(get=lambda c, _s: Data.enum(int(assoc(c).state))),
        }, {
            1: Method(lambda c, v: assoc(c).reply_to_hls(v), writes=False),
        })

    # -- load profile (Profile Generic IC 7 version 1, Blue Book 4.3.6) --------------------------------
    def _capture_objects(self) -> list[tuple[int, Obis, int]]:
        return [(8, CLOCK, 2), (1, PROFILE_STATUS, 2), (3, Obis(1, 0, 1, 8, 0), 2), (3, Obis(1, 0, 2, 8, 0), 2)]

    def _load_profile(self) -> CosemObject:
        profile = self.meter.profile
        return profile_generic.profile_generic(
            LOAD_PROFILE, self._capture_objects(), lambda: profile.entries, self._entry_data,
            lambda: int(profile.period_s), lambda: profile.entries.maxlen or 0, profile.entries.clear)


def _id_structure(parts: tuple[int, ...]) -> Data:
    """context_name / mechanism_name as a structure of unsigneds (country name a long-unsigned)."""
    return Data.structure(Data.uint16(v) if i == 2 else Data.uint8(v) for i, v in enumerate(parts))
