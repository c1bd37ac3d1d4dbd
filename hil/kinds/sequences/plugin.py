"""The sequence family's kinds as plugins: stress and environmental sequences (with their checks) and the
reliability analysis of their failures."""

from __future__ import annotations

from typing import Any, ClassVar

from hil.core import (
    Attachment,
    Measurement,
    PlanContext,
    PlanError,
    PointSpec,
    PositionOutcome,
    RunContext,
    Step,
    TestKind,
)
from hil.core.kinds import kind_class
from hil.kinds.sequences import model as m
from hil.kinds.sequences.analysis_model import ReliabilityAnalysisTest
from hil.kinds.sequences.disturbances import PowerCyclingTest
from hil.standards import PowerFactor

_SEQUENCE_MODELS = (m.BurnInTest, m.ThermalCyclingTest, m.DampHeatCyclicTest, m.DryHeatTest, m.ColdTest,
                    m.DampHeatSteadyTest, PowerCyclingTest)


def sequence_steps(test: Any, ctx: PlanContext) -> list[Step]:
    """A stress sequence: one step (its load point, if energised, checked against the ratings like any), with its
    accuracy checks before / during / after and the shift rows around it (:mod:`hil.kinds.sequences.checks`)."""
    from hil.kinds.sequences.checks import with_checks
    from hil.kinds.sequences.disturbances import check_dips_against_bench
    from hil.kinds.sequences.profile import ProfileError
    from hil.kinds.sequences.task import check_against_bench, sequence_task

    bench, rating, library = ctx.bench, ctx.rating, ctx.library
    chamber = bench.roles.get("chamber")
    try:
        check_against_bench(test, dict(chamber.options) if chamber is not None else None,
                            chamber.driver if chamber is not None else None)
        if isinstance(test, PowerCyclingTest):
            check_dips_against_bench(test, bench.limits.phases)  # dipped phases the bench has
    except ProfileError as exc:
        raise PlanError(str(exc)) from exc
    load = None
    if test.load is not None:
        try:
            amps = rating.currents(library).evaluate(test.load.current)
            pf = PowerFactor.parse(test.load.power_factor)
        except ValueError as exc:
            raise PlanError(f"test {test.id!r}: load {test.load.current} PF {test.load.power_factor}: {exc}") from exc
        load = PointSpec(test.kind, f"{test.load.current} PF {pf}", rating.un_v * test.load.voltage_pct / 100.0,
                         amps, pf.phi_deg, str(pf), frequency_hz=rating.frequency_hz)
    seq = sequence_task(test, load, ctx.positions, ctx.standard)
    return with_checks(test, seq, ctx.plan, rating, library)


BurnIn = kind_class(m.BurnInTest, "burn-in: energised meters soaked hot in the chamber, monitored, failures timed",
                    sequence_steps)
ThermalCycling = kind_class(m.ThermalCyclingTest, "ESS thermal cycling: ramps and dwells between two temperatures, "
                            "monitored, failures counted in cycles", sequence_steps)
DampHeatCyclic = kind_class(m.DampHeatCyclicTest, "damp heat cyclic (IEC 60068-2-30 Db): 24 h cycles at high "
                            "humidity", sequence_steps)
DryHeat = kind_class(m.DryHeatTest, "dry heat (IEC 60068-2-2 Bb, OIML D 11 severities), humidity off", sequence_steps)
Cold = kind_class(m.ColdTest, "cold (IEC 60068-2-1 Ab, OIML D 11 severities)", sequence_steps)
DampHeatSteady = kind_class(m.DampHeatSteadyTest, "damp heat steady state (IEC 60068-2-78 Cab)", sequence_steps)
PowerCycling = kind_class(PowerCyclingTest, "power cycling with OIML D 11 voltage dips and short interruptions",
                          sequence_steps)


class ReliabilityAnalysis(TestKind):
    """The failures of this run's sequences as life data: Weibull with censoring, MTBF bound, acceleration; a
    verdict on the MTBF target when one is given, a report without one."""

    name: ClassVar[str] = "reliability_analysis"
    description: ClassVar[str] = ("the run's sequence failures as life data: Weibull, MTBF lower bound, acceleration"
                                  " to use conditions, optional MTBF target")
    model = ReliabilityAnalysisTest

    def check_in_plan(self, test: Any, earlier: list[Any]) -> None:
        seqs = {t.id for t in earlier if isinstance(t, _SEQUENCE_MODELS)}
        for ref in test.of or []:
            if ref not in seqs:
                raise ValueError(f"test {test.id!r}: {ref!r} is not a sequence test before it in this plan")
        if test.of is None and not seqs:
            raise ValueError(f"test {test.id!r}: no sequence test before it to analyse")

    def expand(self, test: Any, ctx: PlanContext) -> list[Step]:
        from hil.kinds.sequences.analysis import AnalysisError, acceleration_of

        try:
            acceleration = acceleration_of(test, ctx.plan)
        except AnalysisError as exc:  # file, line and field of the analysis test
            where = str(exc.located(ctx.path, ctx.plan, test)) if ctx.path is not None else str(exc)
            raise PlanError(where) from exc
        spec = PointSpec(self.name, "reliability", 0.0, 0.0, 0.0, "1")
        outcome_of: dict[str, Any] = {}

        def run(run: RunContext, step: Step) -> list[PositionOutcome]:
            from hil.kinds.sequences.analysis import analyse, write_analysis
            from hil.results import read_results

            run_dir = run.run_dir
            o = PositionOutcome(0, "", 0, 0, None, 0.0, None)
            if run_dir is None or not ((run_dir / "results.parquet").exists()
                                       or (run_dir / "results.csv").exists()):
                o.verdict, o.reason = "skipped", "no sequence ran in this run: nothing to analyse"
                return [o]
            try:
                outcome = analyse(read_results(run_dir), test, ctx.plan, acceleration)
            except ValueError as exc:  # e.g. every analysed row broken: no life data
                o.verdict, o.reason = "broken", f"{test.id}: {exc}"
                return [o]
            outcome_of["outcome"] = outcome
            outcome_of["path"] = write_analysis(run_dir, test, acceleration, outcome)
            o.extra["passed"] = outcome.passed
            return [o]

        def measure(o: PositionOutcome) -> list[Measurement]:
            passed, outcome = o.extra.get("passed"), outcome_of["outcome"]
            if passed is None:  # no target: recorded, a report
                return [Measurement("MTBF lower bound in use", outcome.summary.mtbf_lower_use_hours,
                                    outcome.summary.unit, text=outcome.reason)]
            return [Measurement("target demonstrated", bool(passed), text=outcome.reason)]

        def report(run: RunContext, step: Step, position: int, row: dict[str, Any]) -> list[Attachment]:
            from hil.reliability import weibull_plot_png

            if "outcome" not in outcome_of:
                return []
            path, s = outcome_of["path"], outcome_of["outcome"].summary
            return [Attachment(path.name, path.read_text(encoding="utf-8")),
                    Attachment(f"Weibull plot {test.id}",
                               weibull_plot_png(s.data, s.fit, title=f"Weibull probability plot — {test.id}"), "png")]

        return [Step(test.id, self.name, "reliability", spec, [], run, measure, scope="plan", report=report,
                     title=f"reliability analysis {test.id}", params={"suite": "reliability"})]
