"""Per-meter monitoring state: alive from pulses and port, register consistency, failure time and mode.

Failure time: a meter is declared failed at the first interval in which it gave no pulse after having pulsed.
It died inside the *failure interval*: that interval itself, or the interval before it when that one fell short of
the pulses expected (the meter stopped part-way). The failure interval's start is reported as ``failed_after``
(last known alive), its end as ``failed_before`` (first known dead), and its midpoint as the failure time: the
error is at most half an interval.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

#: an interval counts as short (the meter stopped during it) below this fraction of the expected pulses
SHORT_FRACTION = 0.9
#: fewer pulses than this expected in an interval or window: no pulse there is no evidence of a failure (a meter
#: may not have reached its next pulse yet)
MIN_EXPECTED_PULSES = 3.0
WS_PER_KWH = 3.6e6


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

    def expected_pulses(self, power_w: float, seconds: float) -> float:
        """Pulses the meter owes for ``power_w`` during ``seconds`` at its constant."""
        return power_w * seconds / WS_PER_KWH * self.constant

    def pulses_in(self, start: float, end: float, pulses: int, expected: float, own_window: bool = False) -> bool:
        """Record an interval's pulse count; True when the meter just stopped pulsing (then call
        :meth:`stopped` with the port's state). ``own_window``: the failure window is this one, never the one
        before (a dip's or power cycle's window: the meter did not come back from *this* disturbance, and a
        window before it may fall short by the disturbance itself)."""
        self.pulses_total += pulses
        self.reg_pulses += pulses
        just_stopped = self.pulsed and not self.failed and pulses == 0 and expected >= MIN_EXPECTED_PULSES
        if pulses > 0:
            self.pulsed = True
        if just_stopped:
            # the meter died in the previous interval if that one fell short, else in this one
            if self.prev_short and self.prev_start is not None and self.prev_end is not None and not own_window:
                self.failed_after, self.failed_before = self.prev_start, self.prev_end
            else:
                self.failed_after, self.failed_before = start, end
        self.prev_start, self.prev_end = start, end
        self.prev_short = pulses < SHORT_FRACTION * expected
        return just_stopped

    def unmonitored(self, start: float, end: float) -> None:
        """Nothing was counted from ``start`` to ``end`` (a resumed run's interruption): a meter found stopped in
        the first interval after it may have died anywhere in the gap, so the gap is its failure window."""
        self.prev_start, self.prev_end, self.prev_short = start, end, True

    def stopped(self, port_alive: bool, what: str = "") -> None:
        """Pulses stopped (window already set by :meth:`pulses_in`): dead if the port is silent too. ``what``
        says where, e.g. "after power-up 12"."""
        assert self.failed_after is not None and self.failed_before is not None
        mode = "no_pulses" if port_alive else "dead"
        self.fail(mode, self.failed_after, self.failed_before,
                  "pulse output stopped" + (f" {what}" if what else "") + ("" if port_alive else
                                                                           " and the port is silent"))

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


def monitoring_row(*, test_id: str, step: int, step_name: str, t_start_s: float, t_end_s: float, clock_s: float,
                   meter: MeterState, pulses: int, register_kwh: float | None, chamber_c: float | None,
                   setpoint_c: float | None, humidity_pct: float | None, setpoint_rh: float | None,
                   humidity_alarm: bool, chamber_alarm: bool, error_pct: float | None, window: int = 0
                   ) -> dict[str, Any]:
    """One monitoring row (one meter, one interval or disturbance window): the one schema of every part file.

    ``window``: the power cycle's number, or the dip's repetition (1 … repeat) in a dip step; 0 for a monitoring
    interval. Missing readings are NaN, never None (a column of only None would be typed null in one part)."""
    return {
        "test_id": test_id, "step": step, "step_name": step_name, "window": window, "t_start_s": t_start_s,
        "t_end_s": t_end_s, "clock_s": clock_s, "position": meter.position, "pulses": pulses,
        "register_kwh": _nan(register_kwh), "chamber_c": _nan(chamber_c), "setpoint_c": _nan(setpoint_c),
        "humidity_pct": _nan(humidity_pct), "setpoint_rh": _nan(setpoint_rh), "humidity_alarm": humidity_alarm,
        "chamber_alarm": chamber_alarm, "alive": not meter.failed, "failure_mode": meter.mode or "",
        "error_pct": _nan(error_pct),
    }


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)
