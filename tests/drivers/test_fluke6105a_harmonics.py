"""Fluke 6105A driver, harmonics: exact bytes (replay) of the MHARmonics command and refusals before anything is
sent (the real thing through pyvisa-py against the simulated source: tests/test_plan_kinds.py, harmonics influence)."""

from __future__ import annotations

import pytest

from instruments.roles import HarmonicSource
from tests.drivers.conftest import ERR, OK, fluke_replay

source = fluke_replay


def test_a_harmonic_is_one_command_per_phase_and_circuit() -> None:
    src, t = source([
        (b"SOUR:PHAS2:CURR:MHAR:HARM5 40.0,0.0;" + ERR, OK),
        (b"SOUR:PHAS2:VOLT:MHAR:HARM5 10.0,-30.0;" + ERR, OK),
        (b"SOUR:PHAS2:VOLT:MHAR:HARM5 0.0,0.0;" + ERR, OK),
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
