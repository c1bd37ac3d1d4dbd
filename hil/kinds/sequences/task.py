"""A sequence test as one plan task: rows per meter (pass = survived, fail = failed during the sequence)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hil.core import Attachment, Measurement, PointSpec, PositionOutcome, RunContext, Step
from hil.kinds.sequences.disturbances import PowerCyclingTest
from hil.kinds.sequences.model import BurnInTest, DampHeatCyclicTest, SequenceTest, ThermalCyclingTest
from hil.kinds.sequences.profile import ProfileError, check_profile, cycle_period_s, nominal_seconds, steps_of
from hil.measure.accuracy import runner_of
from hil.measure.pulse_outputs import pulse_outputs
from hil.safety import Terminated


def _opt(options: dict[str, Any], name: str) -> float | None:
    v = options.get(name)
    return None if v is None else float(v)


def check_against_bench(test: SequenceTest, chamber_options: dict[str, Any] | None,
                        chamber_driver: str | None = None) -> None:
    """Refuse the profile at expansion when the bench file's chamber options give the limits or say the chamber
    has no humidity control (``humidity: false``), or when the chamber's driver (``chamber_driver``, a bench-file
    driver name) cannot switch humidity control off with these options; the chamber's own query is checked again
    when the sequence starts. A sequence needs a chamber role."""
    if chamber_options is None:
        if isinstance(test, PowerCyclingTest) and test.temperature_c is None:
            return  # dips and power cycles at room temperature need no chamber
        raise ProfileError(f"test {test.id!r}: the bench has no chamber role")
    humidity = chamber_options.get("humidity")  # the bench file's ``humidity: false``: no humidity control
    check_profile(test, min_c=_opt(chamber_options, "min_temperature_c"),
                  max_c=_opt(chamber_options, "max_temperature_c"),
                  max_gradient_k_per_min=_opt(chamber_options, "max_gradient_k_per_min"),
                  min_rh=_opt(chamber_options, "min_humidity_pct"), max_rh=_opt(chamber_options, "max_humidity_pct"),
                  has_humidity=None if humidity is None else bool(humidity),
                  can_switch_humidity_off=_switches_humidity_off(chamber_driver, chamber_options))


def _switches_humidity_off(driver: str | None, options: dict[str, Any]) -> bool | None:
    """What the driver says from the bench file's options alone; None: unknown (a driver that does not say)."""
    if driver is None:
        return None
    from instruments.drivers.registry import driver_entry

    rule = getattr(driver_entry(driver).load(), "switches_humidity_off", None)
    return None if rule is None else bool(rule(options))


def life_unit(test: SequenceTest) -> str:
    """What a meter's life in this sequence is counted in (:data:`hil.reliability.lifedata.LIFE_UNITS`): thermal
    cycles for ESS thermal cycling, power cycles for a power-cycling test with power cycles (its failures are
    power-ups), hours for the rest (burn-in, the environmental kinds, dips only)."""
    from hil.reliability.lifedata import HOURS, POWER_CYCLES, THERMAL_CYCLES

    if isinstance(test, ThermalCyclingTest):
        return THERMAL_CYCLES
    if isinstance(test, PowerCyclingTest) and test.power_cycles is not None:
        return POWER_CYCLES
    return HOURS


def life_columns(test: SequenceTest) -> dict[str, Any]:
    """Result-row columns that let the life data be read back without the plan (reports): ``life_unit``, and for
    thermal cycling the nominal cycle period ``thermal_cycle_h`` and the ``thermal_cycles`` run (a power-cycling
    row already carries ``failure_cycle`` and ``power_cycles_applied``)."""
    out: dict[str, Any] = {"life_unit": life_unit(test)}
    if isinstance(test, ThermalCyclingTest):
        out.update(thermal_cycle_h=round(cycle_period_s(test) / 3600.0, 9), thermal_cycles=test.cycles)
    return out


