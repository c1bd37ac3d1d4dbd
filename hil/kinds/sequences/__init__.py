"""Stress sequences (burn-in, thermal cycling): chamber profile, monitoring, failure detection, checkpoint/resume.

See docs/sequences.md. Plan kinds ``burn_in`` and ``thermal_cycling`` (:mod:`hil.kinds.sequences.model`) expand to one
task each (:func:`hil.kinds.sequences.task.sequence_task`), run by :class:`hil.kinds.sequences.runner.SequenceRunner`.
"""

from hil.core.chunks import read_monitoring
from hil.kinds.sequences.model import BurnInTest, LoadOption, MonitoringOptions, SequenceTest, ThermalCyclingTest
from hil.kinds.sequences.profile import ProfileError, Ramp, Soak, check_profile, steps_of

__all__ = ["BurnInTest", "LoadOption", "MonitoringOptions", "ProfileError", "Ramp", "SequenceTest", "Soak",
           "ThermalCyclingTest", "check_profile", "read_monitoring", "steps_of"]
