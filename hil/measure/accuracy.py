"""Measure one load point on every position at once, through the error calculators.

Flow of a point: program the source (only if it changed) → wait for it to settle → set each channel's meter
constant and pulse count → start every channel → wait until they finish, the bench's clock jumping straight to
the last finish on a simulated bench → read all channels in one round trip.

A channel that has seen no pulse at all after a few pulse periods, while its neighbours measure, is declared
*no pulses* (bench time is not wasted waiting for a dead pulse output): its result is *broken* with the reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hil.core.steps import PointSpec, PositionOutcome
from hil.standards import pulses_for_point
from hil.values import utc_now
from instruments.drivers.iec62056 import number_of
from instruments.roles import HarmonicSource, PhaseLoad

__all__ = ["AccuracyRunner", "MeasureSettings", "PointSpec", "PositionOutcome", "runner_of", "utc_now"]

_WS_PER_KWH = 3.6e6


@dataclass
class MeasureSettings:
    settle_s: float = 10.0  # after a source change (standards.md §6: ≈ 10 s stabilisation)
    resolution_fraction: float = 0.1  # resolution ≤ this fraction of the limit
    min_duration_s: float = 0.0  # shortest gate
    min_pulses: int = 1
    timeout_factor: float = 2.0  # give up after this × the expected duration (+ settle)
    # a working meter's first pulse comes within one pulse period of the start (its energy accumulator is
    # somewhere in [0, 1) pulse); 3 periods leave room for a meter far out of its limit (−67 % still pulses in time)
    no_pulse_periods: float = 3.0
    slow_factor: float = 5.0  # a channel that is counting may take this × the expected duration
    poll_s: float = 1.0  # polling interval on a real bench


class AccuracyRunner:
    """Runs load points on a bench (any object with the bench's roles: source, error_calculator, clock)."""

    def __init__(self, bench: Any, settings: MeasureSettings | None = None) -> None:
        self.bench = bench
        self.settings = settings or MeasureSettings()
        self._programmed: tuple[tuple[int, PhaseLoad], ...] | None = None
        self._harmonics: tuple[tuple[str, int, float, float], ...] = ()
        #: positions whose pulse output stayed silent at an earlier point: at later points they are given up as
        #: soon as the others finish (after at least 1.5 periods) instead of after the full no-pulse wait
        self.silent: set[int] = set()
        self._frequency: float | None = None
        self._ref_constant: float | None = None

    # -- source ---------------------------------------------------------------------------------------
    def energise(self, spec: PointSpec) -> bool:
        """Program the source for ``spec``; returns True if anything changed (then it settles)."""
        src = self.bench.source
        loads = spec.loads(src.phases)
        key = tuple(sorted(loads.items()))
        changed = key != self._programmed or spec.frequency_hz != self._frequency
        if changed:
            src.apply(loads, frequency_hz=spec.frequency_hz if spec.frequency_hz != self._frequency else None)
            self._programmed, self._frequency = key, spec.frequency_hz
        if spec.harmonics != self._harmonics:
            self._program_harmonics(spec, src)
            changed = True
        if not src.is_on():
            src.output_on()
            changed = True
        if changed:
            clock = self.bench.clock
            clock.sleep(self.settings.settle_s)
            if not clock.wait_until(src.settled, timeout_s=max(30.0, self.settings.settle_s), poll_s=1.0):
                from instruments.drivers.errors import BenchFault

                raise BenchFault("source", "outputs did not settle within 30 s")
        return changed

    def invalidate(self) -> None:
        """The source was programmed around the runner (a kind playing a fault condition): the next
        :meth:`energise` programs it afresh."""
        self._programmed = None

    def _program_harmonics(self, spec: PointSpec, src: Any) -> None:
        """The spec's harmonics on every phase; those of the last spec no longer wanted set to 0 %."""
        if not isinstance(src, HarmonicSource):
            from instruments.drivers.errors import BenchFault

            raise BenchFault("source", f"{type(src).__name__} cannot add harmonics ({spec.point})")
        wanted = {(c, k): (pct, deg) for c, k, pct, deg in spec.harmonics}
        for c, k, _, _ in self._harmonics:
            if (c, k) not in wanted:
                for ph in range(1, src.phases + 1):
                    src.set_harmonic(ph, c, k, 0.0, 0.0)
        for (c, k), (pct, deg) in wanted.items():
            for ph in range(1, src.phases + 1):
                src.set_harmonic(ph, c, k, pct, deg)
        self._harmonics = spec.harmonics

    def ref_constant(self, position: int) -> float:
        if self._ref_constant is None:
            self._ref_constant = float(self.bench.error_calculator.channel(position).ref_constant)
        return self._ref_constant

    # -- one point ------------------------------------------------------------------------------------
    def measure(self, spec: PointSpec, positions: Sequence[int]) -> list[PositionOutcome]:
        bench, s = self.bench, self.settings
        ecal, clock = bench.error_calculator, bench.clock
        self.energise(spec)
        # what each meter registers: a single-phase meter on a three-phase bench sees its own phase only
        power = {p: spec.active_power_w(_elements(bench.meter(p).spec)) for p in positions}
        plan: dict[int, tuple[float, int]] = {}
        for pos in positions:
            k = bench.meter(pos).spec.constant_imp_per_kwh
            n = pulses_for_point(limit_pct=spec.limit_pct, mut_constant=k, ref_constant=self.ref_constant(pos),
                                 power_w=power[pos], resolution_fraction=s.resolution_fraction,
                                 min_duration_s=s.min_duration_s, min_pulses=s.min_pulses).pulses
            plan[pos] = (k, n)
        for n in sorted({n for _, n in plan.values()}):
            group = [p for p, (_, nn) in plan.items() if nn == n]
            ecal.configure(group, {p: plan[p][0] for p in group}, n, mode="ERROR")
        tau = {p: _WS_PER_KWH / (k * power[p]) if power[p] > 0 else math.inf for p, (k, _) in plan.items()}
        expected = max((n + 1) * tau[p] for p, (_, n) in plan.items())  # +1: the gate opens on a pulse edge
        no_pulse_after = {p: max((1.5 if p in self.silent else s.no_pulse_periods) * tau[p], s.poll_s) for p in plan}
        deadline = s.timeout_factor * expected + s.settle_s
        # a meter whose pulses do arrive, only slowly (a large negative error), is measured to the end, so its
        # non-conformance shows as a failed point rather than a timeout
        deadline_running = s.slow_factor * expected + s.settle_s
        t0 = clock.now()
        ecal.start(list(plan))
        dead: dict[int, str] = {}
        pending = set(plan)
        results: dict[int, Any] = {}
        while True:
            results = ecal.results()
            elapsed = clock.now() - t0
            pending = {p for p in plan if results[p].state != "FINISHED" and p not in dead}
            for p in sorted(pending):
                if results[p].mut_pulses == 0 and results[p].state == "WAITING" and elapsed >= no_pulse_after[p]:
                    dead[p] = (f"no pulses from the meter within {elapsed:.0f} s"
                               f" (expected one every {tau[p]:.3g} s at {power[p]:.4g} W)")
            if dead.keys() & pending:
                ecal.abort(sorted(dead.keys() & pending))
                pending -= dead.keys()
            if not pending:
                break
            limit = deadline_running if any(results[p].state == "RUNNING" for p in pending) else deadline
            if elapsed >= limit:
                ecal.abort(sorted(pending))
                for p in pending:
                    dead[p] = (f"measurement did not finish within {limit:.0f} s"
                               f" ({results[p].mut_pulses} of {plan[p][1]} pulses)")
                break
            # next decision point: the earliest "no pulse" check still ahead, else the deadline
            checks = [no_pulse_after[p] for p in pending if results[p].mut_pulses == 0 and no_pulse_after[p] > elapsed]
            horizon = min([*checks, limit]) - elapsed
            clock.run_until_idle(max(horizon, 1e-3), s.poll_s,
                                 lambda waiting=frozenset(pending): _all_finished(ecal, waiting))
        duration = clock.now() - t0
        self.silent |= {p for p, why in dead.items() if why.startswith("no pulses")}
        self.silent -= {p for p in plan if p not in dead}
        out = []
        for p in positions:
            r = results[p]
            serial = bench.meter(p).spec.serial
            if p in dead:
                out.append(PositionOutcome(p, serial, r.mut_pulses, r.ref_pulses, None, duration, "broken", dead[p]))
                continue
            err = r.error_pct
            if err is None or math.isinf(err):
                out.append(PositionOutcome(p, serial, r.mut_pulses, r.ref_pulses, None, duration, "broken",
                                           "no reference pulses in the gate: the error cannot be computed"))
                continue
            out.append(PositionOutcome(p, serial, plan[p][1], r.ref_pulses, err, duration, None))
        return self._unless_instruments_erred(out)

    def _unless_instruments_erred(self, out: list[PositionOutcome]) -> list[PositionOutcome]:
        """An error an instrument queued during the point (IEEE 488.2 §11.5, the queue is drained here) makes
        the point's results broken with the instrument's message: nobody can say what it did to the reading."""
        said = []
        for role in ("source", "reference", "error_calculator"):
            drv = getattr(self.bench, role)
            errors = getattr(drv, "errors", None)
            for code, message in errors() if errors is not None else []:
                said.append(f"{role} reported {code},\"{message}\" during the point")
        if said:
            why = "; ".join(said)
            for o in out:
                if o.verdict is None:
                    o.verdict, o.reason, o.error_pct = "broken", why, None
        return out


    # -- pulse counting (starting current, no-load) ------------------------------------------------------
    def count(self, spec: PointSpec, positions: Sequence[int], duration_s: float) -> list[PositionOutcome]:
        """Count meter and reference pulses on every position for ``duration_s`` at ``spec``."""
        bench = self.bench
        ecal, clock = bench.error_calculator, bench.clock
        self.energise(spec)
        consts = {p: bench.meter(p).spec.constant_imp_per_kwh for p in positions}
        ecal.configure(list(positions), consts, 1, mode="COUNT")
        t0 = clock.now()
        ecal.start(list(positions))
        clock.sleep(duration_s)
        results = ecal.results()
        ecal.abort(list(positions))
        duration = clock.now() - t0
        return self._unless_instruments_erred([
            PositionOutcome(p, bench.meter(p).spec.serial, results[p].mut_pulses, results[p].ref_pulses, None,
                            duration, None)
            for p in positions
        ])

    def pulse_output_check(self, spec: PointSpec, positions: Sequence[int]) -> list[PositionOutcome]:
        """Count pulses at ``spec`` (a load, e.g. Iref PF 1) for ``no_pulse_periods`` pulse periods of the
        slowest position: a working output pulses within one period, so silence here means a dead output.
        Each outcome carries the gate in ``extra["check_s"]`` and the expected period in ``extra["tau_s"]``."""
        tau = {}
        for p in positions:
            meter = self.bench.meter(p).spec
            power = spec.active_power_w(_elements(meter))
            tau[p] = _WS_PER_KWH / (meter.constant_imp_per_kwh * power) if power > 0 else math.inf
        if any(math.isinf(t) for t in tau.values()):
            raise ValueError(f"pulse-output check at {spec.point}: no active power")
        duration = max(self.settings.no_pulse_periods * max(tau.values()), self.settings.poll_s)
        out = self.count(spec, positions, duration)
        for o in out:
            o.extra.update(check_s=round(o.duration_s, 3), tau_s=tau[o.position])
        return out

    # -- meter constant -----------------------------------------------------------------------------------
    def meter_constant(self, spec: PointSpec, positions: Sequence[int], duration_s: float,
                       register: str) -> list[PositionOutcome]:
        """Pulses of the test output while ``spec``'s current flows for ``duration_s``, and the advance of
        ``register`` over the same energy: registers are read with voltage on and no current (no energy flows
        while the ports are read), the pulse count spans the whole current-on interval."""
        bench = self.bench
        ecal, clock = bench.error_calculator, bench.clock
        idle = dataclasses.replace(spec, current_a=0.0)
        self.energise(idle)
        before = {p: self._read_register(p, register) for p in positions}
        consts = {p: bench.meter(p).spec.constant_imp_per_kwh for p in positions}
        ecal.configure(list(positions), consts, 1, mode="COUNT")
        t0 = clock.now()
        ecal.start(list(positions))
        self.energise(spec)
        clock.sleep(duration_s)
        self.energise(idle)
        results = ecal.results()
        ecal.abort(list(positions))
        duration = clock.now() - t0
        out = []
        for p in positions:
            after = self._read_register(p, register)
            serial = bench.meter(p).spec.serial
            r = results[p]
            b = before[p]
            if isinstance(b, str) or isinstance(after, str):
                out.append(PositionOutcome(p, serial, r.mut_pulses, r.ref_pulses, None, duration, "broken",
                                           f"register {register} unreadable: {b if isinstance(b, str) else after}"))
                continue
            o = PositionOutcome(p, serial, r.mut_pulses, r.ref_pulses, None, duration, None)
            o.extra["register_advance_kwh"] = round(after - b, 9)
            out.append(o)
        return self._unless_instruments_erred(out)

    def _read_register(self, position: int, register: str) -> float | str:
        """The register in kWh, or the reason it could not be read."""
        from instruments.drivers.errors import BenchFault

        port = self.bench.meter(position).port
        if port is None:
            return "the bench file gives no port for this position"
        try:
            text = str(port.read(register))
            return number_of(text)
        except (BenchFault, ValueError) as exc:
            return str(exc)


def _elements(meter: Any) -> int:
    return 3 if getattr(meter, "connection", "3P4W") == "3P4W" else 1


def _all_finished(ecal: Any, positions: frozenset[int]) -> bool:
    res = ecal.results()
    return all(res[p].state == "FINISHED" for p in positions)


def _runner_for(run: Any) -> AccuracyRunner:
    m = run.measure_options
    return AccuracyRunner(run.bench, MeasureSettings(
        settle_s=m.settle_s, resolution_fraction=m.resolution_fraction, min_duration_s=m.min_duration_s,
        min_pulses=m.min_pulses, timeout_factor=m.timeout_factor,
    ))


def runner_of(run: Any) -> AccuracyRunner:
    """The run's one accuracy runner (a :class:`hil.core.run.RunContext` service): every kind that energises the
    bench or measures errors shares it, so the source is reprogrammed only when the setting changes."""
    return run.service(_runner_for)  # type: ignore[no-any-return]
