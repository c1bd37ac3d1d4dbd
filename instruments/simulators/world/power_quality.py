"""A meter's power-quality functions (IEC 61000-4-30 class S as meters implement it): voltage dips, swells and
interruptions detected on its own voltage channels with thresholds and hysteresis in % of the declared voltage
(its Un), the voltage THD and harmonic magnitudes of each element.

Detection is polyphase (IEC 61000-4-30 5.4.2.2, 5.4.3.2, 5.5.2): a dip begins when one channel falls below the dip
threshold and ends when every channel is back at the threshold plus the hysteresis; its residual voltage is the
lowest of any channel; a swell begins when one channel rises above the swell threshold and ends when every channel
is at or below it minus the hysteresis; its maximum is the highest. An interruption (every channel below the
interruption threshold) is recorded as an interruption instead of the dip around it (U: the meter's choice of
precedence). The world's voltages are constant between segment edges, and the edges of the source's dips and swells
are segment edges, so start and duration are the programmed ones (a real class S meter sees them through Urms(1/2):
within about a cycle). Events are recorded whether or not the meter's supply survives (power-fail detection and its
clock keep them), with the meter's clock.

Diagnosis (flags of the meter's status word, ours, U): phase loss per element (its voltage below ``phase_loss_pct``
of Un), reversed phase sequence (three-phase meters with every voltage present: L2 leads L1), reversed current per
element (its fundamental active power negative with current above the starting threshold); each flag is set once
its condition has held ``diagnosis_delay_s`` and cleared as soon as it goes. Fault ``phase_sequence_alarm_missing``.

Flicker (IEC 61000-4-15): Pst of the last complete 10-min interval of the meter's clock, per element, from the
source's rectangular fluctuation by the standard's Table 5 (:mod:`.flicker_table`); an interval with a change of
fluctuation inside is the cube root of the time-weighted mean of the parts' Pst³ (U, as Plt combines Pst). Fault
``flicker_not_computed``: Pst and Plt read 0. Plt (IEC 61000-4-15, IEC 61000-4-30 5.3): the cube root of the mean
of the 12 Pst³ of the last complete 2-h interval of the meter's clock (aligned to its whole 2 h), per element.

Voltage unbalance (IEC 61000-4-30 5.7.1, three-phase meters): u2 = |U2| / |U1| · 100 % of the symmetrical
components of the three fundamental voltage phasors (magnitude and angle as delivered). Fault ``unbalance_wrong``:
the phasors taken at their magnitudes on ideal 0°, −120°, +120° angles (the angles ignored), so an unbalance of the
angles alone reads 0.

THD (IEC 61000-4-7 3.3.1): sqrt(Σ_{h=2..40} (U_h/U_1)²) from the harmonics the element's voltage carries (a pure
harmonic is its own group). Faults: ``thd_ignores_above_13`` (orders above 13 left out), ``dip_duration_wrong``
(a dip's duration recorded twice as long).
"""

from __future__ import annotations

import cmath
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from instruments.simulators.world.flicker_table import pst_of

if TYPE_CHECKING:
    from instruments.simulators.world.config import PowerQualityConfig
    from instruments.simulators.world.source import SourceState

#: event codes in the power-quality event log (ours, U)
DIP, SWELL, INTERRUPTION = 1, 2, 3
KIND_NAMES = {DIP: "dip", SWELL: "swell", INTERRUPTION: "interruption"}
THD_MAX_ORDER = 40
PST_INTERVAL_S = 600.0
#: Plt: 12 Pst intervals, 2 h (IEC 61000-4-15 / IEC 61000-4-30 5.3)
PLT_COUNT = 12
PLT_INTERVAL_S = PLT_COUNT * PST_INTERVAL_S
_A = cmath.exp(2j * math.pi / 3)
#: diagnostic status bits: phase loss L1-L3, reversed sequence, reversed current L1-L3
LOSS_BITS = (0, 1, 2)
SEQUENCE_BIT = 3
REVERSE_BITS = (4, 5, 6)
DEPTH = 200


