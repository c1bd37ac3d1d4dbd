"""Voltage dips, swells and interruptions from Urms(1/2) (IEC 61000-4-30 Ed. 3 + A1, 5.4 and 5.5).

Rules (thresholds and hysteresis in percent of the declared input voltage ``Udin``, 5.4.2.1 / 5.4.3.1 / 5.5.1):

* dip (5.4.2.1): begins when the Urms(1/2) of one or more channels falls *below* the dip threshold, ends when the
  Urms(1/2) of *all* channels is *equal to or above* the threshold plus the hysteresis. Residual voltage (5.4.2.2):
  the lowest Urms(1/2) on any channel during the dip.
* swell (5.4.3.1): begins when one or more channels rise *above* the swell threshold, ends when all channels are
  *equal to or below* the threshold minus the hysteresis. Extreme: the highest Urms(1/2) on any channel (5.4.3.2).
* interruption (5.5.1): begins when the Urms(1/2) of *all* channels fall below the interruption threshold, ends when
  *any one* channel is equal to or above the interruption threshold plus the hysteresis. Single phase: the one
  channel. Extreme: the lowest Urms(1/2) of any channel (U: the standard defines no "residual" of an interruption;
  the minimum is reported for symmetry with dips).

Time stamps: value ``j`` of Urms(1/2) is stamped with the start of its one-cycle window, ``j·T/2`` (as
:func:`hil.pq.rms.rms_half_cycle`). An event starts at the stamp of the first value that meets the start condition
and ends at the stamp of the first value that meets the end condition; its duration is the difference (5.4.2.2:
duration = end time − start time). U: this follows instrument practice (event IN / OUT = start of the Urms(1/2)
window that crossed); a one-cycle window refreshed every half cycle makes the duration up to one cycle longer
than the disturbance (a 2-cycle dip aligned with the grid reads 2.5 cycles).

Precedence: U — IEC 61000-4-30 evaluates dips and interruptions independently (a drop to 0 V is also, by its
thresholds, a dip). With ``interruptions_supersede_dips=True`` (the default) every dip that overlaps an interruption
is *not* reported and the interruption stands for it (the classification used for reporting, e.g. EN 50160, where a
residual below 5 % is an interruption); ``False`` reports both as the standard's independent evaluations. On a
polyphase system a drop of one channel to 0 V while others stay up is a dip (the interruption needs all channels).

U: the sub-clause numbers (5.4.2.1, 5.4.2.2, 5.4.3.1, 5.4.3.2, 5.5.1) are quoted from memory; the rules themselves
(which channel starts / ends a polyphase event, "below" vs "equal to or above") are as the standard words them to
the best of this module's knowledge, and agree with commercial Class A instrument manuals (e.g. Hioki PQ3198).

The sliding-reference dip threshold (5.4.2.1 option) and rapid voltage changes (5.11) are not implemented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from hil.pq.harmonics import FloatArray, as_samples, window_cycles

EventKind = Literal["dip", "swell", "interruption"]


@dataclass(frozen=True)
class Event:
    """One voltage event. ``extreme_v``: residual (dip / interruption: lowest Urms(1/2)) or maximum (swell) in volts,
    ``extreme_pct`` the same in percent of the declared voltage. ``open_ended``: the record ended (or began) inside
    the event, so ``duration_s`` runs to the end of the record (resp. from its start) and is a lower bound."""

    kind: EventKind
    start_s: float
    duration_s: float
    extreme_v: float
    extreme_pct: float
    open_ended: bool = False


def _hysteresis_state(start: npt.NDArray[np.bool_], end: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """In-event flag per value: set by ``start``, held until ``end``; where both hold, the value is ``start``'s
    (an event can only end when the start condition no longer holds, since the end band lies beyond it)."""
    n = start.shape[0]
    mark = np.where(start, 1, np.where(end, 0, -1))
    idx = np.where(mark >= 0, np.arange(n), -1)
    last = np.maximum.accumulate(idx)
    state = np.where(last >= 0, mark[np.maximum(last, 0)], 0)
    flag: npt.NDArray[np.bool_] = state == 1
    return flag


def _runs(flag: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open index ranges ``[a, b)`` where ``flag`` is true."""
    d = np.diff(np.concatenate(([0], flag.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _pct(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite percentage ≥ 0, got {value!r}")
    return float(value)


def detect_events(urms_half: npt.ArrayLike, declared_v: float, f_nominal: float, dip_threshold_pct: float = 90,
                  swell_threshold_pct: float = 110, interruption_threshold_pct: float = 5, hysteresis_pct: float = 2,
                  *, interruptions_supersede_dips: bool = True) -> list[Event]:
    """Dips, swells and interruptions in a Urms(1/2) series (IEC 61000-4-30 5.4.2, 5.4.3, 5.5), sorted by start.

    ``urms_half``: 1-D (single phase) or 2-D (channels × values), as from :func:`hil.pq.rms.rms_half_cycle`;
    ``declared_v`` the declared input voltage Udin. Rules, time stamps and dip/interruption precedence: see the
    module docstring. Thresholds compare exactly as the standard words them ("below", "equal to or above", …).
    """
    u = as_samples(urms_half, "urms_half")
    if u.ndim == 1:
        u = u[np.newaxis, :]
    if np.any(u < 0):
        raise ValueError("urms_half contains negative values (RMS values are ≥ 0)")
    if isinstance(declared_v, bool) or not isinstance(declared_v, int | float) or not math.isfinite(declared_v) \
            or declared_v <= 0:
        raise ValueError(f"declared_v must be a finite voltage > 0, got {declared_v!r}")
    dip, swell = _pct("dip_threshold_pct", dip_threshold_pct), _pct("swell_threshold_pct", swell_threshold_pct)
    intr, hyst = _pct("interruption_threshold_pct", interruption_threshold_pct), _pct("hysteresis_pct", hysteresis_pct)
    if not intr < dip < 100 < swell:
        raise ValueError("thresholds must satisfy interruption_threshold_pct < dip_threshold_pct < 100 < "
                         f"swell_threshold_pct, got {intr}, {dip}, {swell}")
    window_cycles(f_nominal)
    half_s = 1.0 / (2.0 * f_nominal)
    lo, hi = u.min(axis=0), u.max(axis=0)
    n = lo.shape[0]

    def volts(pct: float) -> float:
        return float(declared_v) * pct / 100.0

    def collect(kind: EventKind, flag: npt.NDArray[np.bool_], extreme: FloatArray, lowest: bool) -> list[Event]:
        out = []
        for a, b in _runs(flag):
            v = float(extreme[a:b].min() if lowest else extreme[a:b].max())
            out.append(Event(kind, a * half_s, (b - a) * half_s, v, 100.0 * v / declared_v, a == 0 or b == n))
        return out

    dips = collect("dip", _hysteresis_state(lo < volts(dip), lo >= volts(dip + hyst)), lo, True)
    swells = collect("swell", _hysteresis_state(hi > volts(swell), hi <= volts(swell - hyst)), hi, False)
    intrs = collect("interruption", _hysteresis_state(hi < volts(intr), hi >= volts(intr + hyst)), lo, True)
    if interruptions_supersede_dips:
        dips = [d for d in dips if not any(i.start_s < d.start_s + d.duration_s and d.start_s < i.start_s
                                           + i.duration_s for i in intrs)]
    return sorted(dips + swells + intrs, key=lambda e: (e.start_s, e.kind))
