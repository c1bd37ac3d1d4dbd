"""Time-keeping and tariff-switching numbers of a meter's clock, as data with source and status.

reference/standards.md §10 points at IEC 62054-21 (time switches) for the clock without giving figures; the
figure here is the one commonly quoted from IEC 62054-21 for crystal-controlled time switches at reference
conditions, status U (unconfirmed): a lab replaces it from its purchased copy of the standard, or sets the plan's
``max_drift_s_per_day``.

Pure data: imports nothing from the bench (hil.standards boundary).
"""

from __future__ import annotations

from hil.standards.environmental import Sourced

IEC_62054_21 = "IEC 62054-21:2004"

#: time-keeping accuracy at reference conditions (23 °C, Un), crystal-controlled clock
TIMEKEEPING_ACCURACY = Sourced(
    0.5, "s/day", IEC_62054_21, "time-keeping accuracy at reference conditions", "unconfirmed",
    "not given in reference/standards.md §10 (which names IEC 62054-21 only); replace from the standard",
)

SECONDS_PER_DAY = 86400.0
