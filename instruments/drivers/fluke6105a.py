"""Fluke 6100B/6105A Electrical Power Standard (meter-test source), SCPI subset.

Commands as in the "6100B/6105A Users Manual", chapter 5 (remote commands): ``SOURce:PHASe<x>:VOLTage``,
``...:CURRent``, ``...:PANGle``, ``SOURce:FREQuency``, ``OUTPut[:STATe]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instruments.drivers.declarative import (
    Action,
    Channel,
    Channels,
    Reading,
    ScpiDriver,
    Setting,
    fmt_bool,
    parse_bool,
)
from instruments.roles import PhaseLoad


class Phase(Channel):
    """One phase output (voltage and current channel) of the source."""

    voltage = Setting("SOUR:PHAS{ch}:VOLT", unit="V", within=lambda ph: (0.0, ph.parent.max_voltage_v))
    current = Setting("SOUR:PHAS{ch}:CURR", unit="A", within=lambda ph: (0.0, ph.parent.max_current_a))
    voltage_angle = Setting("SOUR:PHAS{ch}:VOLT:PANG", unit="deg", within=(-360.0, 360.0))
    current_angle = Setting("SOUR:PHAS{ch}:CURR:PANG", unit="deg", within=(-360.0, 360.0))
    watts = Reading("SOUR:PHAS{ch}:POW:WATT?", unit="W")


class Fluke6105A(ScpiDriver):
    """Meter-test source; plays the ``source`` role (:class:`instruments.roles.Source`)."""

    model = "Fluke 6105A"
    phases_ = Channels(Phase, lambda drv: range(1, drv.phases + 1))
    frequency = Setting("SOUR:FREQ", unit="Hz", within=(40.0, 70.0))
    output = Setting("OUTP", query="OUTP?", parse=parse_bool, fmt=fmt_bool)
    condition = Reading("STAT:OPER:COND?", parse=int)
    reset = Action("*RST")

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

    def output_on(self) -> None:
        self.output = True

    def output_off(self) -> None:
        self.output = False

    def is_on(self) -> bool:
        return bool(self.output)

    def settled(self) -> bool:
        return not (self.condition & self.SETTLING_BIT)
