"""The meter's event logs (DLMS Profile Generic 0.0.99.98.0.255 standard event log and 0.0.99.98.1.255 power
quality / power failure event log, each entry {clock, event code}).

Event codes as the IDIS standard event log and power quality log number them (not from the IDIS specification
itself, which is not public: from independent head-end implementations that agree, see docs/dlms-calendar-events.md
for the sources and their status): 1 power down, 2 power up, 3 daylight saving time change, 4 / 5 clock adjusted
(old / new time), 9 TOU activated, 82–84 missing voltage L1–L3, 85–87 voltage L1–L3 normal, 91 current reversal.

The world records them at their virtual instants, stamped with the meter's own clock and the deviation it had then:

- power down when the hold-up time ran out, stamped with the instant the voltage fell (the power-fail detection);
  power up at the segment start where element 1's voltage is back. A meter type with the fault
  ``event_log_misses_short_interruptions`` logs neither for an interruption shorter than
  :data:`SHORT_INTERRUPTION_S`;
- a phase's voltage missing / normal when it crosses the supply threshold (``supply_min_pct`` of Un) at a segment
  start while the meter runs; crossings during the hold-up of a failing supply are covered by the power down (they
  are logged only if the supply survives), and a power-up compares every phase with "normal" again;
- current reversal when the registered active power turns negative (once per reversal: not again until it has been
  positive);
- clock adjusted on every clock set, DST change at each DST switch, TOU activated when a passive calendar becomes
  active.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from instruments.simulators.world.meter import Meter
    from instruments.simulators.world.source import SourceState

#: an interruption shorter than this escapes a meter with the fault ``event_log_misses_short_interruptions``
SHORT_INTERRUPTION_S = 3.0
DEFAULT_DEPTH = 500
#: entries of each log the truth shows (the latest)
TRUTH_ENTRIES = 50


class EventCode(IntEnum):
    POWER_DOWN = 1
    POWER_UP = 2
    DST_CHANGE = 3
    CLOCK_ADJUSTED_OLD = 4
    CLOCK_ADJUSTED_NEW = 5
    TOU_ACTIVATED = 9
    MISSING_VOLTAGE_L1 = 82
    MISSING_VOLTAGE_L2 = 83
    MISSING_VOLTAGE_L3 = 84
    VOLTAGE_NORMAL_L1 = 85
    VOLTAGE_NORMAL_L2 = 86
    VOLTAGE_NORMAL_L3 = 87
    CURRENT_REVERSAL = 91


STANDARD = "standard"
POWER_QUALITY = "power_quality"
#: which log each code goes to (power down / up go to both)
_LOGS: dict[int, tuple[str, ...]] = {
    EventCode.POWER_DOWN: (STANDARD, POWER_QUALITY),
    EventCode.POWER_UP: (STANDARD, POWER_QUALITY),
    EventCode.DST_CHANGE: (STANDARD,),
    EventCode.CLOCK_ADJUSTED_OLD: (STANDARD,),
    EventCode.CLOCK_ADJUSTED_NEW: (STANDARD,),
    EventCode.TOU_ACTIVATED: (STANDARD,),
}


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One entry: the meter's clock (UTC POSIX), the deviation its clock showed then (UTC − local, minutes), the
    code."""

    posix: float
    deviation_min: int
    code: int


