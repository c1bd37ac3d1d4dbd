"""The roles of a meter-test bench, as typed protocols.

Test code asks the bench for a role (``bench.source``, ``bench.meter(7)``), never for an address; any driver that
implements the protocol can play the role. Units are SI: volts, amperes, degrees, hertz, seconds, °C, % RH.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, Protocol, runtime_checkable

Element = int | Literal["SIGMA"]


@dataclass(frozen=True)
class PhaseLoad:
    """What one phase of the source delivers. Angles in degrees, absolute (phase 1 voltage = 0°);
    a current lagging its voltage (inductive load) has a smaller angle: PF 0.5L = U angle − 60°."""

    voltage_v: float
    current_a: float
    voltage_angle_deg: float = 0.0
    current_angle_deg: float = 0.0


ChannelState = Literal["IDLE", "WAITING", "RUNNING", "FINISHED"]


class ChannelResult(NamedTuple):
    """One error-calculator channel: state and latest result (``error_pct`` None: no result yet; +inf: no
    reference pulse in the gate, so no error can be computed).

    A named tuple rather than a frozen dataclass: as immutable, and built 2.5 × faster — a poll of a 24-position
    bench builds 24 of them."""

    channel: int
    state: ChannelState
    error_pct: float | None
    mut_pulses: int
    ref_pulses: int


@runtime_checkable
class Source(Protocol):
    """Meter-test source (phantom power): independent voltage and current per phase."""

    phases: int

    def apply(self, loads: Mapping[int, PhaseLoad], frequency_hz: float | None = None) -> None:
        """Program every given phase; outputs keep their on/off state."""

    def output_on(self) -> None: ...

    def output_off(self) -> None:
        """Switch every output off. Must be safe to call at any time, also after a lost connection."""

    def is_on(self) -> bool: ...

    def settled(self) -> bool:
        """True once the outputs have settled after the last change."""


@runtime_checkable
class HarmonicSource(Source, Protocol):
    """A source that adds harmonics to its voltage and current outputs."""

    def set_harmonic(self, phase: int, circuit: str, order: int, percent: float, degrees: float) -> None:
        """Harmonic ``order`` of ``circuit`` ("U" or "I") on ``phase`` at ``percent`` of the fundamental (0: off),
        ``degrees`` from the fundamental. Refused before anything is sent when beyond the source's range."""

    def clear_harmonics(self) -> None:
        """Every harmonic of every phase off (part of the source's safe state)."""


@runtime_checkable
class FlickerSource(Source, Protocol):
    """A source that plays a rectangular voltage fluctuation (IEC 61000-4-15 Table 5 test signals)."""

    def start_flicker(self, depth_pct: float, cpm: float, phases: Sequence[int] | None = None) -> None:
        """ΔV/V ``depth_pct`` peak to peak at ``cpm`` changes per minute on ``phases`` (None: all), from now."""

    def flicker_stop(self) -> None:
        """Back to a steady voltage (harmless when no fluctuation runs)."""


@runtime_checkable
class DipSource(Source, Protocol):
    """A source that also generates voltage dips and short interruptions (OIML D 11; power cycling is
    ``output_off`` / ``output_on``). The current of a phantom source is not dipped."""

    def program_dip(self, level_pct: float, *, cycles: float | None = None, duration_s: float | None = None,
                    phases: Sequence[int] | None = None, repeat: int = 1, interval_s: float = 0.0) -> None:
        """Residual voltage ``level_pct`` (0..100 % of the programmed voltage; 0 = interruption; above 100 %, where
        the source can, a swell) for ``cycles`` of the output frequency or ``duration_s`` (exactly one, > 0), on
        ``phases`` (None: all), ``repeat`` times, ``interval_s`` from the end of one dip to the start of the next.
        Refused before anything is sent when a value is beyond the source's range (:meth:`check_dip`)."""

    def check_dip(self, level_pct: float, *, cycles: float | None = None, duration_s: float | None = None,
                  phases: Sequence[int] | None = None, repeat: int = 1, interval_s: float = 0.0) -> None:
        """Raise (ValueError or a subclass) for what :meth:`program_dip` would refuse; sends nothing."""

    def trigger_dip(self) -> None:
        """Start the programmed dips now."""

    def dip_running(self) -> bool:
        """True while programmed dips are still to come or in progress."""

    def dips_completed(self) -> int:
        """Dips completed since power-on or reset: a dip that did not happen is not counted by the caller."""

    def abort_dips(self) -> None:
        """Stop a running dip program now; harmless when none runs (part of the source's safe state)."""


