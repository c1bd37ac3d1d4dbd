"""Operator drills on the simulated bench served by ``hil run``: ``--sim-speed`` and ``--sim-fault``.

A fault is ``ENDPOINT:KIND[:ARG]@point=N`` (fires when the error calculators start the N-th measured point, i.e.
inside it), ``ENDPOINT:KIND[:ARG]@end=N`` (when that point's measurement has ended: between points, or the teardown
after the last) or ``ENDPOINT:KIND[:ARG]@t=SECONDS`` (at that virtual time since the epoch); kinds and endpoints as in
docs/simulation-control.md. What fired is said on the console at the end of the run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from instruments.simulators.control import FAULT_KINDS
from instruments.simulators.fault_schedule import ScheduledFault

_SPEC = re.compile(r"^(?P<ep>[A-Za-z0-9_-]+):(?P<kind>[A-Za-z]+)(?::(?P<arg>[-+0-9.eE]+))?"
                   r"@(?:point=(?P<point>[0-9]+)|end=(?P<end>[0-9]+)|t=(?P<t>[0-9.eE+]+))$")


@dataclass
class SimDrill:
    speed: float = 0.0  # virtual seconds per wall second; 0: time moves only on request (deterministic)
    faults: list[ScheduledFault] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.speed > 0 or bool(self.faults)


def parse_fault(text: str) -> ScheduledFault:
    """``--sim-fault`` text → :class:`ScheduledFault`; ValueError naming what is wrong."""
    m = _SPEC.match(text.strip())
    if m is None:
        raise ValueError(f"--sim-fault {text!r}: expected ENDPOINT:KIND[:ARG]@point=N, @end=N or @t=SECONDS"
                         " (e.g. reference:HANG@point=3)")
    kind = m["kind"].upper()
    if kind not in FAULT_KINDS:
        raise ValueError(f"--sim-fault {text!r}: unknown fault {kind!r}; have {', '.join(FAULT_KINDS)}")
    arg = float(m["arg"]) if m["arg"] is not None else None
    if m["point"] is not None or m["end"] is not None:
        n = int(m["point"] or m["end"])
        if n < 1:
            raise ValueError(f"--sim-fault {text!r}: points count from 1")
        if m["point"] is not None:
            return ScheduledFault(m["ep"], kind, arg, point=n)
        return ScheduledFault(m["ep"], kind, arg, after_point=n)
    t = float(m["t"])
    if not math.isfinite(t):
        raise ValueError(f"--sim-fault {text!r}: the virtual time must be finite")
    return ScheduledFault(m["ep"], kind, arg, at_s=t)


def describe_fired(f: ScheduledFault) -> str:
    """One console line for a fault that fired (or was refused when it fired)."""
    if f.point is not None:
        when = f"point {f.fired_point} (virtual time {f.fired_at_s:g} s)"
    elif f.after_point is not None:
        when = f"the end of point {f.after_point} (virtual time {f.fired_at_s:g} s)"
    else:
        when = f"virtual time {f.fired_at_s:g} s (in point {f.fired_point})"
    what = f"{f.kind}" + (f" {f.arg:g}" if f.arg is not None else "")
    tail = f": refused ({f.error})" if f.error else ""
    return f"simulation: fault {what} on {f.endpoint} fired at {when}{tail}"
