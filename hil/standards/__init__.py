"""Standards library: limits, load points and test timing for electricity-meter accuracy tests, as data.

Pure: no bench, drivers, simulators or pytest. Limits live in YAML tables (``hil/standards/data``) carrying
standard, edition, table and a status per row (confirmed / derived / unconfirmed, reference/standards.md); a lab
overrides any row from its own file (:meth:`StandardsLibrary.load`). See docs/standards.md.
"""

from hil.standards.decision import (
    Decision,
    Outcome,
    UncertaintyBudget,
    UncertaintyCheck,
    UncertaintyComponent,
    decide,
    guarded_acceptance,
    simple_acceptance,
    uncertainty_adequate,
    uncertainty_budget,
)
from hil.standards.influence import (
    InfluenceLimit,
    InfluencePoint,
    influence_limit,
    influence_points,
    influences,
    temperature_band,
)
from hil.standards.model import CurrentExpr, CurrentRange, PowerFactor, Provenance, Status, TemperatureBand
from hil.standards.points import (
    AmbiguousLimitError,
    LimitRow,
    LoadPoint,
    LoadPointMatrix,
    NoLimitError,
    OmittedPoint,
    default_point_set,
    generate_load_points,
    limit_for,
)
from hil.standards.rating import MeterRating, RatedCurrent, RatedCurrents, RatingError, resolve_currents
from hil.standards.tables import OverrideReport, StandardsError, StandardsLibrary, default_library, load_table_file
from hil.standards.timing import (
    MeterConstantTest,
    NoLoadTest,
    PulsePlan,
    StartingTest,
    fixed_practice_pulses,
    meter_constant_deviation_pct,
    meter_constant_test,
    no_load_minutes,
    no_load_test,
    plan_point_pulses,
    pulse_period_s,
    pulses_for_point,
    starting_test,
)

__all__ = [
    "AmbiguousLimitError", "CurrentExpr", "CurrentRange", "Decision", "InfluenceLimit", "InfluencePoint",
    "LimitRow", "LoadPoint", "LoadPointMatrix", "MeterConstantTest", "MeterRating", "NoLimitError", "NoLoadTest",
    "OmittedPoint", "Outcome", "OverrideReport", "PowerFactor", "Provenance", "PulsePlan", "RatedCurrent",
    "RatedCurrents", "RatingError", "StandardsError", "StandardsLibrary", "StartingTest", "Status",
    "TemperatureBand", "UncertaintyBudget", "UncertaintyCheck", "UncertaintyComponent", "decide",
    "default_library", "default_point_set", "fixed_practice_pulses", "generate_load_points", "guarded_acceptance",
    "influence_limit", "influence_points", "influences", "limit_for", "load_table_file",
    "meter_constant_deviation_pct", "meter_constant_test", "no_load_minutes", "no_load_test", "plan_point_pulses",
    "pulse_period_s", "pulses_for_point", "resolve_currents", "simple_acceptance", "starting_test",
    "temperature_band", "uncertainty_adequate", "uncertainty_budget",
]
