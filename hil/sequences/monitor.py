"""Per-meter monitoring state: alive from pulses and port, register consistency, failure time and mode.

Failure time: a meter is declared failed at the first interval in which it gave no pulse after having pulsed.
It died inside the *failure interval*: that interval itself, or the interval before it when that one fell short of
the pulses expected (the meter stopped part-way). The failure interval's start is reported as ``failed_after``
(last known alive), its end as ``failed_before`` (first known dead), and its midpoint as the failure time: the
error is at most half an interval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: an interval counts as short (the meter stopped during it) below this fraction of the expected pulses
SHORT_FRACTION = 0.9


@dataclass
class MeterState:
    position: int
    constant: float  # imp/kWh
    pulsed: bool = False  # seen pulses at least once (a pulse output dead from the start is not a failure)
    prev_start: float | None = None
    prev_end: float | None = None
    prev_short: bool = False
    pulses_total: int = 0
    reg_kwh: float | None = None  # last register readout
    reg_pulses: int = 0  # pulses since that readout
    port_ok_at: float | None = None  # sequence time of the last good readout
    failed: bool = False
    mode: str | None = None
    failed_after: float | None = None
    failed_before: float | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MeterState:
        return cls(**d)

    @property
    def failure_time(self) -> float | None:
        if self.failed_after is None or self.failed_before is None:
            return None
        return (self.failed_after + self.failed_before) / 2

    def fail(self, mode: str, after: float, before: float, reason: str) -> None:
        self.failed, self.mode, self.failed_after, self.failed_before, self.reason = True, mode, after, before, reason

    def pulses_in(self, start: float, end: float, pulses: int, expected: float) -> bool:
        """Record an interval's pulse count; True when the meter just stopped pulsing (then call
        :meth:`stopped` with the port's state)."""
        self.pulses_total += pulses
        self.reg_pulses += pulses
        just_stopped = self.pulsed and not self.failed and pulses == 0 and expected >= 3
        if pulses > 0:
            self.pulsed = True
        if just_stopped:
            # the meter died in the previous interval if that one fell short, else in this one
            if self.prev_short and self.prev_start is not None and self.prev_end is not None:
                self.failed_after, self.failed_before = self.prev_start, self.prev_end
            else:
                self.failed_after, self.failed_before = start, end
        self.prev_start, self.prev_end = start, end
        self.prev_short = pulses < SHORT_FRACTION * expected
        return just_stopped

    def stopped(self, port_alive: bool) -> None:
        """Pulses stopped (window already set by :meth:`pulses_in`): dead if the port is silent too."""
        assert self.failed_after is not None and self.failed_before is not None
        mode = "no_pulses" if port_alive else "dead"
        self.fail(mode, self.failed_after, self.failed_before,
                  "pulse output stopped" + ("" if port_alive else " and the port is silent"))

    def register(self, now: float, kwh: float | None, resolution_kwh: float, tolerance_pct: float) -> None:
        """A port readout at sequence time ``now`` (None: the port did not answer)."""
        if self.failed:
            return
        if kwh is None:
            if self.pulsed or self.port_ok_at is not None:
                self.fail("port_silent", self.port_ok_at or 0.0, now, "the port stopped answering")
            return
        if self.reg_kwh is not None and self.pulsed and self.reg_pulses > 0:
            advance = kwh - self.reg_kwh
            expected = self.reg_pulses / self.constant
            allowed = 2 * resolution_kwh + 1.0 / self.constant + tolerance_pct / 100.0 * expected
            if abs(advance - expected) > allowed:
                self.fail("drift", self.port_ok_at or 0.0, now,
                          f"register advanced {advance:.4f} kWh for {self.reg_pulses} pulses "
                          f"({expected:.4f} kWh at {self.constant:g} imp/kWh; allowed ±{allowed:.4f} kWh)")
                return
        self.reg_kwh, self.reg_pulses, self.port_ok_at = kwh, 0, now
