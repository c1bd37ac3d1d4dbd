"""The meter's electricity memory: the load profile captured at the end of every capture period of its own clock
(DLMS Profile Generic 1.0.99.1.0.255, IEC 62056-6-2 4.3.6; status bits as the IDIS / DLMS UA 1000-1 AMR profile
status 0.0.96.10.1.255: bit 7 power down, bit 5 clock adjusted, bit 3 daylight saving, bit 2 data not valid).

Captures are made inside the world's integration segments by interpolating the (linear) energy, so a load profile
adds no segment and no event to the physics. A capture instant missed while the meter was down is filled at
power-up with the registers it had (no energy is registered while down) and the power-down bit set, unless the
meter type has the fault ``profile_gap_on_power_failure`` (a meter that loses those intervals).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

STATUS_CRITICAL_ERROR = 0x01
STATUS_CLOCK_INVALID = 0x02
STATUS_DATA_NOT_VALID = 0x04
STATUS_DST = 0x08
STATUS_CLOCK_ADJUSTED = 0x20
STATUS_POWER_DOWN = 0x80


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """One capture: the meter's clock (UTC POSIX seconds, on the period grid), its status, energies in kWh."""

    posix: float
    status: int
    import_kwh: float
    export_kwh: float


class LoadProfile:
    def __init__(self, period_s: float, depth: int, gap_on_power_failure: bool = False) -> None:
        self.period_s = period_s
        self.entries: deque[ProfileEntry] = deque(maxlen=depth)
        self.gap_on_power_failure = gap_on_power_failure
        #: status bits collected for the next entry (an event during the interval it closes)
        self.pending = 0
        #: meter-clock instant of the last capture slot handled (captured or filled); None: none yet
        self.last_slot: float | None = None

    def next_slot(self, posix: float) -> float:
        """First capture instant strictly after ``posix`` (captures sit at whole multiples of the period)."""
        p = self.period_s
        return (posix // p + 1) * p

    def capture(self, posix: float, import_kwh: float, export_kwh: float, status: int = 0) -> None:
        self.entries.append(ProfileEntry(posix, status | self.pending, import_kwh, export_kwh))
        self.pending = 0
        self.last_slot = posix

    def fill_after_outage(self, now_posix: float, import_kwh: float, export_kwh: float) -> int:
        """At power-up: the slots missed since the last one handled get an entry with the power-down bit (or
        nothing, for a faulty meter); returns how many slots were missed."""
        if self.last_slot is None:
            return 0
        missed = 0
        slot = self.last_slot + self.period_s
        while slot <= now_posix:
            if not self.gap_on_power_failure:
                self.capture(slot, import_kwh, export_kwh, STATUS_POWER_DOWN)
            missed += 1
            slot += self.period_s
        if self.gap_on_power_failure and missed:
            self.last_slot = slot - self.period_s
        self.pending |= STATUS_POWER_DOWN
        return missed
