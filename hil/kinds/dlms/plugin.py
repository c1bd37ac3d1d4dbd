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


def _event_log(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.dlms.event_log import event_log_tasks

    return event_log_tasks(test, ctx.rating, ctx.positions, ctx.library)


from hil.kinds.dlms.event_log import EventLogTest  # noqa: E402  (its own module; model.py is shared)

EventLog = kind_class(EventLogTest, "event logs over DLMS: interruptions, loss of a phase's voltage and reverse flow "
                      "played on the bench, each logged with the right code within a tolerance of the bench clock",
                      _event_log)


def _tou(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.dlms.tou import tou_tasks

    m = ctx.plan.measure
    return tou_tasks(test, ctx.rating, ctx.positions, m.decision_rule, ctx.library, m.conditional_pass)


from hil.kinds.dlms.tou import TouTest  # noqa: E402  (its own module; model.py is shared)

Tou = kind_class(TouTest, "time-of-use over DLMS: a calendar with seasons, week and day profiles and special days "
                 "written and activated; across each switch point each tariff register advances only in its window, "
                 "the switch at the calendar's instant, the energy against the reference energy", _tou)


def _clock_dst(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.dlms.clock_dst import clock_dst_tasks

    m = ctx.plan.measure
    return clock_dst_tasks(test, ctx.rating, ctx.positions, m.decision_rule, m.conditional_pass)


from hil.kinds.dlms.clock_dst import ClockDstTest  # noqa: E402  (its own module; model.py is shared)

ClockDst = kind_class(ClockDstTest, "clock with time zone and DST over DLMS: rule written, clock set against the bench "
                      "clock, each DST switch run across: deviation, status bit and local time as the rule says, at "
                      "its instant, UTC continuous", _clock_dst)
