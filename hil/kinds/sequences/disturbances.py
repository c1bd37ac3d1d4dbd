"""Plan kind ``power_cycling``: voltage dips and short interruptions (OIML D 11) and power cycling by the source,
with the meters monitored through each of them.

    - id: power_cycling
      kind: power_cycling
      load: {current: Iref}
      temperature_c: 23                                  # optional chamber setpoint (null: no chamber needed)
      dips: {preset: oiml_d11_level2}                    # or {list: [{level_pct: 0, cycles: 0.5}, ...]}
      power_cycles: {cycles: 500, off_s: 5, on_s: 25}
      monitoring: {interval_s: 60}

Order: the chamber ramp (if a temperature is given), every dip of the list ``repeat`` times, then the power
cycles in blocks of :data:`BLOCK_CYCLES` (a block is the unit of the regular checkpoint). Each window (one dip, one
power cycle) is judged and recorded whole or not at all; a stop request saves how many windows of the step are
done, and a resumed run goes on from the first window not done (after a hard kill: from the last checkpoint, the
step's start). Judgement per meter (docs/sequences.md): after each dip and each power-up its pulses resume
within the window (dip plus interval, or the on time); a meter whose pulses stop is read over its port (silent:
``dead``, answers: ``no_pulses``) and failed, with its failure window and, for power cycling, the number of the
cycle after which it did not come back (``failure_cycle``). C.7.0 (power failures) is read before and after the
sequence and recorded next to the number of interruptions applied.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from hil.kinds.sequences.model import ChecksOptions, LoadOption, MonitoringOptions, _Model
from hil.kinds.sequences.monitor import MeterState, monitoring_row
from hil.safety import critical_section
from hil.standards import environmental as env
from hil.standards.dips import DIP_PRESETS, OIML_D11_LEVEL2, DipRow, mains_cycles
from instruments.drivers.errors import BenchFault
from instruments.drivers.fluke6105a import DIP_MAX_CYCLES, DIP_MIN_CYCLES
from instruments.drivers.iec62056 import number_of
from instruments.roles import DipSource

if TYPE_CHECKING:
    from hil.kinds.sequences.profile import Step
    from hil.kinds.sequences.runner import SequenceRunner, _State
    from hil.measure.accuracy import PointSpec

#: power cycles per step (checkpoint granularity)
BLOCK_CYCLES = 25
POWER_FAILURE_REGISTER = "C.7.0"
#: the chamber counts as at the setpoint within ± this: the ±2 K chamber tolerance of IEC 60068-2-2 (dry heat,
#: the temperatures power cycling is run at), hil.standards.environmental
DEFAULT_BAND_K = env.DRY_HEAT_TOL_K.value

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
#: a dip's duration in mains cycles that a dip source can play at any output frequency (the 6105A driver's range,
#: the only DipSource driver: 1 ms at 70 Hz .. 60 s at 40 Hz); the source's own check runs again at the start
DipCycles = Annotated[float, Field(ge=DIP_MIN_CYCLES, le=DIP_MAX_CYCLES, allow_inf_nan=False)]


# -- plan model -------------------------------------------------------------------------------------------
class DipSpec(_Model):
    """One dip: residual voltage in % of the test voltage (0 = short interruption), duration in mains cycles."""

    level_pct: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
    cycles: DipCycles


class DipsOption(_Model):
    """A preset (``oiml_d11_level2``) or an explicit list; each dip applied ``repeat`` times, ``interval_s``
    from the end of one to the start of the next."""

    preset: Literal["oiml_d11_level2"] | None = None
    dips: list[DipSpec] | None = Field(None, alias="list", min_length=1)
    repeat: Annotated[int, Field(ge=1, le=1000)] | None = None  # None: the preset's (10), else 1
    #: None: the preset's minimum; for a list, OIML D 11's minimum (10 s). > 0: a dip needs time after it to be
    #: judged (pulses must resume in the window dip + interval)
    interval_s: Positive | None = None
    phases: list[Annotated[int, Field(ge=1, le=3)]] | None = None  # None: all phases

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_source(self) -> DipsOption:
        if (self.preset is None) == (self.dips is None):
            raise ValueError("give either preset or list")
        if self.preset is not None and self.interval_s is not None:
            table = DIP_PRESETS[self.preset]
            if self.interval_s < table.min_interval_s:
                # refused, not warned: a shorter interval is not the standard's test any more
                raise ValueError(f"interval_s {self.interval_s:g} s is below the {table.min_interval_s:g} s "
                                 f"that {table.standard} ({table.name}) requires between dips")
        if self.phases is not None and not self.phases:
            raise ValueError("phases: give at least one phase (or leave it out for all)")
        return self

    def rows(self) -> list[tuple[DipRow | DipSpec, int, float]]:
        """(dip, repeat, interval) in run order."""
        if self.preset is not None:
            t = DIP_PRESETS[self.preset]
            repeat = self.repeat if self.repeat is not None else t.repeat
            interval = self.interval_s if self.interval_s is not None else t.min_interval_s
            return [(r, repeat, interval) for r in t.rows]
        assert self.dips is not None
        interval = self.interval_s if self.interval_s is not None else OIML_D11_LEVEL2.min_interval_s
        return [(d, self.repeat or 1, interval) for d in self.dips]


class PowerCyclesOption(_Model):
    """``cycles`` times: output off for ``off_s``, on for ``on_s`` (the meters must be back within it)."""

    cycles: Annotated[int, Field(ge=1, le=1_000_000)]
    off_s: Positive
    on_s: Positive


class PowerCyclingTest(_Model):
    """Dips and short interruptions (OIML D 11) and power cycling, generated by the source."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["power_cycling"]
    load: LoadOption = Field(default_factory=LoadOption)
    temperature_c: float | None = None  # chamber setpoint; None: no chamber needed
    humidity_pct: float | None = Field(None, ge=0, le=100)
    gradient_k_per_min: Positive = env.MAX_RAMP_K_PER_MIN.value
    band_k: Positive = DEFAULT_BAND_K
    dips: DipsOption | None = None
    power_cycles: PowerCyclesOption | None = None
    monitoring: MonitoringOptions = Field(default_factory=MonitoringOptions)
    checks: ChecksOptions | None = None  # accuracy checks before / after, shift limit

    @model_validator(mode="after")
    def _something(self) -> PowerCyclingTest:
        if self.dips is None and self.power_cycles is None:
            raise ValueError("give dips, power_cycles or both")
        if self.monitoring.max_error_shift_pct is not None:
            # every window has an energy gap (a dip, an outage): no error can be monitored across it
            raise ValueError("monitoring.max_error_shift_pct: power cycling does not monitor the error (every "
                             "window has an energy gap); judge the error with checks.max_shift_pct")
        if self.checks is not None and self.checks.during_every_h is not None:
            raise ValueError("checks.during_every_h: power cycling has no soak to pause for a check; use the "
                             "checks before and after")
        return self

    @property
    def end_temperature_c(self) -> None:
        """No ramp back at the end (the profile keeps the chamber where it is)."""
        return None

    def point_name(self) -> str:
        parts = []
        if self.dips is not None:
            parts.append(f"dips {self.dips.preset or f'×{len(self.dips.rows())}'}")
        if self.power_cycles is not None:
            pc = self.power_cycles
            parts.append(f"{pc.cycles} power cycles {pc.off_s:g} s off / {pc.on_s:g} s on")
        where = f" at {self.temperature_c:g} °C" if self.temperature_c is not None else ""
        return ", ".join(parts) + where


