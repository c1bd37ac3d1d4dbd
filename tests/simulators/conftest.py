"""Fixtures for the physics-world tests: small simulated benches built in code, with ideal parts where a
test needs exact hand-computed truth."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from instruments.simulators.world.config import SimBenchConfig
from instruments.simulators.world.world import World

#: class 1 direct-connected 3P4W meter 0.25-0.5(60) A, 1000 imp/kWh, a perfect one unless told otherwise
METER_TYPE: dict[str, Any] = {
    "class_index": "1",
    "standard": "IEC 62053-21:2020",
    "constant_imp_per_kwh": 1000,
    "connection": "3P4W",
    "un_v": 230.0,
    "ist_a": 0.02,
    "imin_a": 0.25,
    "itr_a": 0.5,
    "iref_a": 5.0,
    "imax_a": 60.0,
    "behaviour": {"start_threshold_a": 0.012},
}

#: a source without setting error or settling, so delivered = programmed exactly
IDEAL_SOURCE: dict[str, Any] = {"phases": 3, "settling_time_s": 0.0, "setting_error_pct": 0.0, "setting_error_deg": 0.0}


class Bench:
    """Builds simulated-bench data and worlds for one test."""

    def data(
        self,
        positions: int = 1,
        behaviour: dict[str, Any] | None = None,
        failure: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        chamber: dict[str, Any] | None = None,
        meter: dict[str, Any] | None = None,
        **top: Any,
    ) -> dict[str, Any]:
        mtype = copy.deepcopy(METER_TYPE)
        mtype.update(meter or {})
        mtype["behaviour"].update(behaviour or {})
        if failure is not None:
            mtype["failure"] = failure
        data: dict[str, Any] = {
            "name": "test-bench",
            "seed": 7,
            "epoch": "2026-03-02T08:00:00Z",
            "source": dict(IDEAL_SOURCE, **(source or {})),
            "reference": {"accuracy_class_pct": 0.02, "pulse_constant_imp_per_kwh": 5.0e6, "noise_pct": 0.0},
            "meter_types": {"T": mtype},
            "positions": [{"position": i, "serial": f"TST{i:010d}", "type": "T"} for i in range(1, positions + 1)],
        }
        if chamber is not None:
            data["chamber"] = chamber
        data.update(top)
        return data

    def world(self, data: dict[str, Any] | None = None, seed: int | None = None, **kw: Any) -> World:
        return World(SimBenchConfig.model_validate(data if data is not None else self.data(**kw)), seed=seed)

    @staticmethod
    def energise(
        world: World, amps: float, volts: float = 230.0, lag_deg: float = 0.0, phases: tuple[int, ...] = (1, 2, 3)
    ) -> None:
        """Balanced load: ``amps`` per phase, current lagging its voltage by ``lag_deg``; output on."""
        src = world.source
        for ph in phases:
            u_angle = (0.0, -120.0, 120.0)[ph - 1]
            src.set_voltage(ph, volts)
            src.set_voltage_angle(ph, u_angle)
            src.set_current(ph, amps)
            src.set_current_angle(ph, u_angle - lag_deg)
        src.set_output(True)


@pytest.fixture
def worlds() -> Bench:
    """Factory of test benches and worlds (``worlds.data(...)``, ``worlds.world(...)``, ``worlds.energise``)."""
    return Bench()
