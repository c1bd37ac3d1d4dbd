"""Helpers shared by the tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Opener = Callable[[str], Any]


def truth(ctl: Any) -> dict[str, Any]:
    """The simulator's true state, read over the control endpoint."""
    data: dict[str, Any] = json.loads(ctl.query("SIM:TRUT?"))
    return data