def check_dips_against_bench(test: PowerCyclingTest, phases: int) -> None:
    """At plan expansion: the dipped phases exist on the bench (its file's ``limits.phases``); ProfileError (the
    bench-file refusal of a sequence, a PlanError at expansion) otherwise."""
    from hil.kinds.sequences.profile import ProfileError

    if test.dips is None or test.dips.phases is None:
        return
    beyond = sorted(p for p in test.dips.phases if p > phases)
    if beyond:
        raise ProfileError(f"test {test.id!r}: dips.phases {beyond} beyond the bench's {phases} phase(s)")


# -- steps ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DipBurst:
    """One dip ``repeat`` times; ``cycles_50hz`` / ``cycles_60hz`` chosen by the load's frequency."""

    level_pct: float
    cycles_50hz: float
    cycles_60hz: float
    repeat: int
    interval_s: float
    phases: tuple[int, ...] | None
    final: bool = False  # the test's last step: C.7.0 is read after it
    humidity_pct = None  # the chamber is left as it is (the runner asks every step)

    @property
    def name(self) -> str:
        return f"dip {self.level_pct:g} % for {self.cycles_50hz:g}/{self.cycles_60hz:g} cycles ×{self.repeat}"

    def cycles(self, frequency_hz: float) -> float:
        return mains_cycles(frequency_hz, self.cycles_50hz, self.cycles_60hz)


