"""Each meter's error at the monitoring load point, from the pulses already counted every interval.

The error calculator counts in COUNT mode during a sequence: every interval's ``FETC:ALL?`` gives, per position,
the meter's pulses ``N`` and the reference's pulses ``n`` since counting started, read at the same instant. Over a
window of consecutive intervals with ΔN meter pulses and Δn reference pulses the energies are
E_mut = ΔN / C_mut and E_ref = Δn / C_ref (C in imp/kWh), so

    error = E_mut / E_ref − 1 = (ΔN / C_mut) / (Δn / C_ref) − 1,

in % ``(ΔN·C_ref / (Δn·C_mut) − 1)·100`` — the error-calculator formula of reference/standards.md §6 (status D)
with the window in place of the gate. Resolution: the window's edges are not synchronised to the meter's pulse
edges, so ΔN is uncertain by ±1 pulse; d(error)/dΔN = (1 + error)/ΔN ≈ 1/ΔN, i.e. ±100/ΔN % for one window (the
reference's ±1 pulse, 100/Δn %, is C_mut/C_ref ≈ 1/5000 of that and neglected). What is judged is the *shift*
between two windows (the baseline and the latest), each uncertain by ±1 pulse: ±2·100/ΔN. For that to be at
most a tenth of the shift limit L (the accuracy runner's resolution rule, ``MeasureSettings.resolution_fraction``):
2·100/ΔN ≤ L/10 ⇔ ΔN ≥ 2000/L (L = 0.5 % → 4000 pulses). The window is therefore the shortest run of the latest
intervals holding at least that many meter pulses (a sliding window: one value per interval once full, NaN
before); pulse-less intervals at its start are dropped (together they hold less than one pulse). No instrument I/O
is added: the counts are the ones the alive check already fetched.

A window never spans a gap (a resume, a check during the sequence): counting restarts there and the window fills
again. The first full window's error is the meter's baseline; a window whose error is further than
``max_error_shift_pct`` from it is a ``drift`` failure, its window (first interval's start → last interval's end)
the failure window. It is confirmed one interval later, when the meter still pulses: a meter dying inside the
last interval of a window shows a short count there, which is a ``dead``/``no_pulses`` failure, not a drift.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hil.kinds.sequences.monitor import MeterState

#: the shift's resolution (±1 meter pulse in each of the two windows compared) is at most this fraction of the
#: shift limit
RESOLUTION_FRACTION = 0.1
#: resolution of the shift when no shift limit is given (%)
DEFAULT_RESOLUTION_PCT = 0.1
#: windows compared by a shift: the baseline's and the latest one's ±1 pulse add up
_WINDOWS_PER_SHIFT = 2


class _Counts(Protocol):
    mut_pulses: int
    ref_pulses: int


def window_pulses(resolution_pct: float) -> int:
    """Meter pulses a window needs for the shift between two windows (±1 pulse in each) to resolve
    ``resolution_pct``: 2·100/ΔN ≤ resolution ⇔ ΔN ≥ 200 / resolution."""
    return math.ceil(_WINDOWS_PER_SHIFT * 100.0 / resolution_pct - 1e-9)


def shift_resolution_pct(pulses: int) -> float:
    """Resolution of the shift between two windows of ``pulses`` meter pulses each: ±2·100/ΔN %."""
    return _WINDOWS_PER_SHIFT * 100.0 / pulses


def resolution_of(max_shift_pct: float | None, resolution_pct: float | None) -> float:
    """The shift's resolution (%): given, else a tenth of the shift limit, else the default."""
    if resolution_pct is not None:
        return resolution_pct
    return RESOLUTION_FRACTION * max_shift_pct if max_shift_pct is not None else DEFAULT_RESOLUTION_PCT


def error_pct(d_mut: int, d_ref: int, c_mut: float, c_ref: float) -> float:
    """(ΔN/C_mut)/(Δn/C_ref) − 1, in %."""
    return (d_mut * c_ref / (d_ref * c_mut) - 1.0) * 100.0


