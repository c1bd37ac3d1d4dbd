"""COSEM naming and common values: OBIS codes, date-time, scaler and unit (IEC 62056-6-1, -6-2; Blue Book).

Pure data: no bench, no sockets. Used by the simulated meters and by MeterHIL's DLMS client alike.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from dataclasses import dataclass
from enum import IntEnum

from instruments.dlms.axdr import Data, Tag

_OBIS = re.compile(r"(\d{1,3})[.-](\d{1,3})[.:](\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:[.*](\d{1,3}))?")


@dataclass(frozen=True, order=True)
class Obis:
    """A logical name: six value groups A-B:C.D.E*F (IEC 62056-6-1:2017 4); text form ``a.b.c.d.e.f``."""

    a: int
    b: int
    c: int
    d: int
    e: int
    f: int = 255

    def __post_init__(self) -> None:
        for name in "abcdef":
            v = getattr(self, name)
            if not 0 <= v <= 255:
                raise ValueError(f"OBIS value group {name.upper()} must be 0…255, got {v}")

    @classmethod
    def parse(cls, text: str) -> Obis:
        """``1.0.1.8.0.255``, ``1-0:1.8.0*255`` or ``1-0:1.8.0`` (F = 255)."""
        m = _OBIS.fullmatch(text.strip())
        if m is None:
            raise ValueError(f"not an OBIS code: {text!r} (expected e.g. 1.0.1.8.0.255 or 1-0:1.8.0*255)")
        groups = [int(g) for g in m.groups() if g is not None]
        return cls(*groups)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Obis:
        if len(raw) != 6:
            raise ValueError(f"a logical name is 6 octets, got {len(raw)}")
        return cls(*raw)

    def __bytes__(self) -> bytes:
        return bytes((self.a, self.b, self.c, self.d, self.e, self.f))

    def __str__(self) -> str:
        return f"{self.a}.{self.b}.{self.c}.{self.d}.{self.e}.{self.f}"

    @property
    def reduced(self) -> str:
        """The IEC 62056-21 address (C.D.E) the same quantity has on a mode C port, e.g. ``1.8.0``."""
        return f"{self.c}.{self.d}.{self.e}"


class Unit(IntEnum):
    """Unit enumeration of the Register scaler_unit (IEC 62056-6-2:2021 4.3.2, table of units; subset)."""

    YEAR = 1
    MONTH = 2
    WEEK = 3
    DAY = 4
    HOUR = 5
    MINUTE = 6
    SECOND = 7
    DEGREE = 8
    CELSIUS = 9
    CURRENCY = 10
    WATT = 27
    VOLT_AMPERE = 28
    VAR = 29
    WATT_HOUR = 30
    VOLT_AMPERE_HOUR = 31
    VAR_HOUR = 32
    AMPERE = 33
    VOLT = 35
    HERTZ = 44
    PERCENT = 56
    OTHER = 254
    COUNT = 255


UNIT_SYMBOLS: dict[Unit, str] = {
    Unit.YEAR: "a", Unit.MONTH: "mo", Unit.WEEK: "wk", Unit.DAY: "d", Unit.HOUR: "h", Unit.MINUTE: "min",
    Unit.SECOND: "s", Unit.DEGREE: "°", Unit.CELSIUS: "°C", Unit.CURRENCY: "currency", Unit.WATT: "W",
    Unit.VOLT_AMPERE: "VA", Unit.VAR: "var", Unit.WATT_HOUR: "Wh", Unit.VOLT_AMPERE_HOUR: "VAh",
    Unit.VAR_HOUR: "varh", Unit.AMPERE: "A", Unit.VOLT: "V", Unit.HERTZ: "Hz", Unit.PERCENT: "%",
    Unit.OTHER: "", Unit.COUNT: "",
}


@dataclass(frozen=True)
class ScalerUnit:
    """Register attribute 3: value × 10^scaler is the quantity in ``unit`` (Blue Book 4.3.2)."""

    scaler: int
    unit: int

    def to_data(self) -> Data:
        return Data.structure([Data.int8(self.scaler), Data.enum(self.unit)])

    @classmethod
    def from_data(cls, d: Data) -> ScalerUnit:
        if d.tag is not Tag.STRUCTURE or len(d) != 2:
            raise ValueError(f"scaler_unit must be a structure of 2, got {d.tag.name.lower()}")
        return cls(int(d[0].value), int(d[1].value))

    @property
    def symbol(self) -> str:
        try:
            return UNIT_SYMBOLS[Unit(self.unit)]
        except ValueError:
            return f"unit {self.unit}"

    def apply(self, raw: float) -> float:
        """raw × 10^scaler, divided for a negative scaler: 2301 with scaler −1 is the double nearest 230.1."""
        return raw * 10.0 ** self.scaler if self.scaler >= 0 else raw / 10.0 ** -self.scaler


# -- date-time (Blue Book 4.1.6.1) ---------------------------------------------------------------------
#: clock_status bits (Blue Book 4.1.6.1)
STATUS_INVALID = 0x01
STATUS_DOUBTFUL = 0x02
STATUS_DIFFERENT_BASE = 0x04
STATUS_INVALID_STATUS = 0x08
STATUS_DST = 0x80
NOT_SPECIFIED_DEVIATION = -0x8000


@dataclass(frozen=True)
class CosemDateTime:
    """The 12-octet date-time with its "not specified" fields as None (wildcards of a DST rule or a special day).

    ``deviation`` is in minutes as on the wire; IEC 62056-6-2 defines it from local time to UTC, i.e.
    UTC − local (−60 for CET). Clients differ here (Gurux calls the opposite sign "UTC to normal time"); status U in
    reference/smart-functions.md, so the tests read our clock with independent clients.
    """

    year: int | None
    month: int | None  # 1…12, 0xFE begin / 0xFD end of DST
    day: int | None  # 1…31, 0xFE last / 0xFD second last day of month
    weekday: int | None  # 1 Monday … 7 Sunday
    hour: int | None
    minute: int | None
    second: int | None
    hundredths: int | None = 0
    deviation: int | None = None
    status: int | None = None

    def encode(self) -> bytes:
        def b(v: int | None) -> int:
            return 0xFF if v is None else v

        year = 0xFFFF if self.year is None else self.year
        dev = NOT_SPECIFIED_DEVIATION if self.deviation is None else self.deviation
        return struct.pack(
            ">HBBBBBBBhB", year, b(self.month), b(self.day), b(self.weekday), b(self.hour), b(self.minute),
            b(self.second), b(self.hundredths), dev, b(self.status),
        )

    @classmethod
    def decode(cls, raw: bytes) -> CosemDateTime:
        if len(raw) != 12:
            raise ValueError(f"a COSEM date-time is 12 octets, got {len(raw)}")
        y, mo, d, wd, h, mi, s, hs, dev, st = struct.unpack(">HBBBBBBBhB", raw)

        def n(v: int) -> int | None:
            return None if v == 0xFF else v

        return cls(
            None if y == 0xFFFF else y, n(mo), n(d), n(wd), n(h), n(mi), n(s), n(hs),
            None if dev == NOT_SPECIFIED_DEVIATION else dev, n(st),
        )

    @classmethod
    def from_datetime(cls, when: dt.datetime, status: int = 0) -> CosemDateTime:
        """An aware datetime as local time with its deviation (UTC − local, minutes)."""
        offset = when.utcoffset()
        if offset is None:
            raise ValueError("a COSEM date-time needs an aware datetime (its deviation from UTC)")
        return cls(
            when.year, when.month, when.day, when.isoweekday(), when.hour, when.minute, when.second,
            when.microsecond // 10_000, -int(offset.total_seconds() // 60), status,
        )

    def to_datetime(self) -> dt.datetime:
        """The instant, as an aware datetime in the local time it was given in; ValueError on wildcards."""
        fields = (self.year, self.month, self.day, self.hour, self.minute, self.second)
        if any(v is None for v in fields) or self.deviation is None:
            raise ValueError(f"date-time {self} has unspecified fields: not one instant")
        assert self.year is not None and self.month is not None and self.day is not None
        assert self.hour is not None and self.minute is not None and self.second is not None
        tz = dt.timezone(dt.timedelta(minutes=-self.deviation))
        micro = (self.hundredths or 0) * 10_000
        return dt.datetime(self.year, self.month, self.day, self.hour, self.minute, self.second, micro, tzinfo=tz)

    def to_data(self) -> Data:
        """As the Clock's time attribute carries it: an octet-string of 12 (Blue Book 4.5.1)."""
        return Data.octets(self.encode())

    @classmethod
    def from_data(cls, d: Data) -> CosemDateTime:
        if d.tag not in (Tag.OCTET_STRING, Tag.DATE_TIME):
            raise ValueError(f"a date-time is an octet-string or date-time, got {d.tag.name.lower()}")
        return cls.decode(bytes(d.value))


#: a date-time with every field not specified (an activation time not set, a capture that never happened)
NOT_SPECIFIED = CosemDateTime(None, None, None, None, None, None, None, None, None, None)


def datetime_data(when: dt.datetime, status: int = 0) -> Data:
    return CosemDateTime.from_datetime(when, status).to_data()
