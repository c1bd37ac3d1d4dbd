"""A meter's clock over its port, against the bench's reference time: read at its seconds tick, and set.

The readout shows whole seconds, so one reading says the offset only to ±1 s. Polling the time register until its
seconds change times the tick itself: the tick lies between the previous reading's request and this reading's
reply, so the offset is known to half that interval (one poll plus one port exchange). Twice over a day that
resolves a drift of a few hundredths of a second per day, well inside IEC 62054-21's ±0.5 s/day.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from instruments.drivers.errors import BenchFault
from instruments.drivers.iec62056 import value_of

#: a clock that has not ticked within this many seconds of polling is stopped (or the port is not answering)
TICK_TIMEOUT_S = 3.0


class ClockUnreadable(BenchFault):
    """The meter's clock gave no usable reading."""


@dataclass(frozen=True)
class ClockReading:
    """The meter's time at one of its seconds ticks and the reference time of that instant."""

    meter_time: datetime  # aware
    reference_time: datetime  # aware, UTC: the middle of the interval the tick was found in
    half_width_s: float  # the tick lies within ± this of ``reference_time``
    bench_time_s: float  # the bench clock at ``reference_time``

    @property
    def offset_s(self) -> float:
        """Meter minus reference: positive when the meter is ahead."""
        return (self.meter_time - self.reference_time).total_seconds()

    @property
    def standard_uncertainty_s(self) -> float:
        """The tick is equally likely anywhere in its interval (rectangular: half width / √3)."""
        return self.half_width_s / math.sqrt(3.0)


@contextlib.contextmanager
def port_session(port: Any) -> Iterator[Any]:
    """One programming session for a burst of requests where the driver has one (IEC 62056-21: sign-on and
    password once, then R1/W1 at the exchange rate), else the port itself (one sign-on per request)."""
    programming = getattr(port, "programming", None)
    if programming is None:
        yield port
        return
    with programming() as session:
        yield session


def parse_meter_time(time_text: str, date_text: str, zone: ZoneInfo) -> datetime:
    """``hh:mm:ss`` and ``YY-MM-DD`` (the readout's 0.9.1 / 0.9.2) in the meter's zone, as an aware datetime."""
    try:
        t = time.fromisoformat(value_of(time_text))
        yy, mm, dd = (int(x) for x in value_of(date_text).split("-"))
        return datetime.combine(date(2000 + yy, mm, dd), t, tzinfo=zone)
    except ValueError as exc:
        raise ClockUnreadable("meter port", f"clock reading {time_text!r} {date_text!r}: {exc}") from None


def reference_at(clock: Any) -> Callable[[float], datetime]:
    """Bench time (``clock.now()`` seconds) → reference time of day (UTC)."""
    utc, now = clock.utc(), clock.now()
    return lambda t: utc + timedelta(seconds=t - now)


def read_at_tick(port: Any, clock: Any, zone: ZoneInfo, *, poll_s: float, time_register: str = "0.9.1",
                 date_register: str = "0.9.2") -> ClockReading:
    """The meter's time at its next seconds tick and the reference time of that instant."""
    ref = reference_at(clock)
    with port_session(port) as s:
        asked = started = clock.now()
        last = s.read(time_register)
        while True:
            clock.sleep(poll_s)
            before = clock.now()
            now_text = s.read(time_register)
            after = clock.now()
            if value_of(now_text) != value_of(last):
                break
            if after - started > TICK_TIMEOUT_S:
                raise ClockUnreadable("meter port", f"the meter's clock stayed at {value_of(last)} for "
                                      f"{after - started:.1f} s (stopped?)")
            asked, last = before, now_text
        day = s.read(date_register)
    meter = parse_meter_time(now_text, day, zone)
    middle = (asked + after) / 2
    return ClockReading(meter, ref(middle), (after - asked) / 2, middle)


def set_to_reference(port: Any, clock: Any, zone: ZoneInfo, *, time_register: str = "0.9.1",
                     date_register: str = "0.9.2") -> datetime:
    """Set the meter's clock to the reference time: the time written at the instant the reference reaches that whole
    second (the meter's seconds restart at the write), then the date. Time first: whatever time of day the meter
    showed (it may be hours off), it cannot roll over midnight between the two writes; the target itself keeps
    5 s clear of midnight (moved just past it), so the date written is the day of the time written. Returns the
    time set."""
    ref = reference_at(clock)
    with port_session(port) as s:
        target = _next_second(ref(clock.now())) + timedelta(seconds=1)
        local = target.astimezone(zone)
        if local.time() >= time(23, 59, 55) or local.time() < time(0, 0, 1):
            target += timedelta(seconds=10)
            local = target.astimezone(zone)
        wait = (target - ref(clock.now())).total_seconds()
        if wait > 0:
            clock.sleep(wait)
        s.write(time_register, local.strftime("%H:%M:%S"))
        s.write(date_register, local.strftime("%y-%m-%d"))
    return target


def _next_second(t: datetime) -> datetime:
    whole = t.replace(microsecond=0)
    return whole if whole == t else whole + timedelta(seconds=1)


def drift_s_per_day(first: ClockReading, second: ClockReading) -> tuple[float, float]:
    """Drift (s/day, positive: the meter gains) between two readings, and its expanded uncertainty (k = 2)."""
    days = (second.reference_time - first.reference_time).total_seconds() / 86400.0
    if days <= 0:
        raise ValueError("the second clock reading must come after the first")
    drift = (second.offset_s - first.offset_s) / days
    u = math.hypot(first.standard_uncertainty_s, second.standard_uncertainty_s) / days
    return drift, 2.0 * u


def utc(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds")
