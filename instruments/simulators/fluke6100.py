"""Meter-test source simulator: the Fluke 6100B/6105A SCPI subset over the world's :class:`Source`.

Syntax follows the "6100B/6105A Users Manual", chapter 5 (SCPI command set). The subset and its deviations are
listed in docs/scpi-engine.md; setpoints go to the physics (instruments/simulators/world/source.py), which owns
settling and the unit's own setting error. Ranges come from the source's rating: a value beyond it is refused
with -222 before the physics is touched.

Dips and short interruptions (``[SOURce]:DIPS:…``) are our own subsystem: the manual specifies the 6100B's
dip/swell facility (§1-55: duration 1 ms to 1 min, level down to 0 % of nominal, optional repeat with a delay of
0 to 60 s) but its command text was not available to us; the tree follows the manual's per-phase phenomenon
pattern (``SOURce:PHASe<x>:VOLTage:<phenomenon>:STATe``) and is documented in docs/simulator-design.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from instruments.scpi import Bool, Choice, Int, Num, ParamType, ScpiDevice, ScpiError, scpi
from instruments.simulators.units import CONSTANT_UNITS
from instruments.simulators.world.source import FLICKER_CPM, FLICKER_MAX_DEPTH_PCT

if TYPE_CHECKING:
    from instruments.simulators.clock import VirtualClock
    from instruments.simulators.world.source import Source

#: MUT pulse sources (manual §5-97) and reference pulse sources (§5-103)
MUT_SOURCES = ("CH1", "CH1TO2", "CH1TO3", "CH1TO4", "CH1TO5", "CH1TO6", "SUM123")
REFERENCE_SOURCES = ("CH6", "SUM456", "MEAN456", "MEAN56", "MMUT", "MAIN")

#: STATus:OPERation bit 1 SETTling (SCPI-1999 Vol. 2 §20.1.1: OPERation status register)
OPER_SETTLING = 1 << 1
#: STB bit 7: OPERation status summary (SCPI-1999 Vol. 2 §20.1)
_STB_OPER = 1 << 7

_PHASE = "[SOURce]:PHASe#{1..3}"
_HARMONIC = "MHARmonics:HARMonic#{2..100}"
_QUANTITY: dict[str, Literal["U", "I"]] = {"VOLTAGE": "U", "CURRENT": "I"}

# defaults after *RST / power-on (ours: the manual leaves them to the instrument's stored setup)
_DEFAULT_CONSTANT = 1000.0
_DEFAULT_UNIT = "IPKWH"
_DEFAULT_MUT_SOURCE = "CH1"
_DEFAULT_REFERENCE_SOURCE = "MAIN"

#: dip/swell limits of the 6100B/6105A specification (Users Manual §1-55): duration 1 ms .. 1 min, repeat delay
#: 0 .. 60 s, level down to 0 %; a swell goes up to DIP_MAX_LEVEL_PCT (ours, U: the manual's swell range was not
#: available) and never beyond the voltage rating
DIP_MIN_S = 1e-3
DIP_MAX_S = 60.0
DIP_MAX_LEVEL_PCT = 200.0
DIP_MAX_DELAY_S = 60.0
#: our own bound of the repeat count (the manual gives none)
DIP_MAX_COUNT = 1000


_CONSTANT = Num(minimum=1e-9, maximum=1e12)
_UNIT = Choice(*CONSTANT_UNITS)
#: ENERgy subsystem (manual §5-93 .. §5-108): settings the simulator accepts and stores, header → (attribute,
#: parameter); each gets a setter ``<attribute>_set`` and a query ``<attribute>_q``
_ENERGY_SETTINGS: dict[str, tuple[str, ParamType]] = {
    "ENERgy:OUTPut:CONStant": ("output_constant", _CONSTANT),
    "ENERgy:OUTPut:CONStant:UNIT": ("output_unit", _UNIT),
    "ENERgy:REFerence:CONStant": ("reference_constant", _CONSTANT),
    "ENERgy:REFerence:CONStant:UNIT": ("reference_unit", _UNIT),
    "ENERgy:REFerence:SOURce": ("reference_source", Choice(*REFERENCE_SOURCES)),
    "ENERgy:MUT:CONStant": ("mut_constant", _CONSTANT),
    "ENERgy:MUT:CONStant:UNIT": ("mut_unit", _UNIT),
    "ENERgy:MUT:SOURce": ("mut_source", Choice(*MUT_SOURCES)),
}


def _stored_setting(attr: str, header: str, param: ParamType) -> tuple[Callable[..., None], Callable[..., Any]]:
    """Handlers of a setting that is only stored: ``<header> <value>`` sets ``attr``, ``<header>?`` reads it."""

    @scpi(header, param)
    def setter(self: Any, value: Any) -> None:
        setattr(self, attr, value)

    @scpi(header + "?")
    def query(self: Any) -> Any:
        return getattr(self, attr)

    return setter, query


def _rated(attr: str) -> Callable[[Any], float]:
    """A range bound read from the source's rating at the time of the command."""

    def bound(device: Any) -> float:
        return float(getattr(device.source, attr))

    return bound


