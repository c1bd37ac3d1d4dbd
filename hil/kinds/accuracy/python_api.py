"""Building blocks for plans written as Python test modules (fixtures ``bench``, ``meters``, ``load_point``).

    def test_iref_pf1(load_point):
        load_point("Iref", "1").require_conformance()

The limit comes from the standards library with its provenance, every position is measured at once, the verdict
is computed by the framework (never re-asserted by hand) and the rows land in the run's results table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hil.core import PointSpec, PositionOutcome, meter_rating
from hil.core.measurement import Measurement
from hil.core.session import MeterNonConformance, NoResult, RunSession
from hil.measure.accuracy import runner_of
from hil.measure.decision import combine_repeats, error_measurement
from hil.standards import PowerFactor, default_library, limit_for
from hil.values import utc_now


@dataclass
class PointResult:
    rows: list[dict[str, Any]]

    def by_position(self) -> dict[int, dict[str, Any]]:
        return {r["position"]: r for r in self.rows}

    def require_conformance(self) -> None:
        """Fail (meter out of limits) or break (no result) with every position's reason."""
        failed = [r for r in self.rows if r["verdict"] == "fail"]
        broken = [r for r in self.rows if r["verdict"] == "broken"]
        if failed:
            raise MeterNonConformance("; ".join(f"position {r['position']} ({r['serial']}): {r['reason']}"
                                                for r in failed))
        if broken:
            raise NoResult("; ".join(f"position {r['position']} ({r['serial']}): {r['reason']}" for r in broken))


class LoadPointRunner:
    """``load_point(current, pf, element=..., ...)``: one accuracy point on every position of the bench."""

    def __init__(self, session: RunSession, standard: str = "IEC 62053-21", edition: str = "2020",
                 meter_class: str | None = None, decision_rule: str = "simple",
                 conditional_pass: str = "fail") -> None:
        self.session = session
        self.standard = standard
        self.edition = edition
        self.meter_class = meter_class
        self.decision_rule = decision_rule
        self.conditional_pass = conditional_pass  # what a guard-band conditional pass counts as

    def __call__(self, current: str | float, pf: str = "1", *, element: str = "all", voltage_pct: float = 100.0,
                 repeats: int = 1, test: str = "python") -> PointResult:
        s = self.session
        bench = s.bench
        library = default_library()
        meter = bench.meter(bench.positions[0]).spec
        rating = meter_rating(meter, self.standard, self.edition, self.meter_class, library)
        amps = rating.currents(library).evaluate(current) if isinstance(current, str) else float(current)
        power_factor = PowerFactor.parse(pf)
        row = limit_for(rating, amps, power_factor, None if element == "all" else int(element), library=library)
        name = f"{current} PF {power_factor}" + ("" if element == "all" else f" E{element}")
        spec = PointSpec(
            test="accuracy", point=name, voltage_v=rating.un_v * voltage_pct / 100.0, current_a=amps,
            phase_deg=power_factor.phi_deg, pf=str(power_factor), element=element,
            frequency_hz=rating.frequency_hz, limit_pct=row.limit_pct,
            standard=f"{row.provenance.standard}:{row.provenance.edition}", limit_table=row.provenance.table,
            limit_status=row.provenance.status,
        )
        runner = runner_of(s)
        started = utc_now()
        runs = [runner.measure(spec, bench.positions) for _ in range(repeats)]
        finished = utc_now()
        outcomes = [combine_repeats([r[i] for r in runs], s.reference_accuracy_pct())
                    for i in range(len(bench.positions))]

        def measure(o: PositionOutcome) -> list[Measurement]:
            return [error_measurement(o, spec.limit_pct, self.decision_rule, self.conditional_pass)]

        return PointResult(s.record(test, "accuracy", name, spec, outcomes, measure, started, finished,
                                    self.decision_rule))
