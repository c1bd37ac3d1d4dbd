"""The prepayment family's kinds as plugins."""

from __future__ import annotations

from typing import Any

from hil.core import PlanContext, Step
from hil.core.kinds import kind_class
from hil.kinds.prepayment.model import (
    CreditLimitsTest,
    DeductionTest,
    FriendlyTest,
    KeyChangeTest,
    TokenAcceptanceTest,
)


def _acceptance(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.prepayment.acceptance import acceptance_tasks

    return acceptance_tasks(test, ctx.rating, ctx.positions)


TokenAcceptance = kind_class(TokenAcceptanceTest, "STS token acceptance matrix through the DLMS token gateway: the "
                             "valid token credited by exactly its amount, every other refused with its status, the "
                             "credit unchanged", _acceptance)


def _key_change(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.prepayment.key_change import key_change_tasks

    return key_change_tasks(test, ctx.rating, ctx.positions)


KeyChange = kind_class(KeyChangeTest, "STS key change across the TID rollover: the two key change tokens taken, the "
                       "old key refused, tokens issued at 2024-11-24 20:16 and later accepted on base date 2014",
                       _key_change)


def _deduction(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.prepayment.deduction import deduction_tasks

    return deduction_tasks(test, ctx.rating, ctx.positions, ctx.library)


Deduction = kind_class(DeductionTest, "credit deduction per tariff window against the reference energy × the price "
                       "query's price, and the standing charge over time", _deduction)


def _credit_limits(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.prepayment.credit_limits import credit_limits_tasks

    return credit_limits_tasks(test, ctx.rating, ctx.positions, ctx.library)


CreditLimits = kind_class(CreditLimitsTest, "low-credit alarms at their instants, the supply cut at zero credit (the "
                          "bench's pulse counts), reconnection after a top-up, emergency credit and its payback",
                          _credit_limits)


def _friendly(test: Any, ctx: PlanContext) -> list[Step]:
    from hil.kinds.prepayment.friendly import friendly_tasks

    return friendly_tasks(test, ctx.rating, ctx.positions, ctx.library)


Friendly = kind_class(FriendlyTest, "friendly hours: no disconnection for lack of credit inside the window, the supply "
                      "cut at its end (the bench's pulse counts)", _friendly)
