"""The meter under test at one position: its true error, registers, test-output pulses, clock, supply and life.

Supply: below ``supply_min_pct`` of Un on element 1's phase the meter stops registering at once (power-fail
detection); if the voltage stays below for longer than ``holdup_ms`` its supply fails: one power failure in C.7.0
(non-volatile registers and the RTC survive), port and pulses dead until the voltage returns (a power-up). A dip
shorter than the hold-up time is ridden through without a reset. Each power-up consumes one cycle of the optional
power-cycle life (``power_cycle_failure``)."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from instruments.simulators.clock import VirtualClock
from instruments.simulators.units import WS_PER_KWH
from instruments.simulators.world.config import CurvePoint, MeterTypeConfig, PositionConfig
from instruments.simulators.world.events import EventLogs
from instruments.simulators.world.power_quality import PowerQuality
from instruments.simulators.world.prepayment import PaymentAccount
from instruments.simulators.world.profile import STATUS_CLOCK_ADJUSTED, LoadProfile
from instruments.simulators.world.relay import SupplySwitch
from instruments.simulators.world.reliability import peck_acceleration, weibull_life
from instruments.simulators.world.source import Source, SourceState
from instruments.simulators.world.tou import TimeOfUse, dst_settings

_DAY_S = 86400.0
REFERENCE_TEMPERATURE_C = 23.0
#: kWh registers: import total, import tariff 1 and 2, export total
ENERGY_REGISTERS = ("1.8.0", "1.8.1", "1.8.2", "2.8.0")
#: what a serial number (and so the port's device address) may be: as the bench file's ``serial``
SERIAL_PATTERN = re.compile(r"[0-9A-Za-z]{1,32}")

Environment = Callable[[], tuple[float, float]]


class _LogCurve:
    """Piecewise-linear in log(current), clamped outside the points."""

    def __init__(self, points: list[CurvePoint]) -> None:
        self.xs = [math.log(p[0]) for p in points]
        self.ys = [p[1] for p in points]

    def __call__(self, current: float) -> float:
        xs, ys = self.xs, self.ys
        if current <= 0:
            return ys[0]
        x = math.log(current)
        if x <= xs[0]:
            return ys[0]
        if x >= xs[-1]:
            return ys[-1]
        j = bisect.bisect_right(xs, x)
        f = (x - xs[j - 1]) / (xs[j] - xs[j - 1])
        return ys[j - 1] + f * (ys[j] - ys[j - 1])


@dataclass(slots=True)
class _Derived:
    """What the meter makes of one source state (temperature and drift are applied on top)."""

    powered: bool
    registering: bool
    base_w: float  # measured power without temperature/drift terms
    per_pct_w: float  # measured power per % of additional error
    true_w: float  # true active power over the meter's elements


def _clipped_normal(rng: np.random.Generator, sigma: float) -> float:
    """N(0, σ) clipped at ±2σ (always draws, so the stream stays aligned whatever σ is)."""
    z = float(rng.standard_normal())
    return sigma * max(-2.0, min(2.0, z))


class Meter:
    """Truth of one meter. Registers are in kWh ("1.8.0" import total, "1.8.1"/"1.8.2" tariffs, "2.8.0" export)
    plus "C.7.0", the number of power failures."""

    def __init__(
        self,
        position: PositionConfig,
        config: MeterTypeConfig,
        source: Source,
        clock: VirtualClock,
        environment: Environment,
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.position = position.position
        self.serial = position.serial
        self.type_name = position.type
        self.manufacturer = config.manufacturer
        self.model = config.model
        self.meter_class = config.class_index
        self.standard = config.standard
        self.constant = config.constant_imp_per_kwh
        self.connection = config.connection
        self.current_input = config.current_input
        self.un = config.un_v
        self.ist = config.ist_a
        self.imin = config.imin_a
        self.itr = config.itr_a
        self.iref = config.iref
        self.imax = config.imax_a
        self.password = config.password
        #: source phases feeding elements 1..n
        self.elements: tuple[int, ...] = (1, 2, 3) if config.connection == "3P4W" else (position.phase,)
        self._source = source
        self._clock = clock
        self._environment = environment

        b = config.behaviour
        # per-unit draws in a fixed order, whatever the configuration (stable streams per seed)
        phase0 = float(rng.uniform(0.0, 1.0))
        offset = _clipped_normal(rng, b.error_spread_pct)
        tilt = _clipped_normal(rng, b.error_tilt_spread_pct_per_decade)
        phase_offset = _clipped_normal(rng, b.phase_error_spread_arcmin)
        drift = b.clock_drift_ppm + _clipped_normal(rng, b.clock_drift_spread_ppm)
        life_u = float(rng.uniform(0.0, 1.0))
        # drawn last, so the draws above (and every truth derived from them) are as before this model existed
        cycle_life_u = float(rng.uniform(0.0, 1.0))

        self._amp = _LogCurve(b.error_curve_pct)
        self._phase_err = _LogCurve(b.phase_error_curve_arcmin)
        self.error_offset_pct = offset
        self.error_tilt_pct_per_decade = tilt
        self.phase_error_offset_arcmin = phase_offset
        self._cv = b.voltage_coefficient_pct_per_pct
        self._cf = b.frequency_coefficient_pct_per_pct
        self._ct = b.temperature_coefficient_pct_per_k
        self._harm = b.harmonic_error_pct
        self.start_threshold = config.start_threshold_a
        self.creep_w = b.creep_w
        self.pulse_output_broken = b.pulse_output_broken
        self._supply_min = b.supply_min_pct / 100.0 * config.un_v
        self.holdup_s = b.holdup_ms / 1000.0
        self.clock_drift_ppm = drift
        #: tariff 1 from … to … (seconds of the meter's own day), else tariff 2
        self._t1_start_s, self._t1_end_s = (h * 3600.0 for h in b.tariff1_hours)
        #: nominal frequency fn (the nameplate's; the frequency influence is counted from it)
        self.fn = config.fn_hz or source.nominal_frequency

        # state
        self.registers: dict[str, float] = {"1.8.0": 0.0, "1.8.1": 0.0, "1.8.2": 0.0, "2.8.0": 0.0, "C.7.0": 0.0}
        #: pulses + fraction: the test output has emitted floor(pulse_acc) pulses since power-on
        self.pulse_acc = phase0
        self._pulse_base = math.floor(phase0)
        self.alive = True
        self.failed_at: float | None = None
        self.failure_mode: str | None = None
        self.drift_pct = 0.0
        self._failed_no_pulses = False
        self._fault_no_pulses = False
        self._fault_injected_failure = False
        #: the meter's electronics run (supply up, or held up after the voltage fell below the threshold)
        self._up = False
        #: virtual time the voltage fell below the supply threshold while up (None: voltage is fine)
        self._low_since: float | None = None
        self.power_ups = 0
        #: power-up number at which the power-cycle life ran out (None: not failed by power cycling)
        self.failure_power_up: int | None = None

        failure = config.failure
        self.failure = failure
        self.life_h = weibull_life(life_u, failure.weibull_beta, failure.weibull_eta_h) if failure else math.inf
        self.damage_h = 0.0
        pcf = config.power_cycle_failure
        self.power_cycle_failure = pcf
        #: life in power-ups (a continuous draw: the meter fails at the power-up numbered ceil(life))
        self.power_cycle_life = (weibull_life(cycle_life_u, pcf.weibull_beta, pcf.weibull_eta_cycles)
                                 if pcf else math.inf)
        self._af_key: tuple[float, float] | None = None
        self._af = 1.0

        self._clock_rate = 1.0 + drift * 1e-6
        self._clock_base_t = clock.now
        self._clock_base_posix = clock.epoch.timestamp() + clock.now + position.clock_offset_s
        self.events = EventLogs(self, b.event_log_misses_short_interruptions)  # event logs 0.0.99.98.0/1.255
        self.tou = TimeOfUse(self, dst_settings(config))  # time zone, DST, calendar: engaged only when used
        self._init_tariff()
        self.profile = LoadProfile(float(b.load_profile_period_s), b.load_profile_depth,
                                   b.profile_gap_on_power_failure)
        self._init_capture()
        self.relay = SupplySwitch(b.relay_stuck_closed, self._virtual_at, self.meter_posix, lambda: self.port_alive)
        #: a payment meter's account and STS decoder (None: a credit meter)
        self.payment = PaymentAccount(config.prepayment, self) if config.prepayment is not None else None
        #: power-quality functions (None: the meter has none)
        self.pq = PowerQuality(config.power_quality, self) if config.power_quality is not None else None

        self._cache_state: SourceState | None = None
        self._cache: _Derived | None = None

    # -- clock and tariffs ---------------------------------------------------------------------
    def _meter_posix(self, t: float) -> float:
        return self._clock_base_posix + (t - self._clock_base_t) * self._clock_rate

    def clock_datetime(self) -> datetime:
        return datetime.fromtimestamp(self._meter_posix(self._clock.now), UTC)

    def set_clock(self, dt: datetime) -> None:
        """Set the meter's clock (naive datetimes are taken as UTC); the tariff follows the new time."""
        aware = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt
        self.events.clock_set(self.meter_posix(), aware.timestamp())
        self._clock_base_t = self._clock.now
        self._clock_base_posix = aware.timestamp()
        self._init_tariff()
        self.profile.pending |= STATUS_CLOCK_ADJUSTED
        self._init_capture()
        if self.payment is not None:
            self.payment.clock_set()

    def meter_posix(self) -> float:
        """The meter's clock now, UTC POSIX seconds."""
        return self._meter_posix(self._clock.now)

    def _virtual_at(self, posix: float) -> float:
        return self._clock_base_t + (posix - self._clock_base_posix) / self._clock_rate

    def _init_capture(self) -> None:
        self._capture_slot = self.profile.next_slot(self._meter_posix(self._clock.now))
        self.next_capture = self._virtual_at(self._capture_slot)

    def _captures(self, t0: float, dt: float, power_w: float) -> None:
        """Load-profile captures at the slots in (t0, t0 + dt]: the energy is linear over the segment."""
        t1 = t0 + dt
        e = power_w * dt / WS_PER_KWH if self.alive else 0.0
        regs = self.registers
        while self.next_capture <= t1:
            if self._up and self.alive:
                f = (self.next_capture - t0) / dt if dt > 0 else 1.0
                imp, exp = regs["1.8.0"], regs["2.8.0"]
                if e > 0:
                    imp += e * f
                elif e < 0:
                    exp -= e * f
                self.profile.capture(self._capture_slot, imp, exp, self.tou.profile_status(self._capture_slot))
            self._capture_slot += self.profile.period_s
            self.next_capture = self._virtual_at(self._capture_slot)

    def _init_tariff(self) -> None:
        if self.tou.engaged:  # a calendar, DST, a pending activation: the time-of-use planner decides
            self.tou.init_tariff()
            return
        tod = self._meter_posix(self._clock.now) % _DAY_S
        start, end = self._t1_start_s, self._t1_end_s
        if tod < start:
            self.tariff, to_next = 2, start - tod
        elif tod < end:
            self.tariff, to_next = 1, end - tod
        else:
            self.tariff, to_next = 2, _DAY_S + start - tod
        self.next_tariff_switch = self._clock.now + to_next / self._clock_rate

    def switch_tariff(self) -> None:
        """Called by the world at ``next_tariff_switch``: flip exactly, no re-reading of a rounded clock."""
        if self.tou.engaged:
            self.tou.switch()
            return
        t1 = self._t1_end_s - self._t1_start_s
        if self.tariff == 1:
            self.tariff, period = 2, _DAY_S - t1
        else:
            self.tariff, period = 1, t1
        self.next_tariff_switch += period / self._clock_rate

    # -- physics -------------------------------------------------------------------------------
    def _derive(self, state: SourceState) -> _Derived:
        if state is self._cache_state and self._cache is not None:
            return self._cache
        first = state[self.elements[0] - 1]
        powered = first.voltage_rms >= self._supply_min
        base = per_pct = true = 0.0
        registering = False
        for ph in self.elements:
            sp = state[ph - 1]
            true += sp.active_power
            i_rms = sp.current_rms
            if i_rms < self.start_threshold or i_rms <= 0:
                continue
            registering = True
            amp = (
                self._amp(i_rms)
                + self.error_offset_pct
                + self.error_tilt_pct_per_decade * math.log10(i_rms / self.iref)
            )
            delta = (self._phase_err(i_rms) + self.phase_error_offset_arcmin) / 60.0
            fund = sp.voltage * sp.current * math.cos(math.radians(sp.phi + delta))
            p = fund + sp.harmonic_power * (1.0 + self._harm / 100.0)
            u_dev = (sp.voltage_rms / self.un - 1.0) * 100.0 if sp.voltage_rms > 0 else 0.0
            f_dev = (sp.frequency / self.fn - 1.0) * 100.0
            base += p * (1.0 + (amp + self._cv * u_dev + self._cf * f_dev) / 100.0)
            per_pct += p / 100.0
        d = _Derived(powered, registering, base, per_pct, true)
        self._cache_state, self._cache = state, d
        return d

    # -- supply ----------------------------------------------------------------------------------
    def supply(self, state: SourceState, t: float) -> float:
        """The supply over a segment starting at ``t`` with ``state``: a power-up when the voltage is back, the
        start of the hold-up when it fell. Returns when the supply fails if nothing changes (inf: it does not)."""
        self.events.segment(state, t)  # power up, phase voltages missing / normal
        if self.pq is not None:
            self.pq.segment(state, t)  # dips, swells, interruptions
        if self._derive(state).powered:
            self._low_since = None
            if not self._up:
                self._power_up(t)
            return math.inf
        if not self._up:
            return math.inf
        if self._low_since is None:
            self._low_since = t
        return self._low_since + self.holdup_s

    def supply_deadline(self) -> float:
        """When the hold-up runs out (inf: the supply is not failing)."""
        return self._low_since + self.holdup_s if self._up and self._low_since is not None else math.inf

    def supply_lost(self, t: float) -> None:
        """The hold-up time ran out at ``t``: one power failure (a dead meter records nothing)."""
        self.events.supply_lost(t)
        self._up = False
        self._low_since = None
        if self.alive:
            self.registers["C.7.0"] += 1.0

    def _power_up(self, t: float) -> None:
        self._up = True
        if not self.alive:
            return
        if self.power_ups:  # not the first power-up: slots missed while down are filled (or lost)
            regs = self.registers
            self.profile.fill_after_outage(self._meter_posix(t), regs["1.8.0"], regs["2.8.0"])
        self.power_ups += 1
        pcf = self.power_cycle_failure
        if pcf is not None and self.failed_at is None and self.power_ups >= self.power_cycle_life:
            self.failure_power_up = self.power_ups
            self.fail(t, pcf.mode, pcf.drift_pct)

    def power(self, state: SourceState, temperature_c: float) -> float:
        """Active power the meter registers (W, negative = export); nothing below its supply threshold."""
        d = self._derive(state)
        if not self.alive or not d.powered:
            return 0.0
        if not self.relay.conducting:  # supply control switch open: no current through the meter
            return self.creep_w
        if d.registering:
            return d.base_w + d.per_pct_w * (self._ct * (temperature_c - REFERENCE_TEMPERATURE_C) + self.drift_pct)
        return self.creep_w

    def pulse_rate(self, power_w: float) -> float:
        """Test-output pulses per second at ``power_w`` (pulses count |energy|)."""
        return abs(power_w) * self.constant / WS_PER_KWH if self.pulsing else 0.0

    def integrate(self, dt: float, power_w: float) -> None:
        if self.next_capture <= self._clock.now + dt:
            self._captures(self._clock.now, dt, power_w)
        if not self.alive or power_w == 0.0:
            return
        e = power_w * dt / WS_PER_KWH
        if (power_w < 0.0) is not self.events.reverse_flow:  # the registered power changed sign
            self.events.flow(power_w < 0.0, self._clock.now)
        regs = self.registers
        if e > 0:
            regs["1.8.0"] += e
            regs["1.8.1" if self.tariff == 1 else "1.8.2" if self.tariff == 2 else f"1.8.{self.tariff}"] += e
            if self.payment is not None:
                self.payment.consume(e, self.tariff)
        else:
            regs["2.8.0"] -= e
        if self.pulsing:
            self.pulse_acc += abs(e) * self.constant

    def error_pct(self) -> float:
        """True error now at the delivered conditions; NaN when no active power flows."""
        d = self._derive(self._source.state_now())
        if d.true_w == 0.0 or not self.relay.conducting:
            return math.nan
        measured = self.power_now()
        return (measured / d.true_w - 1.0) * 100.0

    def power_now(self) -> float:
        """Registered power at the delivered conditions now (no side effects)."""
        d = self._derive(self._source.state_now())
        if not self.alive or not d.powered:
            return 0.0
        if not self.relay.conducting:  # supply control switch open: no current through the meter
            return self.creep_w
        if d.registering:
            temperature = self._environment()[0]
            return d.base_w + d.per_pct_w * (self._ct * (temperature - REFERENCE_TEMPERATURE_C) + self.drift_pct)
        return self.creep_w

    # -- life ----------------------------------------------------------------------------------
    def life_rate(self, temperature_c: float, humidity_pct: float) -> float:
        """Equivalent hours of life consumed per virtual second."""
        f = self.failure
        if f is None or self.failed_at is not None:
            return 0.0
        key = (temperature_c, humidity_pct)
        if key != self._af_key:
            self._af_key = key
            self._af = peck_acceleration(temperature_c, humidity_pct, f.activation_energy_ev, f.humidity_exponent)
        return self._af / 3600.0

    def time_to_failure(self, rate: float) -> float:
        if rate <= 0.0:
            return math.inf
        return max(self.life_h - self.damage_h, 0.0) / rate

    def age(self, dt: float, rate: float) -> None:
        self.damage_h += rate * dt

    def fail(self, t: float, mode: str | None = None, drift_pct: float | None = None) -> None:
        """The meter fails at virtual time ``t`` in ``mode`` (default: its failure model's mode); ``drift_pct``
        (default: the failure model's) is the error shift of mode "drift"."""
        if self.failed_at is not None:
            return
        mode = mode or (self.failure.mode if self.failure else "dead")
        self.failed_at = t
        self.failure_mode = mode
        if mode == "dead":
            self.alive = False
        elif mode == "drift":
            if drift_pct is None:
                drift_pct = self.failure.drift_pct if self.failure else 0.0
            self.drift_pct = drift_pct
        elif mode == "no_pulses":
            self._failed_no_pulses = True
        else:
            raise ValueError(f"unknown failure mode {mode!r}")

    # -- programming through the optical port (manufacturing / test software) --------------------
    def preset_register(self, address: str, kwh: float) -> None:
        """Preset an energy register (kWh ≥ 0). Rule keeping 1.8.0 = 1.8.1 + 1.8.2: a tariff register takes
        the value and the total becomes the new sum; a preset of the total 1.8.0 puts it all in tariff 1 and
        clears tariff 2 (how an arbitrary total splits is unknown); export 2.8.0 is independent. Pulse count,
        C.7.0 and the clock are not touched."""
        if address not in ENERGY_REGISTERS:
            raise KeyError(f"no energy register {address!r}; presettable: {', '.join(ENERGY_REGISTERS)}")
        if not (math.isfinite(kwh) and kwh >= 0):
            raise ValueError(f"a register preset must be a finite energy ≥ 0 kWh, got {kwh!r}")
        regs = self.registers
        if address == "2.8.0":
            regs["2.8.0"] = float(kwh)
            return
        if address == "1.8.0":
            regs["1.8.1"], regs["1.8.2"] = float(kwh), 0.0
        else:
            regs[address] = float(kwh)
        regs["1.8.0"] = regs["1.8.1"] + regs["1.8.2"]

    def set_serial(self, serial: str) -> None:
        """Write the serial number (IEC 62056-21 address C.1.0): 1 to 32 letters and digits."""
        if not SERIAL_PATTERN.fullmatch(serial):
            raise ValueError(f"a serial number is 1 to 32 letters and digits, got {serial!r}")
        self.serial = serial

    def power_interruption(self) -> None:
        """A short interruption of the meter's supply (an injected RESET of its port): one power failure in
        C.7.0 if the meter was powered and alive; registers, clock (RTC on its backup) and pulses survive."""
        if self.alive and self.powered:
            self.registers["C.7.0"] += 1.0
            self.events.interruption(self._clock.now)

    # -- faults --------------------------------------------------------------------------------
    def fail_now(self, t: float | None = None) -> None:
        """Injected fault: the meter dies now (no pulses, port silent, registers frozen)."""
        if self.failed_at is None:
            self._fault_injected_failure = True
            self.fail(self._clock.now if t is None else t, "dead")

    def inject_no_pulses(self) -> None:
        self._fault_no_pulses = True

    def clear_faults(self) -> None:
        """Undo injected faults (a failure the meter's own life model produced stays)."""
        self._fault_no_pulses = False
        if self._fault_injected_failure:
            self._fault_injected_failure = False
            self.alive = True
            self.failed_at = None
            self.failure_mode = None

    # -- status --------------------------------------------------------------------------------
    @property
    def pulses(self) -> int:
        return math.floor(self.pulse_acc) - self._pulse_base

    @property
    def pulsing(self) -> bool:
        return self.alive and not self.pulse_output_broken and not self._fault_no_pulses and not self._failed_no_pulses

    @property
    def powered(self) -> bool:
        """Supply on now: the voltage on element 1's phase at least ``supply_min_pct`` of Un, or fallen below it
        less than the hold-up time ago (a change since the last integration counts as just now)."""
        if self._source.delivered(self.elements[0]).voltage_rms >= self._supply_min:
            return True
        if not self._up:
            return False
        return self._low_since is None or self._clock.now < self._low_since + self.holdup_s

    def instantaneous(self) -> tuple[list[tuple[float, float]], float]:
        """(U rms, I rms) per element and the frequency, as the meter's measuring elements see them now."""
        values = [(d.voltage_rms, d.current_rms if self.relay.conducting else 0.0)
                  for d in (self._source.delivered(ph) for ph in self.elements)]
        return values, self._source.delivered(self.elements[0]).frequency

    @property
    def port_alive(self) -> bool:
        return self.alive and self.powered

    @property
    def power_failures(self) -> int:
        return int(self.registers["C.7.0"])

    @property
    def temperature(self) -> float:
        return self._environment()[0]

    def truth(self) -> dict[str, Any]:
        err = self.error_pct()
        return {
            "serial": self.serial,
            "type": self.type_name,
            "class": self.meter_class,
            "constant": self.constant,
            "registers": dict(self.registers),
            "pulses": self.pulses,
            "pulse_acc": self.pulse_acc,
            "error_pct": err if math.isfinite(err) else None,
            "alive": self.alive,
            "powered": self.powered,
            "port_alive": self.port_alive,
            "pulsing": self.pulsing,
            "failed_at": self.failed_at,
            "failure_mode": self.failure_mode,
            "life_h": self.life_h if math.isfinite(self.life_h) else None,
            "damage_h": self.damage_h,
            "temperature_c": self.temperature,
            "tariff": self.tariff,
            "clock": self.clock_datetime().isoformat(),
            "clock_drift_ppm": self.clock_drift_ppm,
            "tariff1_hours": [self._t1_start_s / 3600.0, self._t1_end_s / 3600.0],
            "power_failures": self.power_failures,
            "supply_up": self._up,
            "power_ups": self.power_ups,
            "power_cycle_life": self.power_cycle_life if math.isfinite(self.power_cycle_life) else None,
            "failure_power_up": self.failure_power_up,
            "time_of_use": self.tou.truth(),
            "events": self.events.truth(),
            **self.relay.truth(),  # relay_closed, relay_operations
            **({"prepayment": self.payment.truth()} if self.payment is not None else {}),
            **({"power_quality": self.pq.truth()} if self.pq is not None else {}),
        }
