"""Yokogawa WT driver against the simulated reference over TCP: readings checked by hand formula against the
simulator's true delivered values (P = U·I·cos φ, Q = U·I·sin φ, S = U·I per element)."""

from __future__ import annotations

import math

from instruments.drivers.yokogawa_wt import YokogawaWT
from instruments.roles import PhaseLoad, ReferenceStandard
from tests.drivers.conftest import Sim

#: reference accuracy class 0.02 % plus a margin for its 0.001 % noise (simulated bench file)
ACC = 0.0002 + 0.00005
#: the same class as a phase angle: 0.02 % of S at PF 0 is 0.0002 rad
ACC_DEG = math.degrees(ACC)

LOADS = {  # unbalanced on purpose: a swapped element or a sign slip cannot cancel out
    1: PhaseLoad(230.0, 5.0, 0.0, -60.0),  # PF 0.5 lagging
    2: PhaseLoad(220.0, 10.0, -120.0, -150.0),  # PF 0.866 lagging
    3: PhaseLoad(240.0, 2.0, 120.0, 150.0),  # PF 0.866 leading
}


def reference(bench: Sim) -> YokogawaWT:
    return YokogawaWT(bench.link("reference", "yokogawa-wt"))


def test_plays_the_reference_role_and_identifies(bench: Sim) -> None:
    ref = reference(bench)
    assert isinstance(ref, ReferenceStandard)
    assert ref.identify() == "YOKOGAWA,WT5000,SIM000001,F1.01"


def test_element_values_match_hand_formulas(bench: Sim) -> None:
    bench.energise(LOADS)
    ref = reference(bench)
    funcs = ("U", "I", "P", "Q", "S", "LAMBDA", "PHI")
    items = [(f, e) for e in (1, 2, 3) for f in funcs]
    values = dict(zip(items, ref.read(items), strict=True))
    truth = bench.truth()["source"]["phases"]
    for e in (1, 2, 3):
        ph = truth[str(e)]
        u, i = ph["voltage"], ph["current"]
        phi = math.radians(ph["voltage_angle"] - ph["current_angle"])  # positive = current lagging
        s = u * i
        assert math.isclose(values[("U", e)], u, rel_tol=ACC)
        assert math.isclose(values[("I", e)], i, rel_tol=ACC)
        assert abs(values[("P", e)] - s * math.cos(phi)) <= ACC * s
        assert abs(values[("Q", e)] - s * math.sin(phi)) <= ACC * s
        assert abs(values[("S", e)] - s) <= ACC * s
        assert abs(values[("LAMBDA", e)] - math.cos(phi)) <= ACC
        assert abs(values[("PHI", e)] - math.degrees(phi)) <= ACC_DEG
    # the programmed load is what the source delivers, within its 0.01 % setting error
    assert math.isclose(values[("P", 1)], 230.0 * 5.0 * 0.5, rel_tol=0.001)
    assert values[("Q", 3)] < 0  # leading current: negative reactive power


def test_sigma_is_the_sum_of_the_elements(bench: Sim) -> None:
    bench.energise(LOADS)
    ref = reference(bench)
    p_sigma, s_sigma = ref.read([("P", "SIGMA"), ("S", "SIGMA")])
    truth = bench.truth()["source"]["phases"]
    p_hand = sum(truth[k]["voltage"] * truth[k]["current"] * math.cos(
        math.radians(truth[k]["voltage_angle"] - truth[k]["current_angle"])) for k in ("1", "2", "3"))
    s_hand = sum(truth[k]["voltage"] * truth[k]["current"] for k in ("1", "2", "3"))
    assert abs(p_sigma - p_hand) <= ACC * s_hand
    assert abs(s_sigma - s_hand) <= ACC * s_hand


def test_integration_over_a_timer(bench: Sim) -> None:
    bench.energise()  # 3 × 230 V × 5 A, PF 1
    ref = reference(bench)
    ref.start_integration(60.0)
    assert ref.integration_state() == "START"
    bench.clock.sleep(61.0)
    assert ref.integration_state() == "TIMEUP"
    wh, seconds = ref.read([("WH", "SIGMA"), ("TIME", "SIGMA")])
    truth = bench.truth()["source"]["phases"]
    p = sum(truth[k]["voltage"] * truth[k]["current"] for k in ("1", "2", "3"))  # PF 1
    assert seconds == 60.0
    assert math.isclose(wh, p * 60.0 / 3600.0, rel_tol=ACC)
    # after an automatic stop the WT needs a reset before it starts again: the driver does that
    ref.start_integration(0.0)
    assert ref.integration_state() == "START"


def test_reset_of_the_analyser_is_survived(bench: Sim) -> None:
    """Power loss drops the link and presets the numeric list; the driver reconnects and rewrites its list."""
    bench.energise()
    ref = reference(bench)
    items = [("P", 2), ("U", 3)]
    first = ref.read(items)
    bench.clock.inject_fault("reference", "RESET")
    again = ref.read(items)
    assert math.isclose(again[0], first[0], rel_tol=ACC) and math.isclose(again[1], first[1], rel_tol=ACC)
    assert abs(again[0] - 1150.0) < 1.0  # P of element 2, not element 1's U of the preset list


def test_safe_state_stops_integration(bench: Sim) -> None:
    bench.energise()
    ref = reference(bench)
    ref.start_integration()
    bench.clock.sleep(10.0)
    assert bench.truth()["reference"]["integration"]["state"] == "START"
    ref.safe_state()
    assert bench.truth()["reference"]["integration"]["state"] == "STOP"
    ref.safe_state()  # again: harmless
    assert ref.integration_state() == "STOP"


def test_headers_left_on_by_another_client_do_not_confuse_the_driver(bench: Sim) -> None:
    other = bench.link("reference", "yokogawa-wt")
    other.write(":COMM:VERB ON;HEAD ON")
    assert other.query(":INTEG:STAT?") == ":INTEGRATE:STATE RESET"  # what a header-blind parser would choke on
    ref = reference(bench)
    assert ref.integration_state() == "RESET"
    assert ref.read([("U", 1)])[0] == 0.0  # source off