@dataclass(frozen=True)
class PowerCycles:
    """Power cycles ``first`` .. ``first + count − 1`` of the test (numbered from 1)."""

    first: int
    count: int
    off_s: float
    on_s: float
    final: bool = False
    humidity_pct = None

    @property
    def name(self) -> str:
        return f"power cycles {self.first}-{self.first + self.count - 1}"


DisturbanceStep = DipBurst | PowerCycles


def disturbance_steps(test: PowerCyclingTest) -> list[Step]:
    """The test's steps in run order: chamber ramp (if any), dips, power-cycle blocks."""
    from hil.kinds.sequences.profile import Ramp

    steps: list[Step] = []
    if test.temperature_c is not None:
        steps.append(Ramp(test.temperature_c, test.gradient_k_per_min, test.band_k, test.humidity_pct))
    dist: list[DisturbanceStep] = []
    if test.dips is not None:
        phases = tuple(test.dips.phases) if test.dips.phases is not None else None
        for d, repeat, interval in test.dips.rows():
            c50, c60 = (d.cycles_50hz, d.cycles_60hz) if isinstance(d, DipRow) else (d.cycles, d.cycles)
            dist.append(DipBurst(d.level_pct, c50, c60, repeat, interval, phases))
    if test.power_cycles is not None:
        pc = test.power_cycles
        for first in range(1, pc.cycles + 1, BLOCK_CYCLES):
            dist.append(PowerCycles(first, min(BLOCK_CYCLES, pc.cycles - first + 1), pc.off_s, pc.on_s))
    dist[-1] = replace(dist[-1], final=True)
    return steps + list(dist)


# -- before anything starts -------------------------------------------------------------------------------
def mains_hz(load: PointSpec | None) -> float:
    """The supply frequency the dips' cycles count in: the load's (a power-cycling test is always energised)."""
    if load is None:
        raise BenchFault("source", "dips and power cycles need the meters energised at a load (its frequency)")
    return float(load.frequency_hz)


def check_disturbances(bench: Any, steps: list[Step], load: PointSpec | None) -> None:
    """At sequence start, before the load is applied: the source plays :class:`DipSource` and accepts every dip
    (its own range checks, nothing sent). BenchFault otherwise: the test is broken before anything started."""
    bursts = [s for s in steps if isinstance(s, DipBurst)]
    if not bursts:
        return
    src = bench.source
    if not isinstance(src, DipSource):
        raise BenchFault("source", f"{type(src).__name__} cannot generate dips (it does not play DipSource)")
    hz = mains_hz(load)
    for b in bursts:
        try:
            src.check_dip(b.level_pct, cycles=b.cycles(hz), phases=b.phases, repeat=1, interval_s=0.0)
        except ValueError as exc:  # RangeError too
            raise BenchFault("source", f"{b.name} at {hz:g} Hz refused by the source: {exc}") from exc


