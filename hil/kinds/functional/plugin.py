"""The functional family's kinds as plugins: clock and tariff checks over the meter's port."""

from __future__ import annotations

from typing import Any

from hil.core import PlanContext, Step
from hil.core.kinds import kind_class
from hil.kinds.functional.model import ClockTest, TariffTest


def _steps(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.functional.tasks import functional_tasks

    m = ctx.plan.measure
    return functional_tasks(test, ctx.rating, ctx.positions, m.decision_rule, ctx.library, m.conditional_pass)


Clock = kind_class(ClockTest, "the meter's clock set to the reference time, its offset and drift timed at its "
                   "seconds tick", _steps)
Tariff = kind_class(TariffTest, "each switch of a time-of-use schedule from timed register reads under steady load",
                    _steps)
