"""Fluke 6105A driver, harmonics and the voltage fluctuation: exact bytes (replay) of the MHARmonics and FLICker
commands and refusals before anything is sent (the real thing through pyvisa-py against the simulated source:
tests/test_plan_kinds.py, harmonics influence, and tests/power_quality)."""

from __future__ import annotations

import pytest

from instruments.roles import FlickerSource, HarmonicSource
from tests.drivers.conftest import ERR, OK, fluke_replay

source = fluke_replay


def test_a_harmonic_is_one_command_per_phase_and_circuit() -> None:
    src, t = source([
        (b"SOUR:PHAS2:CURR:MHAR:HARM5 40,0;" + ERR, OK),
        (b"SOUR:PHAS2:VOLT:MHAR:HARM5 10,-30;" + ERR, OK),
        (b"SOUR:PHAS2:VOLT:MHAR:HARM5 0,0;" + ERR, OK),
    ])
    assert isinstance(src, HarmonicSource)
    src.set_harmonic(2, "I", 5, 40.0, 0.0)
    src.set_harmonic(2, "U", 5, 10.0, -30.0)
    src.set_harmonic(2, "U", 5, 0.0, 0.0)  # removed
    t.assert_done()


@pytest.mark.parametrize(("circuit", "order", "pct", "deg"), [
    ("X", 5, 10.0, 0.0), ("U", 1, 10.0, 0.0), ("U", 101, 10.0, 0.0), ("I", 5, 100.5, 0.0), ("I", 5, -1.0, 0.0),
    ("U", 5, 10.0, 361.0),
])
def test_a_harmonic_beyond_the_source_is_refused_before_sending(circuit: str, order: int, pct: float,
                                                                 deg: float) -> None:
    src, t = source([])
    with pytest.raises(ValueError):
        src.set_harmonic(1, circuit, order, pct, deg)
    t.assert_done()


def test_a_fluctuation_is_one_compound_message() -> None:
    src, t = source([
        (b"SOUR:FLIC:DEPT 0.894;RATE 39;:SOUR:PHAS1:VOLT:FLIC OFF;:SOUR:PHAS2:VOLT:FLIC ON;"
         b":SOUR:PHAS3:VOLT:FLIC OFF;:SOUR:FLIC:INIT;" + ERR, OK),
        (b"SOUR:FLIC:ABOR;" + ERR, OK),
    ])
    assert isinstance(src, FlickerSource)
    src.start_flicker(0.894, 39, phases=[2])
    src.flicker_stop()
    t.assert_done()


@pytest.mark.parametrize(("depth", "cpm", "phases"), [(0.0, 39, None), (4.5, 39, None), (1.0, 0.05, None),
                                                      (1.0, 5000, None), (1.0, 39, [4])])
def test_a_fluctuation_beyond_the_source_is_refused_before_sending(depth: float, cpm: float,
                                                                   phases: list[int] | None) -> None:
    src, t = source([])
    with pytest.raises(ValueError):
        src.start_flicker(depth, cpm, phases=phases)
    t.assert_done()


def test_every_harmonic_is_cleared_in_one_message() -> None:
    src, t = source([
        (b"SOUR:PHAS1:VOLT:MHAR:CLE;:SOUR:PHAS1:CURR:MHAR:CLE;:SOUR:PHAS2:VOLT:MHAR:CLE;:SOUR:PHAS2:CURR:MHAR:CLE;"
         b":SOUR:PHAS3:VOLT:MHAR:CLE;:SOUR:PHAS3:CURR:MHAR:CLE;" + ERR, OK),
    ])
    src.clear_harmonics()
    t.assert_done()
