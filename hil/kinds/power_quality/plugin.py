"""The power-quality family's kinds as plugins."""

from __future__ import annotations

from typing import Any

from hil.core import PlanContext, Step
from hil.core.kinds import kind_class
from hil.kinds.power_quality.model import (
    PqDiagnosisTest,
    PqEventsTest,
    PqFlickerTest,
    PqHarmonicsTest,
    PqUnbalanceTest,
)


def _events(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.power_quality.events import pq_events_tasks

    return pq_events_tasks(test, ctx.rating, ctx.positions)


PqEvents = kind_class(PqEventsTest, "dips, swells and interruptions played by the source: each in the meter's PQ "
                      "event log with its duration and residual voltage, counted, none invented", _events)


def _harmonics(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.power_quality.harmonics import pq_harmonics_tasks

    return pq_harmonics_tasks(test, ctx.rating, ctx.positions)


PqHarmonics = kind_class(PqHarmonicsTest, "voltage THD and harmonics measured by the meter against the IEC 61000-4-7 "
                         "values of the waveform the source plays", _harmonics)


def _diagnosis(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.power_quality.diagnosis import pq_diagnosis_tasks

    return pq_diagnosis_tasks(test, ctx.rating, ctx.positions, ctx.library)


PqDiagnosis = kind_class(PqDiagnosisTest, "fault diagnosis: phase loss, reversed phase sequence and reversed current "
                         "played under load, each flagged alone in time and cleared when it goes", _diagnosis)


def _flicker(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.power_quality.flicker import pq_flicker_tasks

    return pq_flicker_tasks(test, ctx.rating, ctx.positions)


PqFlicker = kind_class(PqFlickerTest, "flicker: rectangular fluctuations for whole 10-min intervals, the meter's Pst "
                       "against the IEC 61000-4-15 flickermeter on the programmed signal", _flicker)


def _unbalance(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.power_quality.unbalance import pq_unbalance_tasks

    return pq_unbalance_tasks(test, ctx.rating, ctx.positions)


PqUnbalance = kind_class(PqUnbalanceTest, "voltage unbalance: per-phase magnitudes and angles played, the meter's u2 "
                         "against the symmetrical components of the programmed phasors", _unbalance)
