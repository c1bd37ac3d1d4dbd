"""Stress sequences (burn-in, thermal cycling): chamber profile, monitoring, failure detection, checkpoint/resume.

See docs/sequences.md. Plan kinds ``burn_in`` and ``thermal_cycling`` (:mod:`hil.sequences.model`) expand to one
task each (:func:`hil.sequences.task.sequence_task`), run by :class:`hil.sequences.runner.SequenceRunner`.
"""

from hil.sequences.model import BurnInTest, LoadOption, MonitoringOptions, SequenceTest, ThermalCyclingTest
from hil.sequences.profile import ProfileError, Ramp, Soak, check_profile, steps_of
from hil.sequences.store import read_monitoring

__all__ = ["BurnInTest", "LoadOption", "MonitoringOptions", "ProfileError", "Ramp", "SequenceTest", "Soak",
           "ThermalCyclingTest", "check_profile", "read_monitoring", "steps_of"]
