"""A plan written as a Python test module, with the same building blocks as the YAML plans.

Run: ``pytest testplans/test_python_plan_example.py [--bench FILE]`` (no --bench: the simulated bench).
The limits come from the standards library (the table chosen below), the verdicts from the framework.
"""

import pytest

STANDARD = "IEC 62053-21"
EDITION = "2020"
CLASS = "1"  # the simulated meters are MID class B, tested here against IEC 62053-21 class 1


@pytest.mark.parametrize(("current", "pf"), [("Itr", "1"), ("Iref", "1"), ("Iref", "0.5L"), ("Imax", "0.8C")])
def test_accuracy(load_point, current, pf):
    load_point(current, pf).require_conformance()


def test_meters_identify_over_their_port(bench, meters):
    """Functional check over the optical port: every meter answers with its own serial number (C.1.0)."""
    bench.source.apply({p: _voltage_only(230.0) for p in range(1, bench.source.phases + 1)})
    bench.source.output_on()
    bench.clock.sleep(5)
    for m in meters:
        assert m.port.read("C.1.0") == m.spec.serial, f"position {m.position}"


def _voltage_only(volts):
    from instruments.roles import PhaseLoad

    return PhaseLoad(volts, 0.0)
