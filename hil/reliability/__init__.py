"""Reliability analytics: Weibull life with censoring, acceleration factors, MTBF bounds and demonstration
planning, screening strength (heuristic), β across stress levels, parts-count prediction, Weibull plots.

Pure computation on numpy/scipy/pydantic/matplotlib: nothing here imports the bench, drivers, simulators or
pytest, so plans, reports and the CLI can all use it. See docs/reliability.md.
"""

from hil.reliability.acceleration import (
    BOLTZMANN_EV_PER_K,
    COFFIN_MANSON_N_SNPB,
    PECK_EA_EV,
    PECK_N,
    arrhenius_af,
    coffin_manson_af,
    kelvin,
    peck_af,
)
from hil.reliability.lifedata import (
    LifeData,
    LifeRow,
    life_data_from_results,
    read_life_data,
    read_life_levels,
    read_life_rows,
)
from hil.reliability.mtbf import (
    FAILURE_TERMINATED,
    TIME_TERMINATED,
    DemoTestPlan,
    MtbfEstimate,
    demo_test_hours,
    equivalent_use_hours,
    estimate_mtbf,
    mtbf_interval,
    mtbf_lower_bound,
    plan_demo_test,
    success_run_test_ratio,
    success_run_units,
    success_run_units_exact,
)
from hil.reliability.parts_count import (
    Part,
    PartLine,
    PartsCountResult,
    PartsTable,
    load_parts_table,
    parts_count,
    predict_parts_count,
)
from hil.reliability.plots import median_ranks, weibull_plot_png
from hil.reliability.screening import (
    HEURISTIC_NOTE,
    ScreeningStrength,
    random_vibration_strength,
    thermal_cycles_for_strength,
    thermal_cycling_strength,
)
from hil.reliability.stress_levels import ShapeComparison, compare_shapes
from hil.reliability.weibull import (
    BOUNDS_METHOD,
    DEFAULT_CONFIDENCE,
    WeibullFit,
    eta_given_beta,
    fit_weibull,
    log_likelihood,
)

__all__ = [
    "BOLTZMANN_EV_PER_K",
    "BOUNDS_METHOD",
    "COFFIN_MANSON_N_SNPB",
    "DEFAULT_CONFIDENCE",
    "FAILURE_TERMINATED",
    "HEURISTIC_NOTE",
    "PECK_EA_EV",
    "PECK_N",
    "TIME_TERMINATED",
    "DemoTestPlan",
    "LifeData",
    "LifeRow",
    "MtbfEstimate",
    "Part",
    "PartLine",
    "PartsCountResult",
    "PartsTable",
    "ScreeningStrength",
    "ShapeComparison",
    "WeibullFit",
    "arrhenius_af",
    "coffin_manson_af",
    "compare_shapes",
    "demo_test_hours",
    "equivalent_use_hours",
    "estimate_mtbf",
    "eta_given_beta",
    "fit_weibull",
    "kelvin",
    "life_data_from_results",
    "load_parts_table",
    "log_likelihood",
    "median_ranks",
    "mtbf_interval",
    "mtbf_lower_bound",
    "parts_count",
    "peck_af",
    "plan_demo_test",
    "predict_parts_count",
    "random_vibration_strength",
    "read_life_data",
    "read_life_levels",
    "read_life_rows",
    "success_run_test_ratio",
    "success_run_units",
    "success_run_units_exact",
    "thermal_cycles_for_strength",
    "thermal_cycling_strength",
    "weibull_plot_png",
]
