"""The chamber role holds across dialects: one temperature profile, written against the role only, gives the
same air temperatures on a SimServ and on an ESPEC chamber, and both match the hand formula."""

from __future__ import annotations

import math

import pytest

from instruments.drivers.clock import SimulationClock
from instruments.drivers.espec import EspecChamber
from instruments.drivers.simserv import SimServChamber
from instruments.roles import ClimaticChamber
from tests.drivers.conftest import Sim

TAU_S = 120.0
AMBIENT_C = 23.0
SAMPLES_S = (120.0, 300.0, 600.0, 900.0)


def profile(chamber: ClimaticChamber, clock: SimulationClock) -> list[float]:
    """Ramp 23 → 43 °C at 2 K/min (10 min exactly, whole minutes on ESPEC too); air temperature at the samples."""
    chamber.set_gradient(2.0, 2.0)
    chamber.set_temperature(43.0)
    chamber.start()
    out, now = [], 0.0
    for t in SAMPLES_S:
        clock.sleep(t - now)
        now = t
        out.append(chamber.temperature())
    chamber.stop()
    return out


def hand(t: float) -> float:
    """w = 23 + g·t up to 600 s, then 43; τ·dy/dt = w − y from y(0) = 23."""
    g, t_end = 2.0 / 60.0, 600.0
    if t <= t_end:
        return AMBIENT_C + g * t - g * TAU_S + g * TAU_S * math.exp(-t / TAU_S)
    y_end = hand(t_end)
    return 43.0 - (43.0 - y_end) * math.exp(-(t - t_end) / TAU_S)


def test_same_profile_on_both_dialects(bench: Sim, espec_bench: Sim) -> None:
    simserv = SimServChamber(bench.link("chamber", "simserv"))
    espec = EspecChamber(espec_bench.link("chamber", "espec"))
    assert isinstance(simserv, ClimaticChamber) and isinstance(espec, ClimaticChamber)
    a = profile(simserv, bench.clock)
    b = profile(espec, espec_bench.clock)
    expected = [hand(t) for t in SAMPLES_S]
    assert a == pytest.approx(expected, abs=0.006)  # SimServ: two decimals
    assert b == pytest.approx(expected, abs=0.051)  # ESPEC: one decimal
    assert not simserv.is_running() and not espec.is_running()
