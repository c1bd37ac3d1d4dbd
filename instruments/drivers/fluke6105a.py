"""Fluke 6100B/6105A Electrical Power Standard (meter-test source), SCPI subset.

Commands as in the "6100B/6105A Users Manual", chapter 5 (remote commands): ``SOURce:PHASe<x>:VOLTage``,
``...:CURRent``, ``...:PANGle``, ``SOURce:FREQuency``, ``OUTPut[:STATe]``. Dips and short interruptions use
the ``SOURce:DIPS`` subsystem of our simulator (docs/drivers.md): its limits are the manual's dip/swell
specification (§1-55), its command text is ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from instruments.drivers.declarative import (
    Action,
    Channel,
    Channels,
    Reading,
    ScpiDriver,
    Setting,
    fmt_bool,
    fmt_number,
    parse_bool,
)
from instruments.drivers.errors import RangeError
from instruments.roles import PhaseLoad

#: dip/swell limits (6100B/6105A Users Manual §1-55): duration 1 ms .. 1 min, repeat delay 0 .. 60 s
DIP_MIN_S = 1e-3
DIP_MAX_S = 60.0
DIP_MAX_LEVEL_PCT = 200.0  # swells (ours, U: the manual's swell range was not available)
#: the fluctuation the source plays (ours, U): ΔV/V up to 4 %, 0.1 … 4800 changes per minute
FLICKER_MAX_DEPTH_PCT = 4.0
FLICKER_CPM = (0.1, 4800.0)
DIP_MAX_DELAY_S = 60.0
DIP_MAX_COUNT = 1000  # ours: the manual gives no bound
#: the output frequency range (``frequency`` below): a duration in cycles is checked so that it is valid at any
FREQ_MIN_HZ, FREQ_MAX_HZ = 40.0, 70.0
#: a dip's duration in cycles valid at any output frequency: 1 ms at 70 Hz .. 60 s at 40 Hz (0.07 .. 2400 cycles);
#: the plan model bounds its dips with these too (hil.kinds.sequences.disturbances), one source of truth
DIP_MIN_CYCLES = DIP_MIN_S * FREQ_MAX_HZ
DIP_MAX_CYCLES = DIP_MAX_S * FREQ_MIN_HZ


class Phase(Channel):
    """One phase output (voltage and current channel) of the source."""

    voltage = Setting("SOUR:PHAS{ch}:VOLT", unit="V", within=lambda ph: (0.0, ph.parent.max_voltage_v))
    current = Setting("SOUR:PHAS{ch}:CURR", unit="A", within=lambda ph: (0.0, ph.parent.max_current_a))
    voltage_angle = Setting("SOUR:PHAS{ch}:VOLT:PANG", unit="deg", within=(-360.0, 360.0))
    current_angle = Setting("SOUR:PHAS{ch}:CURR:PANG", unit="deg", within=(-360.0, 360.0))
    watts = Reading("SOUR:PHAS{ch}:POW:WATT?", unit="W")
    dips = Setting("SOUR:PHAS{ch}:VOLT:DIPS", parse=parse_bool, fmt=fmt_bool, doc="the phase takes part in dips")


class Fluke6105A(ScpiDriver):
    """Meter-test source; plays the ``source`` role (:class:`instruments.roles.Source`)."""

    model = "Fluke 6105A"
    phases_ = Channels(Phase, lambda drv: range(1, drv.phases + 1))
    frequency = Setting("SOUR:FREQ", unit="Hz", within=(FREQ_MIN_HZ, FREQ_MAX_HZ))
    output = Setting("OUTP", query="OUTP?", parse=parse_bool, fmt=fmt_bool)
    condition = Reading("STAT:OPER:COND?", parse=int)
    reset = Action("*RST")
    # -- dips and short interruptions (level in % of the programmed voltage; 0 % = interruption)
    #: a level above 100 % is a swell (up to DIP_MAX_LEVEL_PCT, within the voltage rating)
    dip_level = Setting("SOUR:DIPS:LEV", unit="%", within=(0.0, DIP_MAX_LEVEL_PCT))
    dip_duration = Setting("SOUR:DIPS:DUR", unit="s", within=(DIP_MIN_S, DIP_MAX_S))
    dip_cycles = Setting("SOUR:DIPS:DUR:CYCL", unit="cycles", within=(DIP_MIN_CYCLES, DIP_MAX_CYCLES))
    dip_count = Setting("SOUR:DIPS:COUN", within=(1, DIP_MAX_COUNT), parse=int)
    dip_delay = Setting("SOUR:DIPS:DEL", unit="s", within=(0.0, DIP_MAX_DELAY_S),
                        doc="from the end of one dip to the start of the next")
    dip_start = Action("SOUR:DIPS:INIT")
    dip_abort = Action("SOUR:DIPS:ABOR")
    dips_running = Reading("SOUR:DIPS:RUNN?", parse=parse_bool)
    dip_events = Reading("SOUR:DIPS:EVEN?", parse=int, doc="dips completed since power-on / *RST")

    #: STATus:OPERation bit set while the outputs settle (simulator and 6105A convention)
    SETTLING_BIT = 1 << 1

    def __init__(self, transport: Any, *, phases: int = 3, max_voltage_v: float = 1008.0,
                 max_current_a: float = 21.0, check_errors: bool = True) -> None:
        super().__init__(transport, check_errors=check_errors)
        self.phases = phases
        self.max_voltage_v = max_voltage_v
        self.max_current_a = max_current_a

    def phase(self, n: int) -> Phase:
        ph: Phase = self.phases_[n]
        return ph

    # -- the Source role ---------------------------------------------------------------------------
    def apply(self, loads: Mapping[int, PhaseLoad], frequency_hz: float | None = None) -> None:
        """Check every value first, then program them in one compound message per phase."""
        for n, load in loads.items():
            ph = self.phase(n)
            Phase.voltage.check(ph, load.voltage_v)
            Phase.current.check(ph, load.current_a)
            Phase.voltage_angle.check(ph, load.voltage_angle_deg)
            Phase.current_angle.check(ph, load.current_angle_deg)
        if frequency_hz is not None:
            Fluke6105A.frequency.check(self, frequency_hz)
            self.frequency = frequency_hz
        for n, load in loads.items():
            self.write(
                f"SOUR:PHAS{n}:VOLT {load.voltage_v!r};VOLT:PANG {load.voltage_angle_deg!r};"
                f":SOUR:PHAS{n}:CURR {load.current_a!r};CURR:PANG {load.current_angle_deg!r}"
            )

    # -- rectangular voltage fluctuation (flicker; our subsystem, docs/power-quality.md)
    flicker_depth = Setting("SOUR:FLIC:DEPT", unit="%", within=(0.0, FLICKER_MAX_DEPTH_PCT))
    flicker_rate = Setting("SOUR:FLIC:RATE", unit="cpm", within=FLICKER_CPM)
    flicker_stop = Action("SOUR:FLIC:ABOR")
    flicker_running = Reading("SOUR:FLIC:RUNN?", parse=parse_bool)

    def start_flicker(self, depth_pct: float, cpm: float, phases: Sequence[int] | None = None) -> None:
        """A rectangular fluctuation of ``depth_pct`` ΔV/V (peak to peak) at ``cpm`` changes per minute on
        ``phases`` (None: all), started at once; checked before anything is sent."""
        Fluke6105A.flicker_depth.check(self, depth_pct)
        Fluke6105A.flicker_rate.check(self, cpm)
        chosen = set(range(1, self.phases + 1)) if phases is None else set(phases)
        if not chosen <= set(range(1, self.phases + 1)) or not chosen or depth_pct <= 0:
            raise ValueError(f"a fluctuation needs a depth > 0 and phases of 1 … {self.phases}, got {sorted(chosen)}")
        states = "".join(f";:SOUR:PHAS{n}:VOLT:FLIC {'ON' if n in chosen else 'OFF'}"
                         for n in range(1, self.phases + 1))
        self.write(f"SOUR:FLIC:DEPT {fmt_number(depth_pct)};RATE {fmt_number(cpm)}{states};:SOUR:FLIC:INIT")

    #: harmonic orders the 6100-series generates (its MHARmonics subsystem: orders 2 … 100)
    HARMONIC_ORDERS = range(2, 101)

    def set_harmonic(self, phase: int, circuit: str, order: int, percent: float, degrees: float) -> None:
        """``SOUR:PHAS<n>:VOLT|CURR:MHAR:HARM<k> <pct>,<deg>``: harmonic ``order`` at ``percent`` of the
        fundamental and ``degrees`` from it (0 % removes it)."""
        if circuit not in ("U", "I"):
            raise ValueError(f"circuit is 'U' or 'I', got {circuit!r}")
        if order not in self.HARMONIC_ORDERS or not 0 <= percent <= 100 or not -360 <= degrees <= 360:
            raise ValueError(f"harmonic {order} at {percent:g} %, {degrees:g}°: the source takes orders 2 … 100 at"
                             " 0 … 100 % of the fundamental, −360 … 360°")
        self.phase(phase)  # a phase the source has
        what = "VOLT" if circuit == "U" else "CURR"
        self.write(f"SOUR:PHAS{phase}:{what}:MHAR:HARM{order} {fmt_number(percent)},{fmt_number(degrees)}")

    def clear_harmonics(self) -> None:
        """Every harmonic of every phase off, voltage and current (``…:MHAR:CLE``)."""
        self.write(";".join(f":SOUR:PHAS{n}:VOLT:MHAR:CLE;:SOUR:PHAS{n}:CURR:MHAR:CLE"
                            for n in range(1, self.phases + 1))[1:])

    def output_on(self) -> None:
        self.output = True

    def output_off(self) -> None:
        self.output = False

    def is_on(self) -> bool:
        return bool(self.output)

    def settled(self) -> bool:
        return not (self.condition & self.SETTLING_BIT)

    # -- the DipSource role ------------------------------------------------------------------------
    def check_dip(self, level_pct: float, *, cycles: float | None = None, duration_s: float | None = None,
                  phases: Sequence[int] | None = None, repeat: int = 1, interval_s: float = 0.0) -> None:
        """Refuse a dip beyond the source's range (level 0..100 %, duration 1 ms .. 60 s, §1-55) without sending
        anything: :class:`RangeError`, or ValueError for a call that gives no duration or no phase."""
        self._dip_message(level_pct, cycles, duration_s, phases, repeat, interval_s)

    def program_dip(self, level_pct: float, *, cycles: float | None = None, duration_s: float | None = None,
                    phases: Sequence[int] | None = None, repeat: int = 1, interval_s: float = 0.0) -> None:
        """Check every value first (:meth:`check_dip`), then program them in one compound message. ``phases``
        None: all; ``interval_s`` from the end of one dip to the next."""
        self.write(self._dip_message(level_pct, cycles, duration_s, phases, repeat, interval_s))

    def _dip_message(self, level_pct: float, cycles: float | None, duration_s: float | None,
                     phases: Sequence[int] | None, repeat: int, interval_s: float) -> str:
        """The checked compound message that programs a dip (nothing is sent here)."""
        if (cycles is None) == (duration_s is None):
            raise ValueError("give exactly one of cycles and duration_s")
        if isinstance(repeat, bool) or not isinstance(repeat, int):
            raise RangeError(f"{self.name}.dip_count", repeat, 1, DIP_MAX_COUNT, "(an integer)")
        cls = Fluke6105A
        cls.dip_level.check(self, level_pct)
        if cycles is not None:
            cls.dip_cycles.check(self, cycles)
            duration = f"DUR:CYCL {fmt_number(cycles)}"
        else:
            assert duration_s is not None
            cls.dip_duration.check(self, duration_s)
            duration = f"DUR {fmt_number(duration_s)}"
        cls.dip_count.check(self, repeat)
        cls.dip_delay.check(self, interval_s)
        chosen = set(range(1, self.phases + 1)) if phases is None else set(phases)
        for n in chosen:
            self.phase(n)  # refuses a phase the source does not have
        if not chosen:
            raise ValueError("a dip needs at least one phase")
        states = ";".join(f":SOUR:PHAS{n}:VOLT:DIPS {fmt_bool(n in chosen)}" for n in range(1, self.phases + 1))
        # LEV, COUN and DEL share the DIPS node; DUR:CYCL moves the path down, so it comes last
        return (f"SOUR:DIPS:LEV {fmt_number(level_pct)};COUN {repeat};DEL {fmt_number(interval_s)};"
                f"{duration};{states}")

    def trigger_dip(self) -> None:
        """Start the programmed dips now (the source refuses with the output off)."""
        self.dip_start()

    def dip_running(self) -> bool:
        return bool(self.dips_running)

    def dips_completed(self) -> int:
        """Dips completed since power-on / ``*RST`` (an aborted program counts the dips it finished)."""
        return int(self.dip_events)

    def abort_dips(self) -> None:
        """Stop a dip program now (the voltage returns to its programmed value); harmless when none runs."""
        self.dip_abort()
