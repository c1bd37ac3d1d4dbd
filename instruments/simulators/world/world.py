"""The physics world of a simulated bench and its event-driven integration.

Time advances in segments over which everything the meters see is constant (or, for the chamber air, nearly
constant): energies are then linear in time, so pulse counts are floor(accumulator) and gate edges are solved
from the linear ramp — there is never a Python step per pulse. A segment ends at the next event: settling step of
the source, a dip edge, chamber ramp end, lag bound or program-step end, tariff switch, integration timer end, a
meter's supply hold-up running out, meter failure, an armed load limiter acting, a payment meter's credit
reaching a threshold or zero (or a standing charge falling due), or (for ``advance_until_idle``)
the instant the last started error measurement finishes.

Randomness: one numpy generator per component, seeded by (seed, component, index), so the same seed gives
bit-identical truth after the same command sequence, and adding a position does not reshuffle the others.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from instruments.simulators.clock import VirtualClock
from instruments.simulators.world.calculator import ErrorCalculator
from instruments.simulators.world.chamber import Chamber
from instruments.simulators.world.config import SimBenchConfig, resolve_meter
from instruments.simulators.world.meter import Meter
from instruments.simulators.world.prepayment import payment_act, payment_deadline
from instruments.simulators.world.reference import Reference
from instruments.simulators.world.relay import limiter_act, limiter_deadline
from instruments.simulators.world.source import Source

_STREAM_SOURCE = 1
_STREAM_REFERENCE = 2
_STREAM_REFERENCE_NOISE = 3
_STREAM_METER = 10


def _rng(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, index])


def _num(x: float | None) -> float | None:
    """JSON-safe float: NaN and ±inf become None."""
    return x if x is not None and math.isfinite(x) else None


class World:
    """Source, reference, meters (key: position), error-calculator channels (channel n = position n),
    optional chamber, and the virtual clock that only :meth:`advance` moves."""

    def __init__(self, config: SimBenchConfig, seed: int | None = None) -> None:
        self.config = config
        self.seed = config.seed if seed is None else int(seed)
        if self.seed < 0:
            raise ValueError("seed must be ≥ 0")
        self.clock = VirtualClock(config.epoch)
        self.ambient_temperature = config.ambient_temperature_c
        self.ambient_humidity = config.ambient_humidity_pct
        self.source = Source(config.source, self.clock, _rng(self.seed, _STREAM_SOURCE))
        self.reference = Reference(
            config.reference,
            self.source,
            self.clock,
            _rng(self.seed, _STREAM_REFERENCE),
            _rng(self.seed, _STREAM_REFERENCE_NOISE),
        )
        self.chamber: Chamber | None = (
            Chamber(config.chamber, self.clock, self.ambient_temperature, self.ambient_humidity)
            if config.chamber is not None
            else None
        )
        self.meters: dict[int, Meter] = {}
        self.calculators: dict[int, ErrorCalculator] = {}
        for pos in sorted(config.positions, key=lambda p: p.position):
            meter = Meter(
                pos,
                resolve_meter(config.meter_types, pos),
                self.source,
                self.clock,
                self.environment,
                _rng(self.seed, _STREAM_METER, pos.position),
            )
            self.meters[pos.position] = meter
            self.calculators[pos.position] = ErrorCalculator(pos.position, meter, self.reference, self.clock)
        self._meter_list = list(self.meters.values())
        self._calc_list = [self.calculators[m.position] for m in self._meter_list]
        self._payers = [m for m in self._meter_list if m.payment is not None]
        #: number of integration segments so far (bounded by events, not by pulses)
        self.segments = 0

    def environment(self) -> tuple[float, float]:
        """(temperature °C, humidity %RH) the meters feel now."""
        if self.chamber is None:
            return self.ambient_temperature, self.ambient_humidity
        return self.chamber.temperature, self.chamber.air_humidity

    # -- time ----------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Advance virtual time by ``seconds`` (≥ 0), integrating everything; then notify clock listeners."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"can only advance by a finite number of seconds ≥ 0, got {seconds!r}")
        self._run(self.clock.now + seconds, idle=False)
        self.clock._notify()

    def advance_until(self, t: float) -> None:
        """Advance to the absolute virtual time ``t`` (no-op if it has passed)."""
        self.advance(max(0.0, t - self.clock.now))

    def advance_until_idle(self, max_seconds: float) -> float:
        """Advance exactly to the instant the last started ERROR-mode measurement finishes, or by ``max_seconds``
        at most; returns the seconds advanced (0 when nothing is pending)."""
        if not math.isfinite(max_seconds) or max_seconds < 0:
            raise ValueError(f"max_seconds must be finite and ≥ 0, got {max_seconds!r}")
        start = self.clock.now
        if self._pending():
            self._run(start + max_seconds, idle=True)
        self.clock._notify()
        return self.clock.now - start

    def _pending(self) -> bool:
        return any(c.finish_pulse() is not None for c in self._calc_list)

    def _run(self, t_end: float, idle: bool) -> None:
        clock, source, reference, chamber = self.clock, self.source, self.reference, self.chamber
        meters, calcs = self._meter_list, self._calc_list
        payers = self._payers
        mortal = [m for m in meters if m.failure is not None and m.failed_at is None]
        next_tariff = min((m.next_tariff_switch for m in meters), default=math.inf)
        while True:
            t0 = clock.now
            if t0 >= t_end or (idle and not self._pending()):
                return
            # -- natural end of the segment -------------------------------------------------
            t1 = t_end
            b = source.next_boundary(t0)
            if b < t1:
                t1 = b
            if chamber is not None:
                b = chamber.next_boundary(t0)
                if b < t1:
                    t1 = b
            if next_tariff < t1:
                t1 = max(next_tariff, t0)
            timer_end = t0 + reference.integration.remaining_s()
            if timer_end < t1:
                t1 = timer_end
            # -- conditions over the segment --------------------------------------------------
            state = source.state_over(t0, t1)
            # supplies: power-ups at t0, and a hold-up that runs out inside the segment ends it there
            holdup_end = min((m.supply(state, t0) for m in meters), default=math.inf)
            if holdup_end < t1:
                t1 = max(holdup_end, t0)
                state = source.state_over(t0, t1)
            # an armed load limiter acting, a payment account's threshold, collection or disconnection end it
            switch_end = min(limiter_deadline(meters, state, t0), payment_deadline(payers, state, t0))
            if switch_end < t1:
                t1 = max(switch_end, t0)
                state = source.state_over(t0, t1)
            if chamber is not None:
                temp, rh = chamber.conditions_over(t1 - t0)
            else:
                temp, rh = self.ambient_temperature, self.ambient_humidity
            powers = [m.power(state, temp) for m in meters]
            # -- failures inside the segment ----------------------------------------------------
            rates = [m.life_rate(temp, rh) for m in mortal]
            failing: list[Meter] = []
            for m, rate in zip(mortal, rates, strict=True):
                tf = t0 + m.time_to_failure(rate)
                if tf < t1:
                    t1, failing = tf, [m]
                elif tf == t1 and tf < math.inf:
                    failing.append(m)
            # -- advance_until_idle: stop at the last finishing gate ------------------------------
            snaps: list[tuple[Meter, int]] = []
            if idle:
                last = t0
                for m, p, c in zip(meters, powers, calcs, strict=True):
                    k = c.finish_pulse()
                    if k is None:
                        continue
                    rate = m.pulse_rate(p)
                    if rate <= 0 or m.pulse_acc + rate * (t1 - t0) < k:
                        snaps = []
                        break
                    last = max(last, t0 + max(k - m.pulse_acc, 0.0) / rate)
                    snaps.append((m, k))
                else:
                    if snaps and last < t1:
                        t1 = last
                        failing = [m for m in failing if t0 + m.time_to_failure(m.life_rate(temp, rh)) <= t1]
            # -- integrate ------------------------------------------------------------------------
            dt = t1 - t0
            r0 = reference.pulse_acc
            reference.integrate(dt, state, timer_end=t1 >= timer_end)
            r1 = reference.pulse_acc
            for m, p, c in zip(meters, powers, calcs, strict=True):
                a0 = m.pulse_acc
                m.integrate(dt, p)
                if c.active:
                    for sm, k in snaps:  # the truncation instant is exactly this pulse edge
                        if sm is m and m.pulse_acc < k:
                            m.pulse_acc = float(k)
                    c.process(t0, t1, a0, m.pulse_acc, r0, r1)
            for m, rate in zip(mortal, rates, strict=True):
                m.age(dt, rate)
            if chamber is not None:
                chamber.advance(dt)
            clock._set(t1)
            self.segments += 1
            # -- events at t1 ---------------------------------------------------------------------
            if holdup_end <= t1:
                for m in meters:
                    if m.supply_deadline() <= t1:
                        m.supply_lost(t1)
            if chamber is not None:
                chamber.events_at(t1)
            if failing:
                for m in failing:
                    m.damage_h = max(m.damage_h, m.life_h)
                    m.fail(t1)
                mortal = [m for m in mortal if m.failed_at is None]
            if switch_end <= t1:
                limiter_act(meters, t1)
                payment_act(payers, t1)
            if t1 >= next_tariff:
                for m in meters:
                    if t1 >= m.next_tariff_switch:
                        m.switch_tariff()
                next_tariff = min(m.next_tariff_switch for m in meters)

    # -- truth ---------------------------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        """JSON-able true state of everything (for tests and the control endpoint)."""
        src = self.source
        phases: dict[str, Any] = {}
        for ph in range(1, src.phases + 1):
            d, s = src.delivered(ph), src.setpoint(ph)
            phases[str(ph)] = {
                "voltage": d.voltage,
                "current": d.current,
                "voltage_angle": d.voltage_angle,
                "current_angle": d.current_angle,
                "voltage_rms": d.voltage_rms,
                "current_rms": d.current_rms,
                "active_power": d.active_power,
                "reactive_power": d.reactive_power,
                "apparent_power": d.apparent_power,
                "power_factor": _num(d.power_factor),
                "voltage_harmonics": [list(h) for h in d.voltage_harmonics],
                "current_harmonics": [list(h) for h in d.current_harmonics],
                "setpoint": {
                    "voltage": s.voltage,
                    "current": s.current,
                    "voltage_angle": s.voltage_angle,
                    "current_angle": s.current_angle,
                },
            }
        return {
            "time": self.clock.now,
            "datetime": self.clock.datetime().isoformat(),
            "seed": self.seed,
            "segments": self.segments,
            "ambient": {"temperature_c": self.ambient_temperature, "humidity_pct": self.ambient_humidity},
            "source": {
                "output": src.output,
                "frequency": src.frequency,
                "settled": src.settled,
                "settle_until": src.settle_until,
                "phases": phases,
                "flicker": None if src.flicker is None else {
                    "depth_pct": src.flicker.depth_pct, "cpm": src.flicker.cpm,
                    "phases": sorted(src.flicker.phases), "start": src.flicker.start},
                "dips": {
                    "running": src.dips_running,
                    "events_done": src.dip_events_done(),
                    "program": None if src.dips is None else {
                        "level_pct": src.dips.level * 100.0, "duration_s": src.dips.duration_s,
                        "phases": sorted(src.dips.phases), "count": src.dips.count, "delay_s": src.dips.delay_s,
                        "start": src.dips.start,
                    },
                },
            },
            "reference": self.reference.truth(),
            "meters": {str(pos): m.truth() for pos, m in self.meters.items()},
            "calculators": {str(pos): c.truth() for pos, c in self.calculators.items()},
            "chamber": self.chamber.truth() if self.chamber is not None else None,
        }
