"""Error calculator simulator: dialogues without sockets, results against meters of known error, and a
24-position bench read in one round trip through pyvisa-py over TCP.

The test bench below gives every position a flat, known error (no spread, no phase error, no influence
coefficients), so the expected error is known by construction; pulse counts are checked against P·t·C / 3.6·10⁶
computed here from the delivered source values.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pyvisa

from instruments.simulators.error_calculator import ErrorCalculatorDevice
from instruments.simulators.loop import BackgroundLoop
from instruments.simulators.net import Endpoint
from instruments.simulators.world.config import load_sim_bench
from instruments.simulators.world.world import World
from tests.helpers import ScpiClient

POSITIONS = 24
C_MUT = 1000.0  # imp/kWh, the meters' constant
C_REF = 5.0e6  # imp/kWh, the reference's pulse output
ACCURACY_PCT = 0.02  # reference accuracy class in the bench below
VOLTS, AMPS = 230.0, 5.0  # per phase, PF 1


def known_error(position: int) -> float:
    """The flat error given to the meter at ``position``: −1.2 % … +1.1 % in steps of 0.1 %."""
    return round((position - 13) * 0.1, 10)


def bench_yaml() -> str:
    positions = "\n".join(
        f"  - position: {p}\n    serial: TST{p:010d}\n    type: FLAT\n"
        f"    overrides: {{behaviour: {{error_curve_pct: [[1.0, {known_error(p)}]]}}}}"
        for p in range(1, POSITIONS + 1)
    )
    return f"""\
name: calculator-test-bench
seed: 7
source: {{phases: 3, nominal_voltage_v: 230.0, settling_time_s: 2.0}}
reference: {{accuracy_class_pct: {ACCURACY_PCT}, pulse_constant_imp_per_kwh: {C_REF}, noise_pct: 0.001}}
meter_types:
  FLAT:
    class_index: "1"
    standard: "IEC 62053-21:2020"
    constant_imp_per_kwh: {C_MUT}
    connection: 3P4W
    un_v: 230.0
    ist_a: 0.02
    imin_a: 0.25
    itr_a: 0.5
    iref_a: 5.0
    imax_a: 60.0
