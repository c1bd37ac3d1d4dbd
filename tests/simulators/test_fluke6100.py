"""Fluke 6105A source simulator over the real physics: setpoints, ratings, powers, settling, *RST, ENERgy."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import pyvisa

from instruments.simulators.clock import VirtualClock
from instruments.simulators.fluke6100 import Fluke6105A
from instruments.simulators.loop import BackgroundLoop
from instruments.simulators.net import Endpoint
from instruments.simulators.units import to_imp_per_kwh
from instruments.simulators.world.config import SourceConfig, load_sim_bench
from instruments.simulators.world.source import Source
from instruments.simulators.world.world import World
from tests.helpers import Out, Talk, drain_errors


@pytest.fixture
def world() -> World:
    return World(load_sim_bench(), seed=1)


@pytest.fixture
def fluke(world: World) -> Fluke6105A:
    device = Fluke6105A(world.source)
    device.attach_clock(world.clock)
    return device


def make_talk(device: Fluke6105A) -> tuple[Talk, Out]:
    session, out = device.new_session(), Out()

    def _talk(message: str) -> str:
        session.data_received(message.encode() + b"\n", out)
        return out.take()

    return _talk, out


@pytest.fixture
def talk(fluke: Fluke6105A) -> Talk:
    return make_talk(fluke)[0]


def test_idn(talk: Talk) -> None:
    assert talk("*IDN?") == "FLUKE,6105A,SIM0001,MeterHIL-sim 0.1\n"


def test_setpoints_reach_the_physics(talk: Talk, world: World) -> None:
    talk("SOUR:PHAS2:VOLT 231.5;CURR 5;CURR:PANG -60;:SOUR:PHAS2:VOLT:PANG -120;:FREQ 60")
    sp = world.source.setpoint(2)
    assert (sp.voltage, sp.current, sp.current_angle, sp.voltage_angle, sp.frequency) == (231.5, 5, -60, -120, 60)
    assert talk("PHAS2:VOLT?;CURR?;CURR:PANG?;:PHAS2:VOLT:PANG?;:FREQ?") == (
        "+2.31500000E+02;+5.00000000E+00;-6.00000000E+01;-1.20000000E+02;+6.00000000E+01\n"
    )
    assert drain_errors(talk) == []


def test_power_queries_by_hand_formula(talk: Talk) -> None:
    u, i, lag = 230.0, 5.0, 60.0
    talk(f"PHAS1:VOLT {u};VOLT:PANG 0;:PHAS1:CURR {i};CURR:PANG {-lag}")
    p = u * i * math.cos(math.radians(lag))
    q = u * i * math.sin(math.radians(lag))  # lagging current: positive reactive power
    watt, va, var = (float(x) for x in talk("PHAS1:POW:WATT?;VA?;VAR?").split(";"))  # NR3: 9 digits
    assert watt == pytest.approx(p, rel=2e-8)
    assert va == pytest.approx(u * i, rel=2e-8)
    assert var == pytest.approx(q, rel=2e-8)


def test_power_with_harmonics_by_hand_formula(talk: Talk) -> None:
    u, i = 230.0, 5.0
    talk(f"PHAS3:VOLT {u};VOLT:PANG 0;:PHAS3:CURR {i};CURR:PANG 0")
    talk("PHAS3:VOLT:MHAR:HARM3 10,0;:PHAS3:CURR:MHAR:HARM3 20,30")
    # P = U·I + U3·I3·cos(α_u3 − α_i3) with φ = 0; S = U_rms·I_rms
    p = u * i + (0.10 * u) * (0.20 * i) * math.cos(math.radians(0 - 30))
    s = u * math.sqrt(1 + 0.10**2) * i * math.sqrt(1 + 0.20**2)
    watt, va = (float(x) for x in talk("PHAS3:POW:WATT?;VA?").split(";"))
    assert watt == pytest.approx(p, rel=2e-8)
    assert va == pytest.approx(s, rel=2e-8)


def test_ranges_come_from_the_rating(talk: Talk, world: World) -> None:
    rating = world.config.source
    assert float(talk("PHAS1:VOLT? MAX")) == rating.max_voltage_v
    assert float(talk("PHAS1:CURR? MAX")) == rating.max_current_a
    assert float(talk("FREQ? MIN")) == rating.min_frequency_hz
    before = world.source.version
    talk(f"PHAS1:VOLT {rating.max_voltage_v + 0.1}")
    talk(f"PHAS1:CURR {rating.max_current_a * 1.01}")
    talk(f"FREQ {rating.max_frequency_hz + 1}")
    assert world.source.version == before  # refused before touching the physics
    assert drain_errors(talk) == [-222, -222, -222]
    talk("PHAS1:VOLT MAX")
    assert world.source.setpoint(1).voltage == rating.max_voltage_v


def test_physics_refusal_is_data_out_of_range(talk: Talk, world: World) -> None:
    rating = world.config.source.max_voltage_v
    talk(f"PHAS1:VOLT {rating * 0.9}")
    talk("PHAS1:VOLT:MHAR:HARM3 50,0")  # RMS = 0.9·√1.25 ≈ 1.006 × rating
    assert drain_errors(talk) == [-222]
    assert world.source.setpoint(1).voltage_harmonics == ()


def test_harmonics_set_query_clear(talk: Talk, world: World) -> None:
    talk("PHAS2:CURR:MHAR:HARM5 10,30")
    assert talk("PHAS2:CURR:MHAR:HARM5?") == "+1.00000000E+01,+3.00000000E+01\n"
    assert talk("PHAS2:CURR:MHAR:HARM5? AMPL;HARM5? PANG;HARM7?;HARM5:AMPL?;PANG?") == (
        "+1.00000000E+01;+3.00000000E+01;+0.00000000E+00,+0.00000000E+00;+1.00000000E+01;+3.00000000E+01\n"
    )
    assert [(h.order, h.percent, h.degrees) for h in world.source.setpoint(2).current_harmonics] == [(5, 10, 30)]
    talk("PHAS2:CURR:MHAR:CLE")
    assert world.source.setpoint(2).current_harmonics == ()
    talk("PHAS2:CURR:MHAR:HARM1 10,0")
    talk(f"PHAS2:CURR:MHAR:HARM{world.source.max_harmonic_order + 1} 10,0")
    assert drain_errors(talk) == [-114, -114]


def test_output_and_fitted(talk: Talk, world: World) -> None:
    assert talk("OUTP?") == "0\n"
    talk("OUTP ON")
    assert world.source.output is True
    assert talk("OUTP:STAT?;:PHAS1:FITT?;:PHAS2:FITT?;:PHAS3:FITT?") == "1;1;1;1\n"


def test_single_phase_source_reports_missing_phases() -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    source = Source(SourceConfig(phases=1), clock, np.random.default_rng(0))
    talk, _ = make_talk(Fluke6105A(source))
    assert talk("PHAS1:FITT?;:PHAS2:FITT?;:PHAS3:FITT?") == "1;0;0\n"
    talk("PHAS2:VOLT 100")
    talk("PHAS4:FITT?")
    assert drain_errors(talk) == [-241, -114]


def test_opc_query_waits_for_settling(fluke: Fluke6105A, world: World) -> None:
    talk, out = make_talk(fluke)
    other, _ = make_talk(fluke)
    settle = world.config.source.settling_time_s
    talk("PHAS1:VOLT 230;CURR 5")
    assert talk("OUTP ON;*OPC?") == ""  # held: the outputs are ramping up
    assert other("STAT:OPER:COND?") == "2\n"  # SETTling
    world.advance(settle / 2)
    assert out.data == b""
    world.advance(settle)  # past the settling time: the clock listener releases the reply
    assert out.take() == "1\n"
    assert other("STAT:OPER:COND?;EVEN?;EVEN?") == "0;2;0\n"


def test_rst_releases_opc_held_on_another_connection(fluke: Fluke6105A, world: World) -> None:
    """*RST settles the source at its defaults: a *OPC? / *WAI held elsewhere is released at once, not at the
    next clock advance."""
    waiting, out = make_talk(fluke)
    resetter, _ = make_talk(fluke)
    t0 = world.clock.now
    assert waiting("PHAS1:VOLT 230;:OUTP ON;*OPC?") == ""  # held: settling
    assert waiting("*WAI;PHAS1:VOLT?") == ""  # queued behind it
    resetter("*RST")
    assert world.clock.now == t0 and world.source.settled
    assert out.take() == "1\n" + f"{world.config.source.nominal_voltage_v:+.8E}\n"


def test_wai_holds_later_commands_until_settled(fluke: Fluke6105A, world: World) -> None:
    talk, _ = make_talk(fluke)
    talk("OUTP ON")
    world.advance(world.config.source.settling_time_s)
    talk("PHAS1:VOLT 100;*WAI;:PHAS1:CURR 2")
    assert world.source.setpoint(1).current == 0.0
    world.advance(world.config.source.settling_time_s)
    assert world.source.setpoint(1).current == 2.0


def test_operation_summary_in_stb(talk: Talk, world: World) -> None:
    talk("STAT:OPER:ENAB 2;:OUTP ON")
    assert int(talk("*STB?")) & 0x80
    world.advance(world.config.source.settling_time_s)
    talk("STAT:OPER?")  # reading the event register clears it
    assert int(talk("*STB?")) & 0x80 == 0


def test_rst_and_power_loss(talk: Talk, fluke: Fluke6105A, world: World) -> None:
    talk("PHAS1:VOLT 100;CURR 5;:OUTP ON;:ENER:OUTP:CONS 42;CONS:UNIT WHPI;:BOGUS")
    talk("*RST")
    sp = world.source.setpoint(1)
    assert world.source.output is False
    assert (sp.voltage, sp.current) == (world.config.source.nominal_voltage_v, 0.0)
    assert talk("ENER:OUTP:CONS?;CONS:UNIT?") == "+1.00000000E+03;IPKWH\n"
    assert drain_errors(talk) == [-113]  # *RST keeps the error queue
    talk("OUTP ON;:BOGUS")
    fluke.power_loss()
    assert world.source.output is False
    assert talk("SYST:ERR:COUN?;*ESR?") == "0;0\n"


def test_energy_subsystem_is_stored(talk: Talk) -> None:
    talk("ENER:OUTP:CONS 2.5;CONS:UNIT ipwh")
    talk("ENER:REF:CONS 5E6;CONS:UNIT IPKWH;:ENER:REF:SOUR main")
    talk("ENER:MUT:SOUR sum123;CONS 1000;CONS:UNIT IPKWH")
    assert talk("ENER:OUTP:CONS?;CONS:UNIT?") == "+2.50000000E+00;IPWH\n"
    assert talk("ENER:REF:CONS?;CONS:UNIT?;:ENER:REF:SOUR?") == "+5.00000000E+06;IPKWH;MAIN\n"
    assert talk("ENER:MUT:SOUR?;CONS?;CONS:UNIT?") == "SUM123;+1.00000000E+03;IPKWH\n"
    talk("ENER:OUTP:CONS:UNIT IPK")  # the units have no short form
    talk("ENER:MUT:SOUR CH7")
    assert drain_errors(talk) == [-224, -224]


@pytest.mark.parametrize(
    ("value", "unit", "per_kwh"),
    [(1000, "IPWH", 1e6), (5000, "IPKWH", 5000), (5000, "IPMWH", 5), (2, "WHPI", 500), (0.5, "KWHPI", 2),
     (1, "MWHPI", 0.001)],
)  # fmt: skip
def test_meter_constant_units(value: float, unit: str, per_kwh: float) -> None:
    assert to_imp_per_kwh(value, unit) == pytest.approx(per_kwh, rel=1e-12)


# -- over TCP -------------------------------------------------------------------------------------
@pytest.fixture
def served(world: World, fluke: Fluke6105A, rm: pyvisa.ResourceManager) -> Iterator[tuple[Any, BackgroundLoop]]:
    with BackgroundLoop() as loop:
        (ep,) = loop.serve([Endpoint(name="source", role="source", protocol="scpi", device=fluke)])
        inst = rm.open_resource(
            f"TCPIP0::127.0.0.1::{ep.bound_port}::SOCKET", read_termination="\n", write_termination="\n",
            timeout=5000,
        )  # fmt: skip
        try:
            yield inst, loop
        finally:
            inst.close()


def test_opc_query_released_by_clock_advance_over_tcp(
    served: tuple[Any, BackgroundLoop], fluke: Fluke6105A, world: World
) -> None:
    inst, loop = served
    assert inst.query("SOUR:PHAS1:VOLT 230;CURR 5;:OUTP ON;:OUTP?") == "1"
    inst.write("*OPC?")
    for _ in range(1000):  # until the simulator holds the query
        if loop.call(lambda: len(fluke._waiting)) == 1:
            break
    else:
        raise AssertionError("*OPC? was answered before the source settled")
    loop.call(lambda: world.advance(world.config.source.settling_time_s))
    assert inst.read() == "1"
    assert float(inst.query("PHAS1:POW:WATT?")) == pytest.approx(230 * 5)  # phase 1 defaults: U and I at 0°