class EventLogs:
    """Both logs of one meter and the detectors feeding them (the meter calls them from its physics)."""

    def __init__(self, meter: Meter, misses_short_interruptions: bool = False, depth: int = DEFAULT_DEPTH) -> None:
        self.meter = meter
        self.misses_short = misses_short_interruptions
        self.logs: dict[str, deque[EventEntry]] = {STANDARD: deque(maxlen=depth), POWER_QUALITY: deque(maxlen=depth)}
        #: the registered power was negative in the last segment that registered any
        self.reverse_flow = False
        self._seen: Any = None
        #: per element: its voltage was normal when last looked at
        self._phase_ok = [True] * len(meter.elements)
        #: phase events seen during a hold-up (logged if the supply survives): (virtual time, code)
        self._held: list[tuple[float, EventCode]] = []
        #: a faulty meter's power down, kept until the power-up tells how long the interruption was
        self._down_at: float | None = None

    # -- recording -------------------------------------------------------------------------------
    def record(self, code: int, t: float | None = None, posix: float | None = None,
               deviation_min: int | None = None, logs: tuple[str, ...] | None = None) -> None:
        """Log ``code`` at virtual time ``t`` (default: now), or at the meter-clock instant ``posix``, in ``logs``
        (default: where :data:`_LOGS` puts it; the power quality log)."""
        m = self.meter
        if not m.alive:
            return
        if posix is None:
            posix = m.meter_posix() if t is None else m._meter_posix(t)
        dev = m.tou.deviation(posix) if deviation_min is None else deviation_min
        entry = EventEntry(posix, dev, int(code))
        for log in logs or _LOGS.get(code, (POWER_QUALITY,)):
            self.logs[log].append(entry)

    def last_code(self, log: str) -> int:
        entries = self.logs[log]
        return entries[-1].code if entries else 0

    # -- detectors (called by the meter) ------------------------------------------------------------
    def segment(self, state: SourceState, t: float) -> None:
        """At a segment start, before the meter's supply is updated: power-up and phase voltages."""
        m = self.meter
        if state is self._seen or not m.alive:
            return
        self._seen = state
        threshold = m._supply_min
        powered = state[m.elements[0] - 1].voltage_rms >= threshold
        if not m._up:
            if not powered:
                return
            self._power_up(t)
        for k, ph in enumerate(m.elements):
            ok = state[ph - 1].voltage_rms >= threshold
            if ok != self._phase_ok[k]:
                self._phase_ok[k] = ok
                code = EventCode((EventCode.VOLTAGE_NORMAL_L1 if ok else EventCode.MISSING_VOLTAGE_L1) + ph - 1)
                self._held.append((t, code))
        if powered:
            for when, code in self._held:
                self.record(code, when)
            self._held.clear()

    def _power_up(self, t: float) -> None:
        down = self._down_at
        self._down_at = None
        if down is not None:
            if t - down < SHORT_INTERRUPTION_S:
                return  # the fault: a short interruption leaves no trace
            self.record(EventCode.POWER_DOWN, down)
        self.record(EventCode.POWER_UP, t)

    def supply_lost(self, t: float) -> None:
        """The hold-up ran out at ``t``: power down, stamped when the voltage fell."""
        m = self.meter
        fell = m._low_since if m._low_since is not None else t
        self._held.clear()
        self._phase_ok = [True] * len(m.elements)
        if self.misses_short:
            self._down_at = fell
        else:
            self.record(EventCode.POWER_DOWN, fell)

    def interruption(self, t: float) -> None:
        """An injected interruption of no duration (a RESET of the port)."""
        if not self.misses_short:
            self.record(EventCode.POWER_DOWN, t)
            self.record(EventCode.POWER_UP, t)

    def flow(self, reverse: bool, t: float) -> None:
        """The sign of the registered power changed (called only then)."""
        self.reverse_flow = reverse
        if reverse:
            self.record(EventCode.CURRENT_REVERSAL, t)

    def clock_set(self, old_posix: float, new_posix: float) -> None:
        m = self.meter
        self.record(EventCode.CLOCK_ADJUSTED_OLD, posix=old_posix, deviation_min=m.tou.deviation(old_posix))
        self.record(EventCode.CLOCK_ADJUSTED_NEW, posix=new_posix, deviation_min=m.tou.deviation(new_posix))

    def truth(self, last: int = TRUTH_ENTRIES) -> dict[str, Any]:
        """Per log: how many entries it holds and the ``last`` of them (the truth stays small on long runs)."""
        out: dict[str, Any] = {}
        for log, entries in self.logs.items():
            tail = list(entries)[-last:]
            out[log] = [{"posix": e.posix, "deviation_min": e.deviation_min, "code": e.code} for e in tail]
            out[f"{log}_entries"] = len(entries)
        return out
