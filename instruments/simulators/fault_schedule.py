"""Faults scheduled on the virtual clock: at a virtual time, at the start of the N-th measured point, or at its end.

A drill must hit a run mid-point deterministically, which wall-time injection from a test thread cannot do. The
bench fires a time-scheduled fault exactly at its instant, splitting an advance there (the physics before and after
the instant stays exact); a point-scheduled fault fires when the error calculators start their N-th measurement
(``INITiate:ALL``, or a channel's ``INITiate`` while no other channel measures), i.e. inside that point; an
end-of-point fault when no channel measures any more after the N-th point started (between points, or the
teardown after the last one).
Every fired fault is logged with its virtual time and point, so the console and the run can say what happened.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class ScheduledFault:
    endpoint: str
    kind: str
    arg: float | None = None
    at_s: float | None = None  # virtual time of the clock (CLOCk:TIME?)
    point: int | None = None  # 1 = the first measured point
    after_point: int | None = None  # fires when that point's measurement has ended
    fired_at_s: float | None = None
    fired_point: int | None = None
    error: str | None = None  # the injection was refused when it fired (e.g. the endpoint has no error queue)

    def describe(self) -> dict[str, Any]:
        return asdict(self)


class FaultSchedule:
    """Pending and fired faults of one simulated bench; the bench injects, this only keeps the order."""

    def __init__(self) -> None:
        self.pending: list[ScheduledFault] = []
        self.fired: list[ScheduledFault] = []
        #: measured points started and ended so far (see the module docstring)
        self.points = 0
        self.ended = 0

    def add(self, fault: ScheduledFault, now_s: float) -> None:
        if sum(x is not None for x in (fault.at_s, fault.point, fault.after_point)) != 1:
            raise ValueError("a scheduled fault needs exactly one of a virtual time, a point or a point's end")
        if fault.at_s is not None and not (math.isfinite(fault.at_s) and fault.at_s >= now_s):
            raise ValueError(f"virtual time {fault.at_s!r} s is not ahead of the clock ({now_s!r} s)")
        if fault.point is not None and fault.point <= self.points:
            raise ValueError(f"point {fault.point} is not ahead of the points started so far ({self.points})")
        if fault.after_point is not None and fault.after_point <= self.ended:
            raise ValueError(f"the end of point {fault.after_point} is not ahead of the points ended so far"
                             f" ({self.ended})")
        self.pending.append(fault)

    def next_time(self) -> float:
        """The instant of the earliest time-scheduled fault (inf: none)."""
        return min((f.at_s for f in self.pending if f.at_s is not None), default=math.inf)

    def due_at(self, now_s: float) -> list[ScheduledFault]:
        """Remove and return the time-scheduled faults due at ``now_s``, in schedule order."""
        due = [f for f in self.pending if f.at_s is not None and f.at_s <= now_s]
        return self._take(due)

    def point_started(self) -> list[ScheduledFault]:
        """Count one more point; remove and return the faults scheduled for it."""
        self.points += 1
        return self._take([f for f in self.pending if f.point is not None and f.point <= self.points])

    def point_ended(self) -> list[ScheduledFault]:
        """Count one more ended point; remove and return the faults scheduled at its end."""
        self.ended = self.points
        return self._take([f for f in self.pending if f.after_point is not None and f.after_point <= self.ended])

    def _take(self, due: list[ScheduledFault]) -> list[ScheduledFault]:
        for f in due:
            self.pending.remove(f)
        return due

    def clear(self) -> None:
        self.pending.clear()

    def describe(self) -> dict[str, Any]:
        return {"points": self.points, "ended": self.ended, "pending": [f.describe() for f in self.pending],
                "fired": [f.describe() for f in self.fired]}
