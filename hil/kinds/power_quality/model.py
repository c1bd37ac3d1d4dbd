"""Plan kinds of power-quality tests (IEC 61000-4-30 class S functions of meters, tested in the manner of
IEC 62586-2): what can be checked without the bench is checked here — each event's level against its kind, the
harmonic orders and amplitudes against the source, the test window against the events."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_ID = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
#: the longest dip, swell or interruption the source plays (6100-series dip facility, 1 ms … 60 s)
MAX_EVENT_S = 60.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PlayedEvent(_Model):
    """One event the source plays: a dip to ``level_pct`` of Un (residual), a swell to it, or an interruption
    (level 0), for ``duration_s``, on ``phases`` (None: all)."""

    kind: Literal["dip", "swell", "interruption"]
    level_pct: float = Field(0.0, ge=0, le=200)
    duration_s: float = Field(gt=0, le=MAX_EVENT_S)
    phases: list[Annotated[int, Field(ge=1, le=3)]] | None = None

    @model_validator(mode="after")
    def _level_of_kind(self) -> PlayedEvent:
        """IEC 61000-4-30 5.4 / 5.5 thresholds (defaults): dip below 90 %, swell above 110 %, interruption below
        5 % on every phase (5.5.2: a polyphase interruption needs all channels; below 5 % on some is a dip)."""
        every = self.phases is None or set(self.phases) == {1, 2, 3}
        if self.kind == "interruption" and not every:
            raise ValueError("phases: an interruption is played on every phase (on some it is a dip, IEC 61000-4-30 "
                             "5.5.2)")
        ok = {"dip": (5 if every else 0) <= self.level_pct < 90 and not (every and self.level_pct < 5),
              "swell": 110 < self.level_pct <= 200, "interruption": self.level_pct < 5}[self.kind]
        if not ok:
            want = {"dip": "between 5 and 90 %" + ("" if every else " (0 … 90 % on some phases)"),
                    "swell": "above 110 % (at most 200 %)", "interruption": "below 5 %"}[self.kind]
            raise ValueError(f"level_pct: a {self.kind} needs a level {want} of Un, got {self.level_pct:g} %")
        return self


def _default_codes() -> dict[Literal["dip", "swell", "interruption"], int]:
    return {"dip": 1, "swell": 2, "interruption": 3}


class PqEventsTest(_Model):
    """Dips, swells and interruptions (IEC 61000-4-30 5.4, 5.5): each event the source plays is found in the meter's
    power-quality event log with its kind, its duration within ``duration_tolerance_s`` and its residual (or
    maximum) voltage within ``voltage_tolerance_pct`` of Un; the counters advance by exactly the events played;
    no event is logged that was not played."""

    id: _ID
    kind: Literal["pq_events"]
    events: list[PlayedEvent] = Field(min_length=1)
    #: from the end of one event to the start of the next (the meter's window of the next event starts clean)
    gap_s: float = Field(5.0, gt=0, le=600)
    #: class S: about a cycle of the 50 Hz supply for the duration, 1 % of Un for the voltage (U: the lab's values)
    duration_tolerance_s: float = Field(0.04, gt=0)
    voltage_tolerance_pct: float = Field(1.0, gt=0)
    #: the log entry's start against the bench clock (the meters' clocks are set to it first)
    start_tolerance_s: float = Field(2.0, gt=0)
    event_log: str = "0.0.99.98.4.255"
    dip_counter: str = "1.0.12.32.0.255"
    swell_counter: str = "1.0.12.36.0.255"
    interruption_counter: str = "0.0.96.7.21.255"
    #: the log's event codes
    codes: dict[Literal["dip", "swell", "interruption"], int] = Field(default_factory=_default_codes)


class Harmonic(_Model):
    order: int = Field(ge=2, le=50)
    percent: float = Field(gt=0, le=100)
    degrees: float = Field(0.0, ge=-360, le=360)


class HarmonicSignal(_Model):
    """A voltage waveform: the fundamental at Un plus ``harmonics`` (on every phase)."""

    name: str = Field(min_length=1)
    harmonics: list[Harmonic] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> HarmonicSignal:
        orders = [h.order for h in self.harmonics]
        if len(set(orders)) != len(orders):
            raise ValueError(f"harmonics: an order is given twice in {orders}")
        return self


class PqHarmonicsTest(_Model):
    """Voltage harmonics and THD (IEC 61000-4-7, IEC 61000-4-30 5.8): for each signal the source plays, the
    meter's THD and harmonic voltages of every element against the values the signal has by IEC 61000-4-7 (hil.pq
    on the programmed waveform), each within its tolerance plus the source's uncertainty."""

    id: _ID
    kind: Literal["pq_harmonics"]
    signals: list[HarmonicSignal] = Field(min_length=1)
    #: orders whose magnitude is judged (default: every order the signal carries)
    orders: list[Annotated[int, Field(ge=2, le=50)]] | None = None
    #: class S harmonics: ±5 % of the reading where U_h ≥ 1 % of U_1, else ±0.05 % of U_1 (U: the lab's values)
    harmonic_tolerance_pct_of_reading: float = Field(5.0, gt=0)
    harmonic_tolerance_floor_pct: float = Field(0.05, gt=0)
    thd_tolerance_pct: float = Field(0.3, gt=0)
    #: the source's uncertainty of a harmonic amplitude, % of U_1 (its data sheet)
    source_uncertainty_pct: float = Field(0.02, ge=0)
    settle_s: float = Field(5.0, ge=0)


