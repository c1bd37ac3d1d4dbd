"""Ratings used across the standards tests.

The default simulated meter (instruments/simulators/data/default_bench.yaml): IEC 62053-21:2020 class 1,
three-phase four-wire, 3×230 V, 0.25-0.5(60) A, Ist 0.02 A, 1000 imp/kWh — the worked example of
reference/standards.md §1.
"""

from __future__ import annotations

from typing import Any

from hil.standards import MeterRating

DEFAULT_METER: dict[str, Any] = {
    "standard": "IEC 62053-21", "edition": "2020", "class_index": "1", "connection": "direct", "elements": 3,
    "un_v": 230.0, "constant_imp_per_kwh": 1000.0, "ist_a": 0.02, "imin_a": 0.25, "itr_a": 0.5, "imax_a": 60.0,
}


def make_rating(**changes: Any) -> MeterRating:
    """The default meter with some fields changed (a value None removes the field)."""
    data = {**DEFAULT_METER, **changes}
    return MeterRating(**{k: v for k, v in data.items() if v is not None})

