"""The DLMS family's kinds as plugins."""

from __future__ import annotations

from typing import Any

from hil.core import PlanContext, Step
from hil.core.kinds import kind_class
from hil.kinds.dlms.model import DisconnectTest, LimiterTest, LoadProfileTest


def _load_profile(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.dlms.load_profile import load_profile_tasks

    m = ctx.plan.measure
    return load_profile_tasks(test, ctx.rating, ctx.positions, m.decision_rule, ctx.library, m.conditional_pass)


LoadProfile = kind_class(LoadProfileTest, "the load profile over DLMS: each interval's energy against the reference "
                         "energy of the same interval, no gap or duplicate, power-down flags", _load_profile)


def _disconnect(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.dlms.disconnect import disconnect_tasks

    return disconnect_tasks(test, ctx.rating, ctx.positions, ctx.library)


Disconnect = kind_class(DisconnectTest, "remote disconnect and reconnect over DLMS, judged by the bench's pulse counts "
                        "under load (a relay that does not open fails the meter)", _disconnect)


def _limiter(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.dlms.limiter import limiter_tasks

    return limiter_tasks(test, ctx.rating, ctx.positions, ctx.library, ctx.plan.measure.settle_s)


Limiter = kind_class(LimiterTest, "load limiter over DLMS: disconnects after min_over above the threshold, not after "
                     "a shorter overload, reconnects after min_under below it; judged by the bench's pulse counts",
                     _limiter)