def sequence_task(test: SequenceTest, load: PointSpec | None, positions: list[int], standard: str) -> Step:
    steps = steps_of(test)
    if load is not None and getattr(test, "voltage_only", False):  # circuits at Un, no current
        load = replace(load, point=f"{load.voltage_v:g} V, no current", current_a=0.0, phase_deg=0.0, pf="1")
    spec = load or PointSpec(test.kind, "unenergised", 0.0, 0.0, 0.0, "1")
    spec = PointSpec(test.kind, _point_name(test), spec.voltage_v, spec.current_a, spec.phase_deg, spec.pf,
                     frequency_hz=spec.frequency_hz, standard=standard, limit_table="survival",
                     limit_status="n/a")

    def _run(session: RunContext, task: Step) -> list[PositionOutcome]:
        from hil.kinds.sequences.checks import during_checks
        from hil.kinds.sequences.runner import SequenceRunner

        runner = runner_of(session)
        run_dir = session.run_dir
        assert run_dir is not None
        try:
            outcomes = SequenceRunner(session.bench, runner.energise, test, load, task.positions, run_dir, task.key,
                                      resume=session.resuming,
                                      during=during_checks(session, task)).run()
        except Exception as exc:
            # a stop request's safe state talks to the instruments under the running sequence: the fault that
            # follows is the interruption, not a bench fault (no broken rows: the run is to be resumed)
            signum = session.terminating
            if signum is not None:
                raise Terminated(signum) from exc
            raise
        for o in outcomes:
            o.extra.update(life_columns(test))
        pulse_outputs(session).after(outcomes, task.kind, task.test_id)
        return outcomes

    def _measure(o: PositionOutcome) -> list[Measurement]:
        x = o.extra
        if x.get("failure_mode"):
            return [Measurement("survival", False, text=(
                f"failed ({x['failure_mode']}) between {x['failed_after_h']:.3f} h and "
                f"{x['failed_before_h']:.3f} h (midpoint {x['failure_time_h']:.3f} h): "
                f"{x.get('failure_reason', '')}"))]
        why = f"survived {x.get('sequence_h', 0.0):g} h"
        if not x.get("pulse_output_seen") and load is not None and load.current_a > 0:
            why += "; no pulse output from the start (monitored through its port only)"
        return [Measurement("survival", True, text=why)]

    return Step(test.id, test.kind, spec.point, spec, positions, _run, _measure, decision_rule="survival",
                duration_s=nominal_seconds(test), params={"steps": len(steps)}, report=_sequence_report(test))


def _sequence_report(test: SequenceTest) -> Any:
    """Allure steps per stage of the sequence, the meter's timeline and the chamber trace (docs/reporting.md)."""

    def report(run: RunContext, step: Step, position: int, row: dict[str, Any]) -> list[Attachment]:
        from hil.reporting.allure_steps import report_sequence_item

        if run.run_dir is None:
            return []
        try:
            report_sequence_item(run.run_dir, step.test_id, position, row, [s.name for s in steps_of(test)],
                                 getattr(test, "cycles", None))
        except Exception as exc:  # said in the report, never raised into the verdict
            return [Attachment("sequence report", f"stage steps not available: {type(exc).__name__}: {exc}")]
        return []

    return report


def _point_name(test: SequenceTest) -> str:
    if isinstance(test, PowerCyclingTest):
        return test.point_name()
    if isinstance(test, BurnInTest):
        return f"{test.duration_h:g} h at {test.temperature_c:g} °C"
    if isinstance(test, DampHeatCyclicTest):
        return f"Db {test.cycles} × 24 h, 25…{test.upper_c} °C, variant {test.variant}"
    if not isinstance(test, ThermalCyclingTest):  # dry heat, cold, damp heat steady state
        rh = getattr(test, "humidity_pct", None)
        return f"{test.duration_h:g} h at {test.temperature_c:g} °C" + ("" if rh is None else f", {rh:g} %RH")
    return f"{test.cycles} cycles {test.low_c:g}…{test.high_c:g} °C at {test.gradient_k_per_min:g} K/min"