class Fluke6105A(ScpiDevice):
    """``*IDN?`` → ``FLUKE,6105A,SIM0001,MeterHIL-sim 0.1`` (model and serial from the simulated-bench file)."""

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.idn = ("FLUKE", source.config.model, source.config.serial, "MeterHIL-sim 0.1")
        self._unsubscribe: Callable[[], None] | None = None
        self._defaults()

    def _defaults(self) -> None:
        self.output_constant = _DEFAULT_CONSTANT
        self.output_unit = _DEFAULT_UNIT
        self.reference_constant = _DEFAULT_CONSTANT
        self.reference_unit = _DEFAULT_UNIT
        self.mut_constant = _DEFAULT_CONSTANT
        self.mut_unit = _DEFAULT_UNIT
        self.mut_source = _DEFAULT_MUT_SOURCE
        self.reference_source = _DEFAULT_REFERENCE_SOURCE
        self.oper_event = 0
        self.oper_enable = 0
        self.dip_level_pct = 0.0
        self.dip_duration: tuple[str, float] = ("S", 0.01)  # ("S", seconds) or ("CYCLES", cycles)
        self.dip_count = 1
        self.dip_delay_s = 0.0
        self.dip_phases = set(range(1, self.source.phases + 1))
        self.flicker_depth_pct = 1.0
        self.flicker_cpm = 110.0
        self.flicker_phases = set(range(1, self.source.phases + 1))

    # -- engine hooks ---------------------------------------------------------------------------
    def attach_clock(self, clock: VirtualClock) -> Callable[[], None]:
        """Re-check settling after every clock advance (releases *OPC? / *WAI); returns the unsubscriber."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = clock.subscribe(self.operations_changed)
        return self._unsubscribe

    def operations_pending(self) -> bool:
        """The outputs are still settling towards the last setpoint."""
        return not self.source.settled

    def reset(self) -> None:
        """*RST / power loss: the source's defaults (output off, settled), energy settings to ours (the engine
        then releases *OPC? / *WAI held on other connections)."""
        super().reset()
        self.source.reset()
        self._defaults()

    def clear_status(self) -> None:
        super().clear_status()
        self.oper_event = 0

    def summary_bits(self) -> int:
        self._latch()
        return _STB_OPER if self.oper_event & self.oper_enable else 0

    def _latch(self) -> None:
        if not self.source.settled:
            self.oper_event |= OPER_SETTLING

    def _changed(self) -> None:
        """After a setting: latch the SETTling event; release waiters at once when nothing settles."""
        self._latch()
        self.operations_changed()

    def _phase(self, phase: int) -> int:
        if phase > self.source.phases:
            raise ScpiError(-241, f"Hardware missing;phase {phase} is not fitted")
        return phase

    # -- amplitudes and angles (manual §5-49 .. §5-52) ------------------------------------------
    @scpi(f"{_PHASE}:VOLTage[:LEVel][:IMMediate][:AMPLitude]", Num("V", 0, _rated("max_voltage")))
    def voltage(self, phase: int, volts: float) -> None:
        self.source.set_voltage(self._phase(phase), volts)
        self._changed()

    @scpi(f"{_PHASE}:VOLTage[:LEVel][:IMMediate][:AMPLitude]?")
    def voltage_q(self, phase: int) -> float:
        return self.source.setpoint(self._phase(phase)).voltage

    @scpi(f"{_PHASE}:CURRent[:LEVel][:IMMediate][:AMPLitude]", Num("A", 0, _rated("max_current")))
    def current(self, phase: int, amps: float) -> None:
        self.source.set_current(self._phase(phase), amps)
        self._changed()

    @scpi(f"{_PHASE}:CURRent[:LEVel][:IMMediate][:AMPLitude]?")
    def current_q(self, phase: int) -> float:
        return self.source.setpoint(self._phase(phase)).current

    @scpi(f"{_PHASE}:VOLTage:PANGle", Num("DEG", -360, 360))
    def voltage_angle(self, phase: int, degrees: float) -> None:
        """Absolute phase angle of the voltage; phase 1 voltage is the 0° reference."""
        self.source.set_voltage_angle(self._phase(phase), degrees)
        self._changed()

    @scpi(f"{_PHASE}:VOLTage:PANGle?")
    def voltage_angle_q(self, phase: int) -> float:
        return self.source.setpoint(self._phase(phase)).voltage_angle

    @scpi(f"{_PHASE}:CURRent:PANGle", Num("DEG", -360, 360))
    def current_angle(self, phase: int, degrees: float) -> None:
        """Absolute phase angle of the current (lagging: below the voltage's angle)."""
        self.source.set_current_angle(self._phase(phase), degrees)
        self._changed()

    @scpi(f"{_PHASE}:CURRent:PANGle?")
    def current_angle_q(self, phase: int) -> float:
        return self.source.setpoint(self._phase(phase)).current_angle

    # -- harmonics (manual §5-55, §5-69: MHARmonics) --------------------------------------------
    def _set_harmonic(self, phase: int, quantity: str, order: int, percent: float, degrees: float) -> None:
        if order > self.source.max_harmonic_order:
            raise ScpiError(-114, f"Header suffix out of range;harmonic order 2..{self.source.max_harmonic_order}")
        self.source.set_harmonic(self._phase(phase), _QUANTITY[quantity], order, percent, degrees)
        self._changed()

    def _harmonic(self, phase: int, quantity: str, order: int) -> tuple[float, float]:
        sp = self.source.setpoint(self._phase(phase))
        table = sp.voltage_harmonics if quantity == "VOLTAGE" else sp.current_harmonics
        for h in table:
            if h.order == order:
                return h.percent, h.degrees
        return 0.0, 0.0

    @scpi(f"{_PHASE}:VOLTage:{_HARMONIC}", Num("PCT", 0, 100), Num("DEG", -360, 360))
    def voltage_harmonic(self, phase: int, order: int, percent: float, degrees: float) -> None:
        """Harmonic ``order`` at ``percent`` of the fundamental, angle relative to the fundamental."""
        self._set_harmonic(phase, "VOLTAGE", order, percent, degrees)

    @scpi(f"{_PHASE}:CURRent:{_HARMONIC}", Num("PCT", 0, 100), Num("DEG", -360, 360))
    def current_harmonic(self, phase: int, order: int, percent: float, degrees: float) -> None:
        self._set_harmonic(phase, "CURRENT", order, percent, degrees)

    @scpi(f"{_PHASE}:VOLTage:{_HARMONIC}?", Choice("AMPLitude", "PANGle", optional=True))
    def voltage_harmonic_q(self, phase: int, order: int, which: str | None) -> float | tuple[float, float]:
        return _pick(self._harmonic(phase, "VOLTAGE", order), which)

    @scpi(f"{_PHASE}:CURRent:{_HARMONIC}?", Choice("AMPLitude", "PANGle", optional=True))
    def current_harmonic_q(self, phase: int, order: int, which: str | None) -> float | tuple[float, float]:
        return _pick(self._harmonic(phase, "CURRENT", order), which)

    @scpi(f"{_PHASE}:VOLTage:{_HARMONIC}:AMPLitude?")
    def voltage_harmonic_amplitude_q(self, phase: int, order: int) -> float:
        return self._harmonic(phase, "VOLTAGE", order)[0]

    @scpi(f"{_PHASE}:VOLTage:{_HARMONIC}:PANGle?")
    def voltage_harmonic_angle_q(self, phase: int, order: int) -> float:
        return self._harmonic(phase, "VOLTAGE", order)[1]

    @scpi(f"{_PHASE}:CURRent:{_HARMONIC}:AMPLitude?")
    def current_harmonic_amplitude_q(self, phase: int, order: int) -> float:
        return self._harmonic(phase, "CURRENT", order)[0]

    @scpi(f"{_PHASE}:CURRent:{_HARMONIC}:PANGle?")
    def current_harmonic_angle_q(self, phase: int, order: int) -> float:
        return self._harmonic(phase, "CURRENT", order)[1]

    @scpi(f"{_PHASE}:VOLTage:MHARmonics:CLEar")
    def voltage_harmonics_clear(self, phase: int) -> None:
        self.source.clear_harmonics(self._phase(phase), "U")
        self._changed()

    @scpi(f"{_PHASE}:CURRent:MHARmonics:CLEar")
    def current_harmonics_clear(self, phase: int) -> None:
        self.source.clear_harmonics(self._phase(phase), "I")
        self._changed()

    # -- frequency and output -------------------------------------------------------------------
    @scpi("[SOURce]:FREQuency[:CW]", Num("HZ", _rated("min_frequency"), _rated("max_frequency")))
    def frequency(self, hz: float) -> None:
        self.source.set_frequency(hz)
        self._changed()

    @scpi("[SOURce]:FREQuency[:CW]?")
    def frequency_q(self) -> float:
        return self.source.frequency

    @scpi("OUTPut[:STATe]", Bool())
    def output(self, on: bool) -> None:
        self.source.set_output(on)
        self._changed()

    @scpi("OUTPut[:STATe]?")
    def output_q(self) -> bool:
        return self.source.output

    # -- per-phase information (manual §5-52, §5-53) --------------------------------------------
    @scpi(f"{_PHASE}:FITTed?")
    def fitted_q(self, phase: int) -> bool:
        """1 if the phase is present in this source."""
        return phase <= self.source.phases

    @scpi(f"{_PHASE}:POWer:WATT?")
    def watt_q(self, phase: int) -> float:
        """Active power of the programmed phase: Σ U_h·I_h·cos φ_h (fundamental and common harmonics)."""
        return self.source.setpoint(self._phase(phase)).active_power

    @scpi(f"{_PHASE}:POWer:VA?")
    def va_q(self, phase: int) -> float:
        """Apparent power of the programmed phase: U_rms·I_rms."""
        return self.source.setpoint(self._phase(phase)).apparent_power

    @scpi(f"{_PHASE}:POWer:VAR?")
    def var_q(self, phase: int) -> float:
        """Reactive power of the programmed phase, √(S² − P²), positive when the current lags."""
        return self.source.setpoint(self._phase(phase)).reactive_power

    # -- ENERgy subsystem (manual §5-93 .. §5-108): accepted and stored ----------------------------
    # class-scope locals() is the namespace the class is built from, so the generated handlers are methods
    for _header, (_attr, _param) in _ENERGY_SETTINGS.items():
        locals()[f"{_attr}_set"], locals()[f"{_attr}_q"] = _stored_setting(_attr, _header, _param)
    del _header, _attr, _param

    # -- dips and short interruptions (our subsystem; limits from the manual's §1-55) ---------------
    @scpi("[SOURce]:DIPS:LEVel", Num("PCT", 0, DIP_MAX_LEVEL_PCT))
    def dip_level(self, pct: float) -> None:
        """Residual voltage during a dip in % of the programmed voltage (0 % = interruption; above 100 %: a
        swell)."""
        self.dip_level_pct = pct

    @scpi("[SOURce]:DIPS:LEVel?")
    def dip_level_q(self) -> float:
        return self.dip_level_pct

    @scpi("[SOURce]:DIPS:DURation", Num("S", DIP_MIN_S, DIP_MAX_S))
    def dip_duration_set(self, seconds: float) -> None:
        self.dip_duration = ("S", seconds)

    @scpi("[SOURce]:DIPS:DURation?")
    def dip_duration_q(self) -> float:
        """Duration in seconds (a duration given in cycles at the present frequency)."""
        return self._dip_seconds()

    @scpi("[SOURce]:DIPS:DURation:CYCLes",
          Num(None, lambda d: DIP_MIN_S * d.source.frequency, lambda d: DIP_MAX_S * d.source.frequency))
    def dip_cycles_set(self, cycles: float) -> None:
        """Duration in cycles of the output frequency (as OIML D 11 states them); kept in cycles, so it follows
        a later frequency change."""
        self.dip_duration = ("CYCLES", cycles)

    @scpi("[SOURce]:DIPS:DURation:CYCLes?")
    def dip_cycles_q(self) -> float:
        return self._dip_seconds() * self.source.frequency

    @scpi("[SOURce]:DIPS:COUNt", Int(1, DIP_MAX_COUNT))
    def dip_count_set(self, count: int) -> None:
        self.dip_count = count

    @scpi("[SOURce]:DIPS:COUNt?")
    def dip_count_q(self) -> int:
        return self.dip_count

    @scpi("[SOURce]:DIPS:DELay", Num("S", 0, DIP_MAX_DELAY_S))
    def dip_delay_set(self, seconds: float) -> None:
        """Time from the end of one dip to the start of the next."""
        self.dip_delay_s = seconds

    @scpi("[SOURce]:DIPS:DELay?")
    def dip_delay_q(self) -> float:
        return self.dip_delay_s

    @scpi(f"{_PHASE}:VOLTage:DIPS[:STATe]", Bool())
    def dip_phase_set(self, phase: int, on: bool) -> None:
        """Whether the phase takes part in the dips (all do after *RST)."""
        self._phase(phase)
        if on:
            self.dip_phases.add(phase)
        else:
            self.dip_phases.discard(phase)

    @scpi(f"{_PHASE}:VOLTage:DIPS[:STATe]?")
    def dip_phase_q(self, phase: int) -> bool:
        return self._phase(phase) in self.dip_phases

    @scpi("[SOURce]:DIPS:INITiate")
    def dip_initiate(self) -> None:
        """Start the programmed dips now: -221 with the output off, no phase selected, or a duration in cycles
        that the present frequency puts beyond 1 ms .. 60 s."""
        seconds = self._dip_seconds()
        if not DIP_MIN_S * (1 - 1e-12) <= seconds <= DIP_MAX_S * (1 + 1e-12):
            raise ScpiError(-221, f"Settings conflict;dip duration {seconds:g} s beyond "
                                  f"{DIP_MIN_S:g} .. {DIP_MAX_S:g} s")
        if not self.source.output:
            raise ScpiError(-221, "Settings conflict;output is off")
        if not self.dip_phases:
            raise ScpiError(-221, "Settings conflict;no phase selected for the dips")
        self.source.start_dips(self.dip_level_pct, seconds, tuple(sorted(self.dip_phases)), self.dip_count,
                               self.dip_delay_s)

    @scpi("[SOURce]:DIPS:ABORt")
    def dip_abort(self) -> None:
        self.source.abort_dips()

    @scpi("[SOURce]:DIPS:RUNNing?")
    def dip_running_q(self) -> bool:
        """1 while programmed dips are still to come or in progress."""
        return self.source.dips_running

    @scpi("[SOURce]:DIPS:EVENts?")
    def dip_events_q(self) -> int:
        """Dips completed since power-on or *RST."""
        return self.source.dip_events_done()

    # -- rectangular voltage fluctuation (flicker; our subsystem, after the 6100A's flicker option, U) --------
    @scpi("[SOURce]:FLICker:DEPTh", Num("PCT", 0, FLICKER_MAX_DEPTH_PCT))
    def flicker_depth(self, pct: float) -> None:
        """ΔV/V peak to peak, % of the programmed voltage (IEC 61000-4-15 Table 5 convention)."""
        self.flicker_depth_pct = pct

    @scpi("[SOURce]:FLICker:DEPTh?")
    def flicker_depth_q(self) -> float:
        return self.flicker_depth_pct

    @scpi("[SOURce]:FLICker:RATE", Num(None, FLICKER_CPM[0], FLICKER_CPM[1]))
    def flicker_rate(self, cpm: float) -> None:
        """Changes per minute (two per period of the rectangular modulation)."""
        self.flicker_cpm = cpm

    @scpi("[SOURce]:FLICker:RATE?")
    def flicker_rate_q(self) -> float:
        return self.flicker_cpm

    @scpi(f"{_PHASE}:VOLTage:FLICker[:STATe]", Bool())
    def flicker_phase_set(self, phase: int, on: bool) -> None:
        self._phase(phase)
        if on:
            self.flicker_phases.add(phase)
        else:
            self.flicker_phases.discard(phase)

    @scpi(f"{_PHASE}:VOLTage:FLICker[:STATe]?")
    def flicker_phase_q(self, phase: int) -> bool:
        return self._phase(phase) in self.flicker_phases

    @scpi("[SOURce]:FLICker:INITiate")
    def flicker_initiate(self) -> None:
        """Start the fluctuation on the selected phases: -221 with none selected, a zero depth or a peak beyond
        the voltage rating."""
        if not self.flicker_phases or self.flicker_depth_pct <= 0:
            raise ScpiError(-221, "Settings conflict;no phase selected or zero depth for the fluctuation")
        try:
            self.source.start_flicker(self.flicker_depth_pct, self.flicker_cpm, tuple(sorted(self.flicker_phases)))
        except ValueError as exc:
            raise ScpiError(-221, f"Settings conflict;{exc}") from None

    @scpi("[SOURce]:FLICker:ABORt")
    def flicker_abort(self) -> None:
        self.source.stop_flicker()

    @scpi("[SOURce]:FLICker:RUNNing?")
    def flicker_running_q(self) -> bool:
        return self.source.flicker is not None

    def _dip_seconds(self) -> float:
        unit, value = self.dip_duration
        return value / self.source.frequency if unit == "CYCLES" else value

    # -- STATus:OPERation (SCPI-1999 Vol. 2 §20.1) ----------------------------------------------
    @scpi("STATus:OPERation:CONDition?")
    def oper_condition_q(self) -> int:
        """Bit 1 SETTling while the outputs approach a new setpoint."""
        return 0 if self.source.settled else OPER_SETTLING

    @scpi("STATus:OPERation[:EVENt]?")
    def oper_event_q(self) -> int:
        """Latched condition bits since the last read (read clears)."""
        self._latch()
        value, self.oper_event = self.oper_event, 0
        return value

    @scpi("STATus:OPERation:ENABle", Int(0, 32767))
    def oper_enable_set(self, mask: int) -> None:
        self.oper_enable = mask

    @scpi("STATus:OPERation:ENABle?")
    def oper_enable_q(self) -> int:
        return self.oper_enable

    @scpi("STATus:PRESet")
    def status_preset(self) -> None:
        """SCPI-1999 Vol. 2 §20.7: enable registers of the SCPI status structures to their preset (0)."""
        self.oper_enable = 0


def _pick(values: tuple[float, float], which: str | None) -> float | tuple[float, float]:
    if which == "AMPLITUDE":
        return values[0]
    if which == "PANGLE":
        return values[1]
    return values