positions:
{positions}
"""


def apply_load(world: World) -> None:
    for ph in (1, 2, 3):
        world.source.set_voltage(ph, VOLTS)
        world.source.set_current(ph, AMPS)
    world.source.set_output(True)
    world.advance(10.0)  # settled (2 s)


def delivered_power(world: World) -> float:
    """P = Σ U·I·cos φ of the delivered phases (truth, not the calculator's view)."""
    total = 0.0
    for d in world.truth()["source"]["phases"].values():
        total += d["voltage"] * d["current"] * math.cos(math.radians(d["voltage_angle"] - d["current_angle"]))
    return total


def records(reply: str) -> dict[int, tuple[str, float, int, int]]:
    """FETCh:ALL? → {channel: (state, error, MUT pulses, reference pulses)}."""
    f = reply.split(",")
    assert len(f) % 5 == 0
    return {int(f[k]): (f[k + 1], float(f[k + 2]), int(f[k + 3]), int(f[k + 4])) for k in range(0, len(f), 5)}


@pytest.fixture
def bench_file(tmp_path: Path) -> Path:
    path = tmp_path / "calc_bench.yaml"
    path.write_text(bench_yaml(), encoding="utf-8")
    return path


@pytest.fixture
def world(bench_file: Path) -> World:
    w = World(load_sim_bench(bench_file))
    apply_load(w)
    return w


@pytest.fixture
def client(world: World) -> ScpiClient:
    return ScpiClient(ErrorCalculatorDevice(world))


# -- dialogues ----------------------------------------------------------------------------------


def test_identification_and_power_on_setup(client: ScpiClient) -> None:
    assert client.ask("*IDN?") == "MeterHIL,ErrorCalculator,SIMEC24,1.0"
    assert client.ask("CHAN:COUN?") == "24"
    assert client.ask("CHAN:CONF?") == "ERR,10,+1.00000000E+03,IPKWH"
    assert client.ask("CHAN24:REF:CONS?;CONS:UNIT?") == "+5.00000000E+06;IPKWH"
    assert client.ask("CHAN7:STAT?") == "IDLE"
    assert client.ask("CHAN7:FETC?") == "7,IDLE,9.91E+37,0,0"


@pytest.mark.parametrize(
    ("value", "unit", "imp_per_kwh"),
    [  # 1000 imp/kWh written six ways, by hand from the unit's definition
        ("1000", "IPKWH", 1000.0),
        ("1", "IPWH", 1000.0),
        ("1e6", "IPMWH", 1000.0),
        ("1", "WHPI", 1000.0),
        ("0.001", "KWHPI", 1000.0),
        ("1e-6", "MWHPI", 1000.0),
        ("0.5", "WHPI", 2000.0),
        ("4", "IPWH", 4000.0),
    ],
)
def test_constant_units(world: World, client: ScpiClient, value: str, unit: str, imp_per_kwh: float) -> None:
    client.ask(f"CHAN3:MUT:CONS {value},{unit}")
    assert client.error() == '0,"No error"'
    assert world.calculators[3].mut_constant == pytest.approx(imp_per_kwh, rel=1e-12)
    assert client.ask("CHAN3:MUT:CONS:UNIT?") == unit
    assert float(client.ask("CHAN3:MUT:CONS?")) == pytest.approx(float(value), rel=1e-8)
    # switching the unit changes the reading, not the constant
    client.ask("CHAN3:MUT:CONS:UNIT IPKWH")
    assert float(client.ask("CHAN3:MUT:CONS?")) == pytest.approx(imp_per_kwh, rel=1e-8)
    assert world.calculators[3].mut_constant == pytest.approx(imp_per_kwh, rel=1e-12)


def test_constant_without_unit_uses_the_channel_unit(world: World, client: ScpiClient) -> None:
    client.ask("CHAN2:REF:CONS:UNIT IPWH;:CHAN2:REF:CONS 2500")
    assert world.calculators[2].ref_constant == pytest.approx(2.5e6)
    assert world.calculators[1].ref_constant == pytest.approx(C_REF)


REPLAY = [
    ("CHAN5:MUT:CONS 2000;PULS 25", ""),  # the path stays at CHAN5:MUT
    ("CHAN5:MUT:PULS?", "25"),
    ("CHAN5:MUT:CONS?", "+2.00000000E+03"),
    ("CHANNEL5:MODE CONTINUOUS;MODE?", "CONT"),
    ("chan5:mode coun;mode?", "COUN"),
    ("CHAN5:CONF ERR,40,0.5,WHPI;CONF?", "ERR,40,+5.00000000E-01,WHPI"),
    ("CONF:ALL COUN,7,1000,IPKWH", ""),
    ("CHAN24:CONF?", "COUN,7,+1.00000000E+03,IPKWH"),
    ("CONF:ALL:MODE ERR;:CONF:ALL:MUT:PULS 12;:CHAN9:CONF?", "ERR,12,+1.00000000E+03,IPKWH"),
    ("CONF:ALL:REF:CONS 5,IPWH;:CHAN1:REF:CONS?", "+5.00000000E+00"),
    ("CONF:ALL:MUT:CONS 1,WHPI;:CHAN2:MUT:CONS:UNIT?", "WHPI"),
    ("SYST:ERR?", '0,"No error"'),
]


def test_replay_dialogue(client: ScpiClient) -> None:
    for sent, expected in REPLAY:
        assert client.ask(sent) == expected, sent


ERRORS = [
    ("CHAN25:MUT:PULS 10", -114),  # 24 positions
    ("CHAN0:STAT?", -114),
    ("CHAN1:MUT:PULS 0", -222),
    ("CHAN1:MUT:PULS -5", -222),
    ("CONF:ALL:MUT:PULS 0", -222),
    ("CHAN1:MUT:CONS 0", -222),
    ("CHAN1:REF:CONS -1", -222),
    ("CHAN1:MUT:CONS 1000,IPS", -224),
    ("CHAN1:MODE FAST", -224),
    ("CHAN1:CONF ERR,10", -109),
    ("CHAN1:STAT? 3", -108),
]


@pytest.mark.parametrize(("command", "code"), ERRORS)
def test_refused_commands_change_nothing(world: World, client: ScpiClient, command: str, code: int) -> None:
    before = [c.truth() for c in world.calculators.values()]
    assert client.ask(command) == ""
    assert client.error().startswith(f"{code},")
    assert client.error() == '0,"No error"'
    assert [c.truth() for c in world.calculators.values()] == before


def test_no_setup_change_while_measuring(world: World, client: ScpiClient) -> None:
    client.ask("CHAN4:INIT")
    assert client.ask("CHAN4:STAT?") == "WAITING"
    for command in ("CHAN4:MUT:PULS 50", "CHAN4:MODE COUN", "CHAN4:REF:CONS 1", "CONF:ALL:MUT:PULS 50"):
        client.ask(command)
        assert client.error().startswith("-221,"), command
    assert world.calculators[4].mut_pulses == 10
    assert world.calculators[5].mut_pulses == 10  # CONFigure:ALL refused as a whole
    client.ask("CHAN4:INIT")
    assert client.error().startswith("-213,")
    client.ask("CHAN4:ABOR")
    assert client.ask("CHAN4:STAT?") == "IDLE"
    client.ask("CHAN4:MUT:PULS 50")
    assert client.error() == '0,"No error"'


def test_reset_aborts_and_restores_setup(world: World, client: ScpiClient) -> None:
    client.ask("CONF:ALL CONT,99,2,IPWH;:INIT:ALL")
    client.ask("*RST")
    assert client.ask("STAT:ALL?") == ",".join(["IDLE"] * POSITIONS)
    assert client.ask("CHAN12:CONF?") == "ERR,10,+1.00000000E+03,IPKWH"
    assert world.calculators[12].ref_constant == C_REF


# -- metrology ----------------------------------------------------------------------------------


def test_error_mode_reports_the_known_error(world: World, client: ScpiClient) -> None:
    n = 20
    client.ask(f"CONF:ALL ERR,{n},{C_MUT}")
    client.ask("INIT:ALL")
    assert client.ask("STAT:ALL?") == ",".join(["WAITING"] * POSITIONS)
    world.advance_until_idle(600.0)
    recs = records(client.ask("FETC:ALL?"))
    assert sorted(recs) == list(range(1, POSITIONS + 1))
    for pos, (state, error, mut, n_ref) in recs.items():
        assert state == "FINISHED"
        assert mut == n
        # n_ref by hand: N pulses of a meter reading e % high are N/C_mut·(1 + e/100)⁻¹ kWh of true energy
        expected_ref = n / C_MUT / (1 + known_error(pos) / 100) * C_REF
        assert n_ref == pytest.approx(expected_ref, rel=(ACCURACY_PCT + 0.01) / 100)
        # the error formula of standards.md §6, by hand from the counts
        assert error == pytest.approx((n * C_REF / (n_ref * C_MUT) - 1) * 100, abs=1e-6)
        # and the meter's known error within the reference accuracy + one reference pulse
        assert error == pytest.approx(known_error(pos), abs=ACCURACY_PCT + 100 / n_ref)


def test_all_channel_fetch_matches_per_channel_fetches(world: World, client: ScpiClient) -> None:
    client.ask("CONF:ALL ERR,5,1000;:CHAN3:MODE COUN;:CHAN8:MUT:PULS 1000;:INIT:ALL")
    world.advance(30.0)  # some finished, channel 8 still running, channel 3 counting
    recs = records(client.ask("FETC:ALL?"))
    assert {recs[3][0], recs[8][0], recs[1][0]} == {"RUNNING", "FINISHED"}
    for pos, (state, error, mut, ref) in recs.items():
        assert client.ask(f"CHAN{pos}:STAT?") == state
        assert records(client.ask(f"CHAN{pos}:FETC?")) == {pos: (state, error, mut, ref)}
        assert client.ask(f"CHAN{pos}:FETC:PULS?") == f"{mut},{ref}"
        fetched = float(client.ask(f"CHAN{pos}:FETC:ERR?"))
        assert fetched == error
    assert recs[8][1] == 9.91e37  # no result yet: SCPI NaN


def test_count_mode_counts_p_t_constant(world: World, client: ScpiClient) -> None:
    pos = 13  # the meter with 0 % error
    assert known_error(pos) == 0
    client.ask(f"CHAN{pos}:MODE COUN;INIT")
    assert client.ask(f"CHAN{pos}:STAT?") == "RUNNING"
    t = 3600.0
    p = delivered_power(world)
    world.advance(t)
    mut, ref = (int(x) for x in client.ask(f"CHAN{pos}:FETC:PULS?").split(","))
    assert abs(mut - p * t * C_MUT / 3.6e6) <= 1.0  # counting starts and ends between pulse edges
    assert ref == pytest.approx(p * t * C_REF / 3.6e6, rel=ACCURACY_PCT / 100)
    assert client.ask(f"CHAN{pos}:FETC:ERR?") == "9.91E+37"  # COUNt gives no error result
    client.ask(f"CHAN{pos}:ABOR")
    world.advance(600.0)
    assert client.ask(f"CHAN{pos}:STAT?;FETC:PULS?") == f"IDLE;{mut},{ref}"  # counts frozen at ABORt


def test_continuous_mode_keeps_producing_results(world: World, client: ScpiClient) -> None:
    pos = 20
    client.ask(f"CHAN{pos}:CONF CONT,5,1000;:CHAN{pos}:INIT")
    per_result_s = 5 / C_MUT * 3.6e6 / delivered_power(world)  # ≈ 5.2 s per gate at 3450 W
    world.advance(20 * per_result_s)
    results = int(client.ask(f"CHAN{pos}:FETC:RES?"))
    assert 17 <= results <= 21
    assert client.ask(f"CHAN{pos}:STAT?") == "RUNNING"
    error = float(client.ask(f"CHAN{pos}:FETC:ERR?"))
    n_ref = 5 / C_MUT * C_REF
    assert error == pytest.approx(known_error(pos), abs=ACCURACY_PCT + 100 / n_ref)


# -- over TCP through pyvisa-py -----------------------------------------------------------------


@pytest.fixture
def served(bench_file: Path) -> Iterator[tuple[BackgroundLoop, World, str]]:
    with BackgroundLoop() as bl:

        def build() -> tuple[World, ErrorCalculatorDevice]:
            w = World(load_sim_bench(bench_file))
            apply_load(w)
            return w, ErrorCalculatorDevice(w)

        w, dev = bl.call(build)
        (ep,) = bl.serve([Endpoint("error_calculator", "error_calculator", "scpi", dev)])
        yield bl, w, f"TCPIP0::127.0.0.1::{ep.bound_port}::SOCKET"


def test_pyvisa_24_positions_in_one_round_trip(
    rm: pyvisa.ResourceManager, served: tuple[BackgroundLoop, World, str]
) -> None:
    bl, world, resource = served
    inst: Any = rm.open_resource(resource, read_termination="\n", write_termination="\n", timeout=5000)
    try:
        assert inst.query("CHAN:COUN?") == str(POSITIONS)
        inst.write("CONF:ALL ERR,10,1,WHPI;:INIT:ALL")
        assert inst.query("SYST:ERR?") == '0,"No error"'
        bl.call(lambda: world.advance_until_idle(600.0))
        recs = records(inst.query("FETC:ALL?"))
        assert len(recs) == POSITIONS
        for pos, (state, error, _, n_ref) in recs.items():
            assert state == "FINISHED"
            assert error == pytest.approx(known_error(pos), abs=ACCURACY_PCT + 100 / n_ref)
        inst.write("CHAN99:INIT")
        assert inst.query("SYST:ERR?").startswith("-114,")
    finally:
        inst.close()
