"""The plan core: plans, the kind registry, steps, measurements and verdicts, the run (bench, store, Allure).

It knows no kind: every kind — MeterHIL's own under ``hil/kinds`` and a lab's — is a plugin found through the
entry-point group ``meterhil.kinds`` (:mod:`hil.core.kinds`). What a kind's plugin uses is exported here.
"""

from hil.core.expand import PlanContext, meter_rating
from hil.core.kinds import TestKind
from hil.core.measurement import Measurement
from hil.core.plan import TEST_ID_PATTERN, PlanSection
from hil.core.run import RunContext
from hil.core.steps import Attachment, Estimate, EstimateContext, PlanError, PointSpec, PositionOutcome, Step

__all__ = ["TEST_ID_PATTERN", "Attachment", "Estimate", "EstimateContext", "Measurement", "PlanContext",
           "PlanError", "PlanSection", "PointSpec", "PositionOutcome", "RunContext", "Step", "TestKind",
           "meter_rating"]
