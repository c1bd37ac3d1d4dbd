"""Argument checks shared by the analytics: one clear ``ValueError`` per bad input, naming the argument."""

from __future__ import annotations

import math


def finite(name: str, value: float) -> float:
    """``value`` as a float; NaN and ±inf are refused."""
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def positive(name: str, value: float) -> float:
    """A finite number > 0."""
    v = finite(name, value)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def non_negative(name: str, value: float) -> float:
    """A finite number ≥ 0."""
    v = finite(name, value)
    if v < 0:
        raise ValueError(f"{name} must be ≥ 0, got {value!r}")
    return v


def whole(name: str, value: float, minimum: int = 0) -> int:
    """A whole number ≥ ``minimum`` (bools and fractional floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {value!r}")
    return v


def probability(name: str, value: float) -> float:
    """A probability strictly between 0 and 1 (a confidence level, a reliability, a fraction)."""
    v = finite(name, value)
    if not 0.0 < v < 1.0:
        hint = f" (give {v / 100:g} for {v:g} %)" if 1.0 < v < 100.0 else ""
        raise ValueError(f"{name} must be between 0 and 1, exclusive, got {value!r}{hint}")
    return v
