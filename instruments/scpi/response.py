"""Formatting of query return values as response data (IEEE 488.2 §8.7)."""

from __future__ import annotations

import math
import numbers
from typing import Any


def format_float(value: float) -> str:
    """NR3 with 9 significant digits (``+2.30000000E+02``); SCPI's 9.9E37 / 9.91E37 for infinities and NaN."""
    if value != value:
        return "9.91E+37"
    if math.isinf(value):
        return "9.9E+37" if value > 0 else "-9.9E+37"
    return f"{value:+.8E}"


def format_value(value: Any) -> str:
    """bool → 0|1, int → NR1, float → NR3, str as is, tuple/list → elements comma-joined."""
    t = type(value)
    if t is str:
        return value  # type: ignore[no-any-return]
    if t is float:
        return format_float(value)
    if t is bool:
        return "1" if value else "0"
    if t is int:
        return str(value)
    if isinstance(value, (tuple, list)):
        return ",".join(format_value(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, numbers.Integral):  # numpy integers and the like
        return str(int(value))
    if isinstance(value, numbers.Real):
        return format_float(float(value))
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"cannot format a query result of type {t.__name__}")


def quote(text: str) -> str:
    """String response data: double quotes, inner quotes doubled (§8.7.8)."""
    return '"' + text.replace('"', '""') + '"'