@dataclass
class ErrorWindow:
    """One meter's sliding window: intervals ``[t_start, t_end, ΔN, Δn]``, the baseline and a drift not yet
    confirmed."""

    intervals: deque[list[float]] = field(default_factory=deque)
    mut: int = 0  # ΔN over the window
    ref: int = 0  # Δn over the window
    first_pct: float | None = None
    last_pct: float | None = None
    pending: list[Any] | None = None  # [after, before, reason] of a window beyond the limit

    def reset(self) -> None:
        self.intervals.clear()
        self.mut = self.ref = 0

    def add(self, start: float, end: float, d_mut: int, d_ref: int, need: int, c_mut: float,
            c_ref: float) -> float:
        """Add an interval; the error of the shortest tail holding ≥ ``need`` pulses, NaN while short."""
        self.intervals.append([start, end, d_mut, d_ref])
        self.mut += d_mut
        self.ref += d_ref
        # leading intervals without a meter pulse go: together they hold less than one pulse of energy, i.e. they
        # only move the window's start within its ±1 pulse (and a silent pulse output keeps no growing window in
        # the checkpoint)
        while self.intervals and (self.intervals[0][2] == 0
                                  or (len(self.intervals) > 1 and self.mut - self.intervals[0][2] >= need)):
            old = self.intervals.popleft()
            self.mut -= int(old[2])
            self.ref -= int(old[3])
        if self.mut < need or self.ref <= 0:
            return math.nan
        e = error_pct(self.mut, self.ref, c_mut, c_ref)
        if self.first_pct is None:
            self.first_pct = e
        self.last_pct = e
        return e

    def to_json(self) -> dict[str, Any]:
        return {"intervals": list(self.intervals), "mut": self.mut, "ref": self.ref, "first_pct": self.first_pct,
                "last_pct": self.last_pct, "pending": self.pending}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ErrorWindow:
        return cls(deque(list(x) for x in d["intervals"]), int(d["mut"]), int(d["ref"]), d["first_pct"],
                   d["last_pct"], d["pending"])


class ErrorMonitor:
    """Every position's monitored error; ``update`` once per interval with the fetched counts."""

    def __init__(self, constants: Mapping[int, float], max_shift_pct: float | None,
                 resolution_pct: float | None) -> None:
        self.constants = dict(constants)
        self.max_shift_pct = max_shift_pct
        self.resolution_pct = resolution_of(max_shift_pct, resolution_pct)
        self.need = window_pulses(self.resolution_pct)
        self.windows = {p: ErrorWindow() for p in constants}
        self.c_ref = math.nan
        self._mut = dict.fromkeys(constants, 0)
        self._ref = dict.fromkeys(constants, 0)

    def restart(self, c_ref: float) -> None:
        """Counting (re)started from zero: windows refill from here (they never span a gap)."""
        self.c_ref = c_ref
        self._mut = dict.fromkeys(self.constants, 0)
        self._ref = dict.fromkeys(self.constants, 0)
        for w in self.windows.values():
            w.reset()

    def update(self, start: float, end: float, counts: Mapping[int, _Counts],
               meters: Mapping[int, MeterState]) -> dict[int, float]:
        """The interval ``[start, end]`` (sequence time) with cumulative counts; returns each position's error
        (NaN: window not full, or the meter failed). Fails meters in mode ``drift`` (see the module doc)."""
        out: dict[int, float] = {}
        for p, w in self.windows.items():
            n, r = int(counts[p].mut_pulses), int(counts[p].ref_pulses)
            d_mut, d_ref = n - self._mut[p], r - self._ref[p]
            self._mut[p], self._ref[p] = n, r
            m = meters[p]
            if m.failed:
                w.pending = None
                out[p] = math.nan
                continue
            if w.pending is not None:  # still pulsing one interval later: the drift stands
                after, before, reason = w.pending
                m.fail("drift", float(after), float(before), str(reason))
                w.pending = None
                out[p] = math.nan
                continue
            e = w.add(start, end, d_mut, d_ref, self.need, self.constants[p], self.c_ref)
            out[p] = e
            self._judge(w, e)
        return out

    def _judge(self, w: ErrorWindow, e: float) -> None:
        limit = self.max_shift_pct
        if limit is None or math.isnan(e) or w.first_pct is None or abs(e - w.first_pct) <= limit:
            return
        w.pending = [w.intervals[0][0], w.intervals[-1][1],
                     f"error {e:+.3f} % moved {e - w.first_pct:+.3f} % from its first window's "
                     f"{w.first_pct:+.3f} % (limit ±{limit:g} %; window {w.mut} pulses, shift resolution "
                     f"±{shift_resolution_pct(w.mut):.3g} %)"]

    def finish(self, meters: Mapping[int, MeterState]) -> None:
        """End of the sequence: a drift seen in the last interval stands (the meter was pulsing)."""
        for p, w in self.windows.items():
            if w.pending is not None and not meters[p].failed:
                after, before, reason = w.pending
                meters[p].fail("drift", float(after), float(before), str(reason))
            w.pending = None

    def to_json(self) -> dict[str, Any]:
        return {str(p): w.to_json() for p, w in self.windows.items()}

    def load(self, data: Mapping[str, Any]) -> None:
        for p, d in data.items():
            if int(p) in self.windows:
                self.windows[int(p)] = ErrorWindow.from_json(d)
