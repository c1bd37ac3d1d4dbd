"""``kind: nameplate`` — a lab's in-house check, as a MeterHIL test kind of its own.

Each meter is read over its optical port (IEC 62056-21): its serial number (``C.1.0``) must be the one on its label
(the bench file's ``serial``), and its error register (``F.F``, the meter's self-diagnosis) must read no fault.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hil.core import (  # the plan core's API for kinds
    TEST_ID_PATTERN,
    Measurement,
    PlanContext,
    PlanSection,
    PointSpec,
    PositionOutcome,
    RunContext,
    Step,
    TestKind,
)
from hil.measure.accuracy import runner_of  # the run's shared source programming (settles after a change)
from instruments.drivers.errors import BenchFault
from instruments.drivers.iec62056 import value_of


class NameplateTest(PlanSection):
    """The plan entry: which registers to read (defaults: the usual IEC 62056-21 addresses)."""

    id: str = Field(pattern=TEST_ID_PATTERN)
    kind: Literal["nameplate"]
    serial_register: str = "C.1.0"
    error_register: str = "F.F"


class Nameplate(TestKind):
    name = "nameplate"
    description = "the meter's port gives the serial on its label and its error register reads no fault"
    model = NameplateTest

    def expand(self, test: Any, ctx: PlanContext) -> list[Step]:
        # Un on every phase, no current: the meters are powered and register nothing
        spec = PointSpec(self.name, "port identity", ctx.rating.un_v, 0.0, 0.0, "1",
                         frequency_hz=ctx.rating.frequency_hz, limit_table="lab check", limit_status="lab")

        def run(run: RunContext, step: Step) -> list[PositionOutcome]:
            bench = run.bench
            runner_of(run).energise(step.spec)
            out = []
            for p in step.positions:
                meter = bench.meter(p)
                o = PositionOutcome(p, meter.spec.serial, 0, 0, None, 0.0, None)
                try:
                    if meter.port is None:
                        raise BenchFault("meter port", "the bench file gives no port for this position")
                    o.extra["port_serial"] = value_of(meter.port.read(test.serial_register))
                    o.extra["error_register"] = int(value_of(meter.port.read(test.error_register)), 16)
                except (BenchFault, ValueError) as exc:  # no answer, or not a number: no result, not a failed meter
                    o.verdict, o.reason = "broken", f"port not readable: {exc}"
                out.append(o)
            return out

        def measure(o: PositionOutcome) -> list[Measurement]:
            got = o.extra["port_serial"]
            return [
                Measurement("serial", got == o.serial, text=f"port says serial {got!r}, label {o.serial!r}"),
                Measurement("error register", o.extra["error_register"], "", upper=0,
                            text=f"{test.error_register} = {o.extra['error_register']:08X}"),
            ]

        return [Step(test.id, self.name, "port identity", spec, ctx.positions, run, measure,
                     duration_s=2.0 * len(ctx.positions))]
