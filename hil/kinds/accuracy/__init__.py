"""The accuracy family: accuracy, starting, no_load, meter_constant and influence tests (IEC 62053-21/22/23,
EN 50470-3, ANSI C12.20 through the standards library)."""

from __future__ import annotations

from hil.core.kinds import kind_class
from hil.kinds.accuracy import model, steps

Accuracy = kind_class(model.AccuracyTest, "errors at the standard's load points (balanced or single-element) "
                      "against their limits", steps.accuracy_steps)
Starting = kind_class(model.StartingTest, "the meter starts and keeps registering at the starting current Ist",
                      steps.starting_steps)
NoLoad = kind_class(model.NoLoadTest, "no creep: at most one pulse with voltage and no current over the "
                    "standard's duration", steps.no_load_steps)
MeterConstant = kind_class(model.MeterConstantTest, "test-output pulses against the advance of an energy register "
                           "read over the meter's port", steps.meter_constant_steps)
Influence = kind_class(model.InfluenceTest, "error shift at a deviated voltage or frequency against the error at "
                       "reference conditions", steps.influence_steps)
