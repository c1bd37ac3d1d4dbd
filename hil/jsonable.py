"""Values as strict JSON: non-finite floats become None (JSON has no infinity), tuples become lists.

Its own light module: the CLI imports it without pulling in scipy."""

from __future__ import annotations

import math
from typing import Any


def jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