IntegrationState = Literal["RESET", "READY", "START", "STOP", "TIMEUP", "ERROR"]
CalculatorMode = Literal["ERROR", "CONTINUOUS", "COUNT"]


@runtime_checkable
class Instrument(Protocol):
    """What every bench instrument except the source offers (the source keeps its own role, above)."""

    def identify(self) -> str:
        """The identity string the bench file's ``idn`` pattern is matched against."""

    def safe_state(self) -> None:
        """Leave the instrument harmless; safe to call at any time, more than once, after a lost link."""


@runtime_checkable
class ReferenceStandard(Instrument, Protocol):
    """Reference standard / power analyser: measures what is really delivered; integrates energy."""

    def read(self, items: Sequence[tuple[str, Element]]) -> list[float]:
        """Values of ``(function, element)`` pairs, e.g. ``[("P", "SIGMA"), ("U", 1)]``; NaN = no data."""

    def start_integration(self, timer_s: float = 0.0) -> None:
        """Reset and start energy integration; ``timer_s`` > 0 stops it automatically after that time."""

    def stop_integration(self) -> None: ...

    def integration_state(self) -> IntegrationState: ...


@runtime_checkable
class ErrorCalculator(Instrument, Protocol):
    """One channel per meter position: counts meter pulses against reference pulses."""

    channels: int

    def configure(self, positions: Sequence[int], mut_constant: float | Mapping[int, float], mut_pulses: int,
                  ref_constant: float | None = None, mode: CalculatorMode = "ERROR") -> None:
        """Constants in imp/kWh; ``mut_constant`` per position when meter types differ; ``ref_constant``
        None keeps the calculator's own (the reference standard's pulse constant)."""

    def start(self, positions: Sequence[int]) -> None: ...

    def abort(self, positions: Sequence[int]) -> None: ...

    def results(self) -> dict[int, ChannelResult]:
        """All channels in one round trip."""


@runtime_checkable
class ClimaticChamber(Instrument, Protocol):
    """Temperature in °C, humidity in % RH, gradients in K/min (0 = as fast as the chamber can)."""

    def set_temperature(self, celsius: float) -> None: ...

    def set_humidity(self, percent_rh: float) -> None: ...

    def set_gradient(self, up_k_per_min: float, down_k_per_min: float) -> None: ...

    def temperature(self) -> float:
        """The air temperature now (not the setpoint)."""

    def humidity(self) -> float | None:
        """The air humidity now; None for a chamber without humidity control."""

    def start(self) -> None: ...

    def stop(self) -> None:
        """Standby / safe state."""

    def is_running(self) -> bool: ...

    def alarms(self) -> list[str]:
        """Active alarm messages (empty when none); an alarm stops a real chamber."""


@runtime_checkable
class MeterPort(Protocol):
    """The meter's communication port (IEC 62056-21 optical probe, DLMS, ...)."""

    def identify(self) -> str: ...

    def readout(self) -> dict[str, str]:
        """Every register of a data readout: address → value with unit, e.g. ``"001234.567*kWh"``."""

    def read(self, address: str) -> str: ...

    def write(self, address: str, value: str) -> None: ...


@runtime_checkable
class Clock(Protocol):
    """Time as the bench sees it: wall time on a real bench, virtual time on a simulated one."""

    def now(self) -> float:
        """Seconds, monotonic."""

    def utc(self) -> datetime:
        """The bench's reference time of day (aware, UTC), what meter clocks are checked against."""

    def sleep(self, seconds: float) -> None: ...

    def wait_until(self, done: Callable[[], bool], timeout_s: float, poll_s: float) -> bool:
        """Poll ``done`` until true or ``timeout_s`` passed; returns whether it became true."""