class DiagnosedFault(_Model):
    """A fault condition the source plays: a phase's voltage lost, the phase sequence reversed (L2 and L3
    swapped), or one element's current reversed (its current angle turned by 180°)."""

    fault: Literal["phase_loss", "reversed_sequence", "reversed_current"]
    phase: int = Field(1, ge=1, le=3)


def _default_faults() -> list[DiagnosedFault]:
    return [DiagnosedFault(fault="phase_loss", phase=2), DiagnosedFault(fault="reversed_sequence"),
            DiagnosedFault(fault="reversed_current", phase=1)]


def _default_bits() -> dict[str, list[int]]:
    return {"phase_loss": [0, 1, 2], "reversed_sequence": [3], "reversed_current": [4, 5, 6]}


class PqDiagnosisTest(_Model):
    """Fault diagnosis: under load, each fault condition the source plays sets the meter's flag for it (and no
    other) within ``max_detect_s``, and the flag clears within ``max_detect_s`` once the fault goes; before any
    fault no flag is set."""

    id: _ID
    kind: Literal["pq_diagnosis"]
    faults: list[DiagnosedFault] = Field(default_factory=_default_faults, min_length=1)
    current: str = "Iref"
    max_detect_s: float = Field(5.0, gt=0, le=600)
    #: the meter's diagnostic status word and its bits (per phase for phase loss and reversed current)
    status_object: str = "0.0.96.5.4.255"
    bits: dict[str, list[Annotated[int, Field(ge=0, le=31)]]] = Field(default_factory=_default_bits)


class FlickerSignal(_Model):
    """A rectangular voltage fluctuation (IEC 61000-4-15 Table 5 signals): ΔV/V ``depth_pct`` peak to peak at ``cpm``
    changes per minute, on every phase, for one whole 10-min interval."""

    cpm: float = Field(ge=0.1, le=4800)
    depth_pct: float = Field(gt=0, le=4)


class PqFlickerTest(_Model):
    """Flicker (IEC 61000-4-15, IEC 61000-4-30 5.3): each fluctuation played for one whole 10-min interval of the
    bench clock (the meters' clocks set to it first); the meter's Pst of that interval on every element against
    the Pst of the programmed signal by the IEC 61000-4-15 flickermeter (hil.pq), within ``tolerance_pct`` of it
    (the flickermeter's ±5 % at the Table 5 points) or ``floor``."""

    id: _ID
    kind: Literal["pq_flicker"]
    signals: list[FlickerSignal] = Field(min_length=1)
    tolerance_pct: float = Field(5.0, gt=0)
    floor: float = Field(0.02, gt=0)
    pst_objects: list[str] = Field(default_factory=lambda: ["1.0.32.35.0.255", "1.0.52.35.0.255", "1.0.72.35.0.255"])


class PhaseVoltage(_Model):
    """One phase's fundamental voltage: ``pct`` of Un at ``degrees`` (absolute, L1 of a balanced supply at 0°)."""

    pct: float = Field(gt=0, le=115)
    degrees: float = Field(ge=-360, le=360)


class UnbalanceSignal(_Model):
    """Three phase voltages, L1, L2, L3 (a balanced supply: 100 % at 0°, −120°, +120°)."""

    name: str = Field(min_length=1)
    phases: list[PhaseVoltage] = Field(min_length=3, max_length=3)


class PqUnbalanceTest(_Model):
    """Voltage unbalance (IEC 61000-4-30 5.7.1): for each set of phase voltages the source plays, the three-phase
    meter's u2 = |U2| / |U1| · 100 % against the value of the programmed phasors by symmetrical components
    (hil.pq.unbalance), within ``tolerance_pct`` (points of %)."""

    id: _ID
    kind: Literal["pq_unbalance"]
    signals: list[UnbalanceSignal] = Field(min_length=1)
    #: class S: ±0.3 points of % for u2 (U: the lab's value, unconfirmed against IEC 61000-4-30 class S)
    tolerance_pct: float = Field(0.3, gt=0)
    settle_s: float = Field(5.0, ge=0)
    unbalance_object: str = "1.0.12.7.125.255"