@dataclass(frozen=True)
class PqEvent:
    code: int
    start_posix: float
    duration_s: float
    #: residual voltage (dip, interruption) or maximum (swell), V
    extreme_v: float

    @property
    def posix(self) -> float:
        """The meter-clock instant the event began (the log's clock column)."""
        return self.start_posix

    def describe(self) -> dict[str, Any]:
        return {"kind": KIND_NAMES[self.code], "start_posix": self.start_posix, "duration_s": self.duration_s,
                "extreme_v": self.extreme_v}


class _Open:
    """An event in progress: since when (virtual time) and its extreme so far."""

    def __init__(self, t: float, extreme: float) -> None:
        self.t = t
        self.extreme = extreme


class PowerQuality:
    def __init__(self, config: PowerQualityConfig, meter: Any) -> None:
        self.config = config
        self.meter = meter
        self.declared_v = float(meter.un)
        self.events: deque[PqEvent] = deque(maxlen=DEPTH)
        self.counts = {DIP: 0, SWELL: 0, INTERRUPTION: 0}
        self._dip: _Open | None = None
        self._swell: _Open | None = None
        self._interrupted = False
        self._seen: Any = None
        #: diagnostic condition → virtual time it began (held while it lasts)
        self._since: dict[int, float] = {}
        #: (virtual time, the source's fluctuation from then on): the changes the flickermeter saw
        self._flicker: list[tuple[float, Any]] = [(meter._clock.now, None)]

    # -- detection (called by the meter at each segment start) -------------------------------------
    def segment(self, state: SourceState, t: float) -> None:
        if state is self._seen or not self.meter.alive:
            return
        self._seen = state
        self._diagnose(state, t)
        fl = self.meter._source.flicker
        if fl is not self._flicker[-1][1]:
            self._flicker.append((t, fl))
            del self._flicker[:-50]
        c, un = self.config, self.declared_v
        volts = [state[ph - 1].voltage_rms for ph in self.meter.elements]
        low, high = min(volts), max(volts)
        # dips (and interruptions inside them)
        if self._dip is None:
            if low < c.dip_threshold_pct / 100 * un:
                self._dip = _Open(t, low)
                self._interrupted = high < c.interruption_threshold_pct / 100 * un
        else:
            self._dip.extreme = min(self._dip.extreme, low)
            self._interrupted |= high < c.interruption_threshold_pct / 100 * un
            if low >= (c.dip_threshold_pct + c.hysteresis_pct) / 100 * un:
                self._close_dip(t)
        # swells
        if self._swell is None:
            if high > c.swell_threshold_pct / 100 * un:
                self._swell = _Open(t, high)
        else:
            self._swell.extreme = max(self._swell.extreme, high)
            if high <= (c.swell_threshold_pct - c.hysteresis_pct) / 100 * un:
                self._record(SWELL, self._swell, t)
                self._swell = None

    # -- diagnosis ---------------------------------------------------------------------------------------
    def _conditions(self, state: SourceState) -> set[int]:
        """The bits of the conditions present in ``state``."""
        m, c = self.meter, self.config
        bits: set[int] = set()
        phases = [state[ph - 1] for ph in m.elements]
        for k, sp in enumerate(phases):
            if sp.voltage_rms < c.phase_loss_pct / 100 * self.declared_v:
                bits.add(LOSS_BITS[k])
            elif sp.current_rms > m.start_threshold and sp.fundamental_power < 0:
                bits.add(REVERSE_BITS[k])
        if len(phases) == 3 and not bits & set(LOSS_BITS) and not c.faults.phase_sequence_alarm_missing:
            lead = (phases[1].voltage_angle - phases[0].voltage_angle) % 360.0
            if 0 < lead < 180:  # L2 leads L1: the sequence L1-L3-L2
                bits.add(SEQUENCE_BIT)
        return bits

    def _diagnose(self, state: SourceState, t: float) -> None:
        now = self._conditions(state)
        self._since = {b: self._since.get(b, t) for b in now}

    def status(self) -> int:
        """The diagnostic status word now: the conditions that have held ``diagnosis_delay_s``."""
        t = self.meter._clock.now
        return sum(1 << b for b, since in self._since.items() if t - since >= self.config.diagnosis_delay_s)

    def _close_dip(self, t: float) -> None:
        assert self._dip is not None
        self._record(INTERRUPTION if self._interrupted else DIP, self._dip, t)
        self._dip, self._interrupted = None, False

    def _record(self, code: int, ev: _Open, t: float) -> None:
        duration = t - ev.t
        if code == DIP and self.config.faults.dip_duration_wrong:
            duration *= 2.0
        m = self.meter
        self.events.append(PqEvent(code, m._meter_posix(ev.t), duration, ev.extreme))
        self.counts[code] += 1

    # -- harmonics -------------------------------------------------------------------------------------
    def harmonic_pct(self, element: int, order: int) -> float:
        """U_h in % of U_1 on the element's voltage."""
        sp = self.meter._source.delivered(self.meter.elements[element])
        return next((h.percent for h in sp.voltage_harmonics if h.order == order), 0.0)

    def pst(self, element: int) -> float:
        """Pst of the element's voltage over the last complete 10-min interval of the meter's clock."""
        if self.config.faults.flicker_not_computed:
            return 0.0
        return self._pst_until(element, math.floor(self.meter.meter_posix() / PST_INTERVAL_S) * PST_INTERVAL_S)

    def plt(self, element: int) -> float:
        """Plt of the element's voltage over the last complete 2-h interval of the meter's clock: the cube root of
        the mean of its 12 Pst³ (IEC 61000-4-15 / IEC 61000-4-30 5.3)."""
        if self.config.faults.flicker_not_computed:
            return 0.0
        end = math.floor(self.meter.meter_posix() / PLT_INTERVAL_S) * PLT_INTERVAL_S
        cubes = [self._pst_until(element, end - k * PST_INTERVAL_S) ** 3 for k in range(PLT_COUNT)]
        return float((sum(cubes) / PLT_COUNT) ** (1 / 3))

    def _pst_until(self, element: int, end_posix: float) -> float:
        """Pst of the 10-min interval of the meter's clock ending at ``end_posix``."""
        m = self.meter
        t1 = m._virtual_at(end_posix)
        t0 = m._virtual_at(end_posix - PST_INTERVAL_S)
        phase = m.elements[element]
        cubes = 0.0
        for (ta, fl), (tb, _) in zip(self._flicker, [*self._flicker[1:], (math.inf, None)], strict=True):
            lo, hi = max(ta, t0), min(tb, t1)
            if hi <= lo or fl is None or phase not in fl.phases:
                continue
            cubes += (hi - lo) / (t1 - t0) * pst_of(fl.depth_pct, fl.cpm, m._source.nominal_frequency) ** 3
        return float(cubes ** (1 / 3))

    # -- unbalance -------------------------------------------------------------------------------------
    def unbalance_pct(self) -> float | None:
        """u2 = |U2| / |U1| · 100 % of the fundamental voltage phasors (IEC 61000-4-30 5.7.1); None for a meter
        that is not three-phase, 0 without a positive sequence (no voltage)."""
        m = self.meter
        if len(m.elements) != 3:
            return None
        sps = [m._source.delivered(ph) for ph in m.elements]
        if self.config.faults.unbalance_wrong:  # the angles ignored: ideal 0°, −120°, +120°
            u = [sp.voltage * cmath.exp(-2j * math.pi / 3 * k) for k, sp in enumerate(sps)]
        else:
            u = [cmath.rect(sp.voltage, math.radians(sp.voltage_angle)) for sp in sps]
        pos = (u[0] + _A * u[1] + _A * _A * u[2]) / 3
        neg = (u[0] + _A * _A * u[1] + _A * u[2]) / 3
        return 0.0 if abs(pos) < 1e-9 else 100.0 * abs(neg) / abs(pos)

    def thd_pct(self, element: int) -> float:
        sp = self.meter._source.delivered(self.meter.elements[element])
        top = 13 if self.config.faults.thd_ignores_above_13 else THD_MAX_ORDER
        return math.sqrt(sum(h.percent ** 2 for h in sp.voltage_harmonics if 2 <= h.order <= top))

    def truth(self) -> dict[str, Any]:
        return {"counts": {KIND_NAMES[k]: v for k, v in self.counts.items()},
                "events": [e.describe() for e in list(self.events)[-20:]],
                "thd_pct": [self.thd_pct(k) for k in range(len(self.meter.elements))],
                "diagnostic_status": self.status(),
                "pst": [self.pst(k) for k in range(len(self.meter.elements))],
                "plt": [self.plt(k) for k in range(len(self.meter.elements))],
                "unbalance_pct": self.unbalance_pct()}
