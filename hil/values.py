"""Cell values of results tables as plain Python: finite numbers or None, and strict JSON.

Its own light module (no pandas, no scipy): the CLI and every table reader use it."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(value: Any) -> float | None:
    """A numeric cell as a float; None when missing, NaN, infinite or not a number (pandas gives NaN, pd.NA or
    None for a missing value; ``float(pd.NA)`` raises TypeError)."""
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def jsonable(value: Any) -> Any:
    """Non-finite floats become None (JSON has no infinity), tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def utc_now() -> str:
    """Now, UTC, ISO 8601 to the millisecond (the results' timestamps)."""
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