# -- execution --------------------------------------------------------------------------------------------
def run_disturbance_step(runner: SequenceRunner, st: _State, step: DisturbanceStep) -> None:
    """Run one step on ``runner`` (``st`` its state), from its first window not done yet."""
    _Disturb(runner, st).run(step)


class _Disturb:
    """The runner's bench, meters and monitoring buffer, seen by a disturbance step."""

    def __init__(self, runner: SequenceRunner, st: _State) -> None:
        self.r, self.st = runner, st
        self.bench = runner.bench
        self.clock = runner.bench.clock
        assert isinstance(runner.test, PowerCyclingTest)
        self.test: PowerCyclingTest = runner.test
        self.frequency = mains_hz(runner.load)
        self._chamber_at, self._chamber_c = math.nan, math.nan

    def now(self) -> float:
        return float(self.clock.now()) - float(self.st.origin)

    def extras(self, p: int) -> dict[str, Any]:
        return self.st.extras.setdefault(str(p), {})

    def run(self, step: DisturbanceStep) -> None:
        if any("power_failures_before" not in self.extras(p) for p in self.r.positions):
            self.registers()  # first disturbance step: baselines of the registers and the power-failure counters
        for p in self.r.positions:
            ex = self.extras(p)
            if "power_failures_before" not in ex:
                ex["power_failures_before"] = self.power_failures(p)
                ex.setdefault("dips_applied", 0)
                ex.setdefault("short_interruptions_applied", 0)  # the dips to 0 %
                ex.setdefault("power_cycles_applied", 0)
        # windows of this step already done (saved when a stop request interrupted it)
        done = self.st.sub[1] if self.st.sub[0] == self.st.step else 0
        if isinstance(step, DipBurst):
            self.dips(step, done)
        else:
            self.cycles(step, done)
        self.registers()
        if step.final:
            for p in self.r.positions:
                ex = self.extras(p)
                after = None if self.r._meters[p].failed else self.power_failures(p)
                before = ex.get("power_failures_before")
                ex["power_failures_counted"] = None if after is None or before is None else after - before
                ex["interruptions_applied"] = ex["power_cycles_applied"] + ex["short_interruptions_applied"]

    # -- steps ----------------------------------------------------------------------------------------
    def dips(self, step: DipBurst, done: int) -> None:
        src = self.bench.source
        if not isinstance(src, DipSource):  # checked at the start; a bench file changed under a resume
            raise BenchFault("source", f"{type(src).__name__} cannot generate dips (it does not play DipSource)")
        cycles = step.cycles(self.frequency)
        window = cycles / self.frequency + step.interval_s
        counted = {"dips_applied": 1, "short_interruptions_applied": int(step.level_pct == 0)}
        try:
            src.program_dip(step.level_pct, cycles=cycles, phases=step.phases, repeat=1, interval_s=0.0)
            completed = src.dips_completed()
            for j in range(done + 1, step.repeat + 1):
                start = self.now()
                src.trigger_dip()
                self.clock.sleep(window)
                now_completed = src.dips_completed()
                if now_completed != completed + 1:  # a dip that did not happen must not be counted
                    raise BenchFault("source", f"dip {j} of {step.name}: the source reports "
                                               f"{now_completed - completed} dips completed, not 1")
                completed = now_completed
                self.window(step, start, j, j, f"after dip {j} of {step.name}", counted)
        except BaseException:
            with contextlib.suppress(Exception):  # the fault in flight is the one to report
                src.abort_dips()
            raise
        src.abort_dips()  # nothing may still run into the next step

    def cycles(self, step: PowerCycles, done: int) -> None:
        src = self.bench.source
        for k in range(step.first + done, step.first + step.count):
            start = self.now()
            src.output_off()
            self.clock.sleep(step.off_s)
            src.output_on()
            self.clock.sleep(step.on_s)
            self.window(step, start, k - step.first + 1, k, f"after power-up {k}", {"power_cycles_applied": 1},
                        cycle=k, on_s=step.on_s)

    # -- monitoring -----------------------------------------------------------------------------------
    def window(self, step: DisturbanceStep, start: float, index: int, number: int, what: str,
               counted: dict[str, int], cycle: int | None = None, on_s: float | None = None) -> None:
        """Judge the window [start, now] (``index``-th of the step, ``number`` in the rows): pulses resumed, else
        the port decides the mode. Judged on copies of the meters, then committed whole under a critical section
        with the step's position, so a stop request never leaves half a window behind (no row twice, no counter
        counted twice after a resume). ``counted`` is added to the counters of every meter alive going in."""
        r = self.r
        end = self.now()
        results = self.bench.error_calculator.results()
        chamber_c = self.chamber(end)
        counting = end - start if on_s is None else on_s  # energy flows only while the output is on
        meters = {p: replace(m) for p, m in r._meters.items()}
        counts: dict[int, int] = {}
        alive_before: list[int] = []
        failed_now: list[int] = []
        rows = []
        for p in r.positions:
            m = meters[p]
            n = int(results[p].mut_pulses)  # COUNT mode: cumulative since start
            got, counts[p] = n - r._counts[p], n
            reg = None
            if not m.failed:
                alive_before.append(p)
                reg = self.judge(p, m, start, end, got, m.expected_pulses(r._power[p], counting), what)
                if m.failed:
                    failed_now.append(p)
            rows.append(monitoring_row(
                test_id=self.test.id, step=self.st.step, step_name=step.name, t_start_s=start, t_end_s=end,
                clock_s=self.st.origin + end, meter=m, pulses=got, register_kwh=reg, chamber_c=chamber_c,
                setpoint_c=self.test.temperature_c, humidity_pct=None, setpoint_rh=None, humidity_alarm=False,
                chamber_alarm=False, error_pct=None,  # no monitored error across dips and power cycles
                window=number))
        with critical_section():
            r._meters.update(meters)
            r._counts.update(counts)
            r._buffer.extend(rows)
            r._last_t = end
            for p in alive_before:
                ex = self.extras(p)
                for key, add in counted.items():
                    ex[key] += add
            if cycle is not None:
                for p in failed_now:
                    self.extras(p)["failure_cycle"] = cycle
            self.st.sub = [self.st.step, index]

    def judge(self, p: int, m: MeterState, start: float, end: float, got: int, expected: float,
              what: str) -> float | None:
        """One living meter over one window (changes ``m``); returns the port's register if it was read."""
        if m.pulses_in(start, end, got, expected, own_window=True):  # stopped pulsing: the port decides the mode
            reg = self.r._read_register(p)
            m.stopped(port_alive=reg is not None, what=f"({what})")
            return reg
        if not m.pulsed and self.bench.meter(p).port is not None:
            # never pulsed (a dead pulse output): watched through its port every window
            reg = self.r._read_register(p)
            mon = self.r.mon
            m.register(end, reg, mon.register_resolution_kwh, mon.register_tolerance_pct)
            if m.failed:
                m.reason += f" ({what})"
            return reg
        return None

    def chamber(self, end: float) -> float | None:
        """The chamber's temperature at ``end`` when the test has a setpoint (read once per window)."""
        if self.test.temperature_c is None:
            return None
        if self._chamber_at != end:
            self._chamber_at, self._chamber_c = end, float(self.bench.chamber.temperature())
        return self._chamber_c

    def registers(self) -> None:
        """Energy register of every living meter against its pulses since the last readout: a register reset or
        a lost count by a dip or a power failure is a ``drift`` failure (:meth:`MeterState.register`)."""
        r, now, mon = self.r, self.now(), self.r.mon
        for p in r.positions:
            m = r._meters[p]
            if not m.failed and self.bench.meter(p).port is not None:
                m.register(now, r._read_register(p), mon.register_resolution_kwh, mon.register_tolerance_pct)

    def power_failures(self, p: int) -> int | None:
        port = self.bench.meter(p).port
        if port is None:
            return None
        try:
            return int(number_of(port.read(POWER_FAILURE_REGISTER)))
        except Exception:  # a silent or refusing port: not counted (recorded as None)
            return None
