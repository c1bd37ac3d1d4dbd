"""Reference standard simulator (WT5000 subset): dialogues without sockets, metrology against hand formulas,
and the same through pyvisa-py over TCP.

Expected readings are computed here from the delivered source values (``world.truth()``) with P = U·I·cos φ and
E = P·t / 3600; tolerances come from the bench file's reference accuracy class and noise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
import pyvisa

from instruments.simulators.loop import BackgroundLoop
from instruments.simulators.net import Endpoint
from instruments.simulators.world.config import load_sim_bench
from instruments.simulators.world.world import World
from instruments.simulators.wt_reference import WT5000Reference
from tests.helpers import ScpiClient

#: the load used throughout: (volts, amps, current angle relative to the phase voltage, degrees; + = lagging)
LOAD = {1: (230.0, 5.0, 0.0), 2: (230.0, 10.0, 60.0), 3: (230.0, 2.0, -36.869897645844)}
NR3_6 = re.compile(r"-?\d\.\d{5}E[+-]\d{2}\Z")


def apply_load(world: World) -> None:
    """Program LOAD on the source, switch on and let it settle (settling_time_s is 2 s in the default bench)."""
    src = world.source
    for ph, (u, i, lag) in LOAD.items():
        src.set_voltage(ph, u)
        src.set_current(ph, i)
        src.set_current_angle(ph, src.setpoint(ph).voltage_angle - lag)
    src.set_output(True)
    world.advance(10.0)


def hand_powers(truth: dict[str, Any]) -> dict[int, tuple[float, float, float]]:
    """(U, I, P = U·I·cos φ) per phase from the delivered values; φ = voltage angle − current angle."""
    out = {}
    for ph, d in truth["source"]["phases"].items():
        phi = math.radians(d["voltage_angle"] - d["current_angle"])
        out[int(ph)] = (d["voltage"], d["current"], d["voltage"] * d["current"] * math.cos(phi))
    return out


@pytest.fixture
def world() -> World:
    w = World(load_sim_bench(), seed=1)
    apply_load(w)
    return w


@pytest.fixture
def wt(world: World) -> WT5000Reference:
    return WT5000Reference(world.reference, world)


@pytest.fixture
def client(wt: WT5000Reference) -> ScpiClient:
    return ScpiClient(wt, error_query=":STATus:ERRor?")


def reading_tolerance(world: World, value: float) -> float:
    """Accuracy class plus 5σ of the reading noise, as a fraction of the reading."""
    cfg = world.config.reference
    return abs(value) * (cfg.accuracy_class_pct + 5 * cfg.noise_pct) / 100.0


def floats(reply: str) -> list[float]:
    return [float(x) for x in reply.split(",")]


# -- dialogues ----------------------------------------------------------------------------------


def test_identification_and_defaults(client: ScpiClient) -> None:
    assert client.ask("*IDN?") == "YOKOGAWA,WT5000,SIM000001,F1.01"
    assert client.ask(":NUMeric:FORMat?") == "ASC"
    assert client.ask(":NUM:NUMB?") == "15"
    assert client.ask(":INTEG:STAT?") == "RES"
    assert client.ask(":INTEG:MODE?") == "NORM"
    assert client.ask(":INTEG:TIM?") == "0,0,0"
    assert client.ask(":COMM:HEAD?;VERB?") == "0;0"
    # preset 1: U I P S Q LAMBda PHI FU of element 1, then of element 2
    assert client.ask(":NUM:ITEM1?") == "U,1"
    assert client.ask(":NUM:ITEM6?") == "LAMB,1"
    assert client.ask(":NUM:ITEM9?") == "U,2"
    assert client.ask(":NUM:ITEM25?") == "U,SIGMA"
    assert client.ask(":NUM:ITEM33?") == "NONE"


REPLAY = [
    (":NUMERIC:NORMAL:ITEM3 P,SIGMA", ""),
    (":NUM:ITEM3?", "P,SIGMA"),
    (":num:norm:item4 lambda,2", ""),
    (":NUM:ITEM4?", "LAMB,2"),
    (":NUM:ITEM5 NONE;ITEM5?", "NONE"),
    (":NUM:ITEM7 WH,3,TOTal;:NUM:ITEM7?", "WH,3"),
    (":NUM:ITEM U,2;:NUM:ITEM1?", "U,2"),  # missing suffix = 1
    (":NUM:NUMB ALL;NUMB?", "255"),
    (":NUM:NUMB 4;NUMB?", "4"),
    (":COMM:VERB ON;:NUM:ITEM4?", "LAMBDA,2"),
    (":INTEG:MODE?", "NORMAL"),
    (":COMM:HEAD ON;:INTEG:STAT?", ":INTEGRATE:STATE RESET"),
    (":COMM:VERB OFF;:INTEG:STAT?", ":INTEG:STAT RES"),
    (":COMM:HEAD OFF;:INTEG:TIM 1,2,3;TIM?", "1,2,3"),
    (":INTEG:STAT?", "READ"),
    (":INTEG:TIM2 0,0,0;:INTEG:STAT?", "RES"),
    (":STAT:ERR?", '0,"No error"'),
]


def test_replay_dialogue(client: ScpiClient) -> None:
    for sent, expected in REPLAY:
        assert client.ask(sent) == expected, sent


ERRORS = [
    (":NUM:ITEM1 FOO,1", -224),  # not a WT function we measure
    (":NUM:ITEM1 U,4", -222),  # the default bench has 3 elements
    (":NUM:ITEM1 U,SIGMB", -224),
    (":NUM:ITEM1 U", -109),
    (":NUM:ITEM1 U,1,5", -224),  # harmonic orders are not simulated
    (":NUM:ITEM256 U,1", -114),
    (":NUM:NUMB 0", -222),
    (":NUM:FORM FLOat", -221),
    (":INTEG:STOP", -221),  # nothing to stop
    (":INTEG:TIM 0,60,0", -222),
    (":INTEG:MODE CONT;:INTEG:STAR", -221),  # continuous needs a timer
]


@pytest.mark.parametrize(("command", "code"), ERRORS)
def test_refused_commands(client: ScpiClient, command: str, code: int) -> None:
    client.ask(":NUM:ITEM1 U,1")
    assert client.ask(command) == ""
    assert client.error().startswith(f"{code},")
    assert client.error() == '0,"No error"'  # STAT:ERR? and SYST:ERR? share one queue
    assert client.ask(":NUM:ITEM1?") == "U,1"  # a refused item leaves the old one
    assert client.ask(":INTEG:STAT?") == "RES"


def test_status_error_and_system_error_share_the_queue(client: ScpiClient) -> None:
    client.ask(":NUM:ITEM1 FOO,1;:NUM:NUMB 0")
    assert client.ask(":STAT:ERR?").startswith("-224,")
    assert client.ask("SYST:ERR?").startswith("-222,")
    assert client.ask(":STAT:ERR?") == '0,"No error"'


# -- metrology ----------------------------------------------------------------------------------


def test_power_per_element_equals_u_i_cos_phi(world: World, client: ScpiClient) -> None:
    hand = hand_powers(world.truth())
    client.ask(":NUM:NUMB 12")
    for k, ph in enumerate((1, 2, 3)):
        client.ask(f":NUM:ITEM{4 * k + 1} U,{ph};ITEM{4 * k + 2} I,{ph};ITEM{4 * k + 3} P,{ph};ITEM{4 * k + 4} S,{ph}")
    values = floats(client.ask(":NUM:VAL?"))
    assert len(values) == 12
    for k, ph in enumerate((1, 2, 3)):
        u, i, p = hand[ph]
        got_u, got_i, got_p, got_s = values[4 * k : 4 * k + 4]
        assert got_u == pytest.approx(u, abs=reading_tolerance(world, u))
        assert got_i == pytest.approx(i, abs=reading_tolerance(world, i))
        assert got_p == pytest.approx(p, abs=reading_tolerance(world, u * i))
        assert got_s == pytest.approx(u * i, abs=reading_tolerance(world, u * i))
    # the programmed load, by hand: 230·5·1 + 230·10·0.5 + 230·2·0.8 = 2668 W (source setting error ≤ 0.01 %)
    total = float(client.ask(":NUM:ITEM1 P,SIGMA;:NUM:VAL? 1"))
    assert total == pytest.approx(2668.0, rel=0.0006)


def test_power_factor_and_angle_by_hand(world: World, client: ScpiClient) -> None:
    client.ask(":NUM:NUMB 4;:NUM:ITEM1 LAMB,2;ITEM2 PHI,2;ITEM3 LAMB,3;ITEM4 PHI,3")
    lam2, phi2, lam3, phi3 = floats(client.ask(":NUM:VAL?"))
    assert lam2 == pytest.approx(0.5, abs=0.0005)
    assert phi2 == pytest.approx(60.0, abs=0.02)
    assert lam3 == pytest.approx(0.8, abs=0.0005)
    assert phi3 == pytest.approx(-36.8699, abs=0.02)  # current leading: negative


def test_number_format_and_no_data(world: World, client: ScpiClient) -> None:
    client.ask(":NUM:NUMB 3;:NUM:ITEM1 P,1;ITEM2 NONE;ITEM3 FU,1")
    p, none, fu = client.ask(":NUM:VAL?").split(",")
    assert NR3_6.match(p) and NR3_6.match(fu)
    assert none == "NAN"
    assert float(fu) == pytest.approx(50.0, rel=1e-4)
    world.source.set_output(False)
    client.ask(":NUM:ITEM2 LAMB,1")
    p, lam, _ = client.ask(":NUM:VAL?").split(",")
    assert float(p) == 0.0
    assert lam == "NAN"  # no current: no power factor


def test_integration_energy_is_p_t_over_3600(world: World, client: ScpiClient) -> None:
    hand = hand_powers(world.truth())
    client.ask(":NUM:PRES 2;:NUM:NUMB 24")  # P WH WHP WHM AH TIME for elements 1, 2, 3, SIGMA
    client.ask(":INTEG:STAR")
    assert client.ask(":INTEG:STAT?") == "STAR"
    t = 1800.0
    world.advance(t)
    values = client.ask(":NUM:VAL?").split(",")
    acc = world.config.reference.accuracy_class_pct / 100.0
    for k, ph in enumerate((1, 2, 3)):
        u, i, p = hand[ph]
        _, wh, whp, whm, ah, time_s = values[6 * k : 6 * k + 6]
        assert float(wh) == pytest.approx(p * t / 3600.0, abs=acc * u * i * t / 3600.0)
        assert float(whp) == pytest.approx(float(wh))
        assert float(whm) == 0.0
        assert float(ah) == pytest.approx(i * t / 3600.0, rel=acc)
        assert time_s == "1800"
    sigma_wh = float(values[6 * 3 + 1])
    assert sigma_wh == pytest.approx(sum(p for _, _, p in hand.values()) * t / 3600.0, rel=acc)


def test_stop_holds_and_start_resumes(world: World, client: ScpiClient) -> None:
    p = sum(p for _, _, p in hand_powers(world.truth()).values())
    client.ask(":NUM:NUMB 2;:NUM:ITEM1 WH,SIGMA;ITEM2 TIME,SIGMA")
    client.ask(":INTEG:STAR")
    world.advance(100.0)
    client.ask(":INTEG:STOP")
    assert client.ask(":INTEG:STAT?") == "STOP"
    world.advance(500.0)  # stopped: nothing added
    client.ask(":INTEG:STAR")
    world.advance(200.0)
    wh, time_s = client.ask(":NUM:VAL?").split(",")
    assert time_s == "300"
    assert float(wh) == pytest.approx(p * 300.0 / 3600.0, rel=world.config.reference.accuracy_class_pct / 100)
    assert client.ask(":INTEG:RES") == ""
    assert client.error().startswith("-221,")  # no reset while integrating
    client.ask(":INTEG:STOP;RES")
    assert client.ask(":INTEG:STAT?;:NUM:VAL?") == "RES;0.00000E+00,0"


def test_timer_time_up_needs_reset_before_restart(world: World, client: ScpiClient) -> None:
    p = sum(p for _, _, p in hand_powers(world.truth()).values())
    client.ask(":INTEG:MODE NORM;TIM 0,1,0")
    assert client.ask(":INTEG:STAT?") == "READ"
    client.ask(":INTEG:STAR")
    world.advance(90.0)
    assert client.ask(":INTEG:STAT?") == "TIM"
    client.ask(":NUM:NUMB 2;:NUM:ITEM1 WH,SIGMA;ITEM2 TIME,SIGMA")
    wh, time_s = client.ask(":NUM:VAL?").split(",")
    assert time_s == "60"  # stopped by the timer, not by the 90 s advance
    assert float(wh) == pytest.approx(p * 60.0 / 3600.0, rel=world.config.reference.accuracy_class_pct / 100)
    client.ask(":INTEG:STAR")
    assert client.error().startswith("-221,")
    assert client.ask(":INTEG:STAT?") == "TIM"
    client.ask(":INTEG:MODE CONT")  # no setting changes after time-up either
    assert client.error().startswith("-221,")
    client.ask(":INTEG:RES;STAR")
    assert client.error() == '0,"No error"'
    assert client.ask(":INTEG:STAT?") == "STAR"


def test_reset_restores_preset_and_keeps_communication_settings(client: ScpiClient) -> None:
    client.ask(":COMM:HEAD ON;:NUM:NUMB 3;:NUM:ITEM1 WH,1;:INTEG:TIM 0,0,10;STAR")
    client.ask("*RST")
    assert client.ask(":NUM:ITEM1?") == ":NUM:ITEM1 U,1"
    assert client.ask(":NUM:NUMB?") == ":NUM:NUMB 15"
    assert client.ask(":INTEG:STAT?") == ":INTEG:STAT RES"
    assert client.ask(":COMM:HEAD OFF;:INTEG:TIM?") == "0,0,0"


# -- over TCP through pyvisa-py -----------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[BackgroundLoop, World, str]]:
    with BackgroundLoop() as bl:

        def build() -> tuple[World, WT5000Reference]:
            w = World(load_sim_bench(), seed=1)
            apply_load(w)
            return w, WT5000Reference(w.reference, w)

        w, dev = bl.call(build)
        (ep,) = bl.serve([Endpoint("reference", "reference", "scpi", dev)])
        yield bl, w, f"TCPIP0::127.0.0.1::{ep.bound_port}::SOCKET"


def open_wt(rm: pyvisa.ResourceManager, resource: str) -> Any:
    return rm.open_resource(resource, read_termination="\n", write_termination="\n", timeout=5000)


def test_pyvisa_power_and_energy(rm: pyvisa.ResourceManager, served: tuple[BackgroundLoop, World, str]) -> None:
    bl, world, resource = served
    hand = bl.call(lambda: hand_powers(world.truth()))
    acc = world.config.reference.accuracy_class_pct / 100.0
    inst = open_wt(rm, resource)
    try:
        assert inst.query("*IDN?").startswith("YOKOGAWA,WT5000,")
        inst.write(":COMM:HEAD OFF;:NUM:FORM ASC;:NUM:NUMB 4")
        inst.write(":NUM:ITEM1 P,1;ITEM2 P,2;ITEM3 P,3;ITEM4 P,SIGMA")
        p1, p2, p3, ps = floats(inst.query(":NUM:VAL?"))
        for got, ph in ((p1, 1), (p2, 2), (p3, 3)):
            u, i, p = hand[ph]
            assert got == pytest.approx(p, abs=reading_tolerance(world, u * i))
        assert ps == pytest.approx(p1 + p2 + p3, rel=1e-4)

        inst.write(":INTEG:MODE NORM;TIM 0,10,0;:INTEG:STAR")
        assert inst.query(":INTEG:STAT?") == "STAR"
        bl.call(lambda: world.advance(3600.0))
        assert inst.query(":INTEG:STAT?") == "TIM"
        inst.write(":NUM:ITEM1 WH,SIGMA;ITEM2 TIME,SIGMA;:NUM:NUMB 2")
        wh, time_s = inst.query(":NUM:VAL?").split(",")
        assert time_s == "600"
        assert float(wh) == pytest.approx(sum(p for _, _, p in hand.values()) * 600.0 / 3600.0, rel=acc)
        inst.write(":INTEG:STAR")
        code = inst.query(":STAT:ERR?").split(",")[0]
        assert code == "-221"
    finally:
        inst.close()
