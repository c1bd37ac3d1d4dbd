"""Multi-channel error calculator simulator: our own SCPI-1999 tree over the world's calculators.

Real error calculators (Zera, MTE, Radian) have no public command set, so the tree is ours, modelled on the
Fluke 6105A ENERgy subsystem (constants with a unit, IPKWH … MWHPI) and on how a Zera calculator is set up (MUT
constant, number of MUT pulses N, reference constant; start/abort; state and progress). Channel n is meter
position n. The full tree, with an example session, is in docs/error-calculator-scpi.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from instruments.scpi import Choice, Int, Num, ScpiDevice, ScpiError, scpi, short_form
from instruments.simulators.units import CONSTANT_UNITS, from_imp_per_kwh, to_imp_per_kwh

if TYPE_CHECKING:
    from instruments.simulators.world.calculator import ErrorCalculator
    from instruments.simulators.world.world import World

DEFAULT_UNIT = "IPKWH"
MAX_PULSES = 1_000_000_000
MODES = ("ERRor", "CONTinuous", "COUNt")
#: character response data in short form, as SCPI instruments answer (IEEE 488.2 §8.7.1): ERROR → ERR
_SHORT_MODE = {mode.upper(): short_form(mode) for mode in MODES}

_unit = Choice(*CONSTANT_UNITS)
_unit_opt = Choice(*CONSTANT_UNITS, optional=True)
_mode = Choice(*MODES)
_constant = Num(minimum=0)  # 0 itself is refused in the handler (a constant must be positive)
_pulses = Int(minimum=1, maximum=MAX_PULSES)  # N ≤ 0 → -222


@dataclass
class _Defaults:
    mut_constant: float
    mut_pulses: int
    ref_constant: float
    mode: str


class ErrorCalculatorDevice(ScpiDevice):
    """``*IDN?`` → ``MeterHIL,ErrorCalculator,SIMEC<channels>,1.0``."""

    def __init__(self, world: World, on_point: Callable[[], None] | None = None,
                 on_abort: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.world = world
        #: told when a measured point starts and after an abort (the simulation's point-scheduled faults)
        self.on_point = on_point
        self.on_abort = on_abort
        self.calculators = world.calculators
        self.idn = ("MeterHIL", "ErrorCalculator", f"SIMEC{len(self.calculators):02d}", "1.0")
        # *RST returns to the bench file's settings, so keep them
        self._defaults = {
            n: _Defaults(c.mut_constant, c.mut_pulses, c.ref_constant, c.mode) for n, c in self.calculators.items()
        }
        self._mut_unit = dict.fromkeys(self.calculators, DEFAULT_UNIT)
        self._ref_unit = dict.fromkeys(self.calculators, DEFAULT_UNIT)

    # -- IEEE 488.2 hooks -----------------------------------------------------------------------
    def reset(self) -> None:
        """*RST: every channel aborted and back to the bench file's constants, N and mode (unit IPKWH)."""
        super().reset()
        for n, calc in self.calculators.items():
            calc.abort()
            d = self._defaults[n]
            calc.mut_constant, calc.mut_pulses, calc.ref_constant, calc.mode = (
                d.mut_constant, d.mut_pulses, d.ref_constant, d.mode)  # fmt: skip
            self._mut_unit[n] = self._ref_unit[n] = DEFAULT_UNIT
        self._aborted()

    def _point(self) -> None:
        if self.on_point is not None:
            self.on_point()

    def _aborted(self) -> None:
        if self.on_abort is not None:
            self.on_abort()

    # -- helpers --------------------------------------------------------------------------------
    def _channel(self, n: int) -> ErrorCalculator:
        calc = self.calculators.get(n)
        if calc is None:
            raise ScpiError(-114, f"Header suffix out of range;no channel {n} (positions {self._span()})")
        return calc

    def _span(self) -> str:
        ns = sorted(self.calculators)
        return f"{ns[0]}..{ns[-1]}" if ns else "none"

    def _idle(self, n: int) -> ErrorCalculator:
        """The channel, refusing a setting while it measures (the result would mix two configurations)."""
        calc = self._channel(n)
        if calc.state in ("WAITING", "RUNNING"):
            raise ScpiError(-221, f"Settings conflict;channel {n} is measuring, ABORt it first")
        return calc

    def _all_idle(self) -> None:
        busy = [n for n, c in sorted(self.calculators.items()) if c.state in ("WAITING", "RUNNING")]
        if busy:
            raise ScpiError(-221, f"Settings conflict;channels {','.join(map(str, busy))} are measuring")

    @staticmethod
    def _positive(value: float) -> float:
        if not value > 0 or math.isinf(value):
            raise ScpiError(-222, "Data out of range;a constant must be positive")
        return value

    def _record(self, n: int) -> tuple[int, str, float, int, int]:
        calc = self.calculators[n]
        error = calc.error_pct
        return (n, calc.state, math.nan if error is None else float(error), int(calc.mut_counted),
                int(calc.ref_counted))  # fmt: skip

    # -- per channel: configuration ---------------------------------------------------------------
    @scpi("CHANnel#:MUT:CONStant", _constant, _unit_opt)
    def mut_constant(self, n: int, value: float, unit: str | None) -> None:
        """The meter's constant, in ``unit`` (which then becomes the channel's MUT unit) or the current one."""
        calc = self._idle(n)
        unit = unit or self._mut_unit[n]
        calc.mut_constant = to_imp_per_kwh(self._positive(value), unit)
        self._mut_unit[n] = unit

    @scpi("CHANnel#:MUT:CONStant?")
    def mut_constant_q(self, n: int) -> float:
        return from_imp_per_kwh(self._channel(n).mut_constant, self._mut_unit[n])

    @scpi("CHANnel#:MUT:CONStant:UNIT", _unit)
    def mut_unit(self, n: int, unit: str) -> None:
        """Changes how the constant is written and read; the constant itself stays (like the 6105A)."""
        self._channel(n)
        self._mut_unit[n] = unit

    @scpi("CHANnel#:MUT:CONStant:UNIT?")
    def mut_unit_q(self, n: int) -> str:
        self._channel(n)
        return self._mut_unit[n]

    @scpi("CHANnel#:MUT:PULSes", _pulses)
    def mut_pulses(self, n: int, pulses: int) -> None:
        self._idle(n).mut_pulses = pulses

    @scpi("CHANnel#:MUT:PULSes?")
    def mut_pulses_q(self, n: int) -> int:
        return int(self._channel(n).mut_pulses)

    @scpi("CHANnel#:REFerence:CONStant", _constant, _unit_opt)
    def ref_constant(self, n: int, value: float, unit: str | None) -> None:
        calc = self._idle(n)
        unit = unit or self._ref_unit[n]
        calc.ref_constant = to_imp_per_kwh(self._positive(value), unit)
        self._ref_unit[n] = unit

    @scpi("CHANnel#:REFerence:CONStant?")
    def ref_constant_q(self, n: int) -> float:
        return from_imp_per_kwh(self._channel(n).ref_constant, self._ref_unit[n])

    @scpi("CHANnel#:REFerence:CONStant:UNIT", _unit)
    def ref_unit(self, n: int, unit: str) -> None:
        self._channel(n)
        self._ref_unit[n] = unit

    @scpi("CHANnel#:REFerence:CONStant:UNIT?")
    def ref_unit_q(self, n: int) -> str:
        self._channel(n)
        return self._ref_unit[n]

    @scpi("CHANnel#:MODE", _mode)
    def mode(self, n: int, mode: str) -> None:
        self._idle(n).mode = mode

    @scpi("CHANnel#:MODE?")
    def mode_q(self, n: int) -> str:
        mode = self._channel(n).mode
        return _SHORT_MODE.get(mode, mode)

    @scpi("CHANnel#:CONFigure", _mode, _pulses, _constant, _unit_opt)
    def configure(self, n: int, mode: str, pulses: int, constant: float, unit: str | None) -> None:
        """Mode, N and MUT constant in one command (all or nothing)."""
        calc = self._idle(n)
        unit = unit or self._mut_unit[n]
        imp_per_kwh = to_imp_per_kwh(self._positive(constant), unit)
        calc.mode, calc.mut_pulses, calc.mut_constant = mode, pulses, imp_per_kwh
        self._mut_unit[n] = unit

    @scpi("CHANnel#:CONFigure?")
    def configure_q(self, n: int) -> tuple[str, int, float, str]:
        calc = self._channel(n)
        unit = self._mut_unit[n]
        mode = _SHORT_MODE.get(calc.mode, calc.mode)
        return mode, int(calc.mut_pulses), from_imp_per_kwh(calc.mut_constant, unit), unit

    # -- per channel: measurement -----------------------------------------------------------------
    # INITiate is deliberately sequential, not overlapped: *OPC? right after it answers at once. A measurement
    # ends only when virtual time moves, so a client blocked in *OPC? could never let it move; clients poll
    # STATe? / FETCh:ALL? instead, as they do with real calculators.
    @scpi("CHANnel#:INITiate[:IMMediate]")
    def initiate(self, n: int) -> None:
        calc = self._channel(n)
        if calc.state in ("WAITING", "RUNNING"):
            raise ScpiError(-213, f"Init ignored;channel {n} is already measuring")
        first = all(c.state not in ("WAITING", "RUNNING") for c in self.calculators.values())
        calc.start()
        if first:
            self._point()

    @scpi("CHANnel#:ABORt")
    def abort(self, n: int) -> None:
        self._channel(n).abort()
        self._aborted()

    @scpi("CHANnel#:STATe?")
    def state_q(self, n: int) -> str:
        return self._channel(n).state

    @scpi("CHANnel#:FETCh?")
    def fetch_q(self, n: int) -> tuple[int, str, float, int, int]:
        """``<n>,<state>,<error %>,<MUT pulses>,<reference pulses>`` (error 9.91E+37 = no result yet)."""
        self._channel(n)
        return self._record(n)

    @scpi("CHANnel#:FETCh:ERRor?")
    def fetch_error_q(self, n: int) -> float:
        error = self._channel(n).error_pct
        return math.nan if error is None else float(error)

    @scpi("CHANnel#:FETCh:PULSes?")
    def fetch_pulses_q(self, n: int) -> tuple[int, int]:
        calc = self._channel(n)
        return int(calc.mut_counted), int(calc.ref_counted)

    @scpi("CHANnel#:FETCh:RESults?")
    def fetch_results_q(self, n: int) -> int:
        """Results produced since INITiate (1 after an ERRor measurement, counts up in CONTinuous)."""
        return int(self._channel(n).results)

    @scpi("CHANnel#:COUNt?")
    def channel_count_q(self, _n: int) -> int:
        """``CHANnel:COUNt?``: how many channels (the suffix, if sent, is ignored)."""
        return len(self.calculators)

    # -- all channels ---------------------------------------------------------------------------
    @scpi("INITiate:ALL")
    def initiate_all(self) -> None:
        """Start every channel that is not measuring; -213 once if some were."""
        busy = []
        for n, calc in sorted(self.calculators.items()):
            if calc.state in ("WAITING", "RUNNING"):
                busy.append(n)
            else:
                calc.start()
        if not busy and self.calculators:  # a new point, not a restart of the idle rest of one
            self._point()
        if busy:
            raise ScpiError(-213, f"Init ignored;channels {','.join(map(str, busy))} were already measuring")

    @scpi("ABORt:ALL")
    def abort_all(self) -> None:
        for calc in self.calculators.values():
            calc.abort()
        self._aborted()

    @scpi("FETCh:ALL?")
    def fetch_all_q(self) -> list[int | str | float]:
        """Every channel's ``<n>,<state>,<error %>,<MUT pulses>,<reference pulses>`` on one line."""
        out: list[int | str | float] = []
        for n in sorted(self.calculators):
            out.extend(self._record(n))
        return out

    @scpi("STATe:ALL?")
    def state_all_q(self) -> list[str]:
        return [self.calculators[n].state for n in sorted(self.calculators)]

    @scpi("CONFigure:ALL", _mode, _pulses, _constant, _unit_opt)
    def configure_all(self, mode: str, pulses: int, constant: float, unit: str | None) -> None:
        """``CHANnel<n>:CONFigure`` for every channel (refused as a whole if any channel is measuring)."""
        self._all_idle()
        for n in self.calculators:
            self.configure(n, mode, pulses, constant, unit)

    @scpi("CONFigure:ALL:MUT:CONStant", _constant, _unit_opt)
    def configure_all_mut_constant(self, value: float, unit: str | None) -> None:
        self._all_idle()
        self._positive(value)
        for n in self.calculators:
            self.mut_constant(n, value, unit)

    @scpi("CONFigure:ALL:MUT:PULSes", _pulses)
    def configure_all_mut_pulses(self, pulses: int) -> None:
        self._all_idle()
        for calc in self.calculators.values():
            calc.mut_pulses = pulses

    @scpi("CONFigure:ALL:REFerence:CONStant", _constant, _unit_opt)
    def configure_all_ref_constant(self, value: float, unit: str | None) -> None:
        self._all_idle()
        self._positive(value)
        for n in self.calculators:
            self.ref_constant(n, value, unit)

    @scpi("CONFigure:ALL:MODE", _mode)
    def configure_all_mode(self, mode: str) -> None:
        self._all_idle()
        for calc in self.calculators.values():
            calc.mode = mode
