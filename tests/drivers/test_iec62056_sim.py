"""IEC 62056-21 client against the simulated meters' optical ports over TCP (raw bytes, no terminations)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from instruments.drivers.errors import InstrumentTimeout
from instruments.drivers.iec62056 import Iec62056Port, MeterRefused, PasswordRejected
from tests.drivers.conftest import Sim

SERIAL_3 = "MHS2600000003"
PASSWORD = "00000000"


def meter_port(bench: Sim, position: int = 3, timeout_s: float = 5.0, **options: Any) -> Iec62056Port:
    options.setdefault("address", f"MHS26{position:08d}")
    options.setdefault("password", PASSWORD)
    return Iec62056Port(bench.link(f"meter{position}", "iec62056-21", timeout_s=timeout_s), **options)


def register_text(kwh: float) -> str:
    """6+3 digits, truncated to whole Wh (docs/meter-port.md)."""
    wh = math.floor(kwh * 1000.0)
    return f"{wh // 1000:06d}.{wh % 1000:03d}*kWh"


def test_identify_and_readout(bench: Sim) -> None:
    bench.energise()
    port = meter_port(bench)
    assert port.identify() == "/MHS5\\2B3DC60"  # manufacturer MHS, 9600 Bd, mode E offered, model of the bench file
    assert port.last_readout["C.1.0"] == SERIAL_3


def test_registered_energy_over_an_hour(bench: Sim) -> None:
    """ΔE = Σ U·I·cos φ · t · (1 + e/100), within the 1 Wh resolution of each of the two readings."""
    bench.energise()
    port = meter_port(bench)
    e0 = float(port.readout()["1.8.0"].removesuffix("*kWh"))
    phases = bench.truth()["source"]["phases"].values()
    p_w = sum(p["voltage"] * p["current"] * math.cos(math.radians(p["voltage_angle"] - p["current_angle"]))
              for p in phases)
    bench.clock.sleep(3600.0)
    regs = port.readout()
    truth = bench.truth()["meters"]["3"]
    e1 = float(regs["1.8.0"].removesuffix("*kWh"))
    assert abs((e1 - e0) - p_w / 1000.0 * (1 + truth["error_pct"] / 100)) <= 0.002
    assert regs["1.8.0"] == register_text(truth["registers"]["1.8.0"])
    assert regs["2.8.0"] == "000000.000*kWh"  # nothing exported
    t1, t2 = (float(regs[a].removesuffix("*kWh")) for a in ("1.8.1", "1.8.2"))
    assert abs(t1 + t2 - e1) <= 0.002  # the tariff registers split the total


def test_programming_read_and_clock_write(bench: Sim) -> None:
    bench.energise()
    port = meter_port(bench)
    assert port.read("1.8.0") == port.readout()["1.8.0"]
    with port.programming() as session:
        session.write("0.9.1", "12:34:56")
        session.write("0.9.2", "26-02-03")
        assert session.read("0.9.1") == "12:34:56"
    assert bench.truth()["meters"]["3"]["clock"].startswith("2026-02-03T12:34:56")


def test_unknown_register_and_read_only_register(bench: Sim) -> None:
    bench.energise()
    port = meter_port(bench)
    with pytest.raises(MeterRefused):
        port.read("9.9.9")
    with pytest.raises(MeterRefused):
        port.write("C.7.0", "0")  # the power-failure count is read-only: NAKed every time, refused after retries
    assert port.read("C.1.0") == SERIAL_3  # the port is usable again afterwards


def test_wrong_password_then_the_right_one(bench: Sim) -> None:
    bench.energise()
    with pytest.raises(PasswordRejected):
        meter_port(bench, password="12345678").read("1.8.0")
    assert meter_port(bench).read("C.1.0") == SERIAL_3


def test_each_position_answers_with_its_own_serial(bench: Sim) -> None:
    bench.energise()
    assert meter_port(bench, position=7).read("C.1.0") == "MHS2600000007"


def test_unpowered_meter_is_silent(bench: Sim) -> None:
    port = meter_port(bench, timeout_s=0.3)  # source output off: the port does not answer
    with pytest.raises(InstrumentTimeout):
        port.identify()


def test_other_address_is_silent(bench: Sim) -> None:
    bench.energise()
    with pytest.raises(InstrumentTimeout):
        meter_port(bench, timeout_s=0.3, address="MHS2600000004").readout()  # probe on meter 3
