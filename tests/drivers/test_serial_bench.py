"""Serial meter ports in the bench file: which resources select the serial transport, bad ports and byte formats
refused naming the meter and the port before anything is energised, a bench whose meter port is the simulated optical
head (RFC 2217), the head's endpoint records, and a client at the wrong byte format."""

from __future__ import annotations

import os
from typing import Any

import pytest

from hil.bench import Bench, BenchConfigurationError
from hil.simbench import bench_file_for
from hil.simbench_serial import on_optical_heads
from instruments.drivers.errors import InstrumentConnectionError
from instruments.drivers.serial_transport import LineError, SerialTransport, is_serial_resource
from tests.drivers.conftest import Sim
from tests.drivers.test_serial_rfc2217 import head, serial_port, url

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")


def test_resources_that_select_the_serial_transport() -> None:
    for resource in ("rfc2217://10.0.0.5:4001", "socket://10.0.0.5:4001", "loop://", "/dev/ttyUSB0", "COM3"):
        assert is_serial_resource(resource)
    assert not is_serial_resource("TCPIP0::127.0.0.1::5025::SOCKET")


def _bench_with_port(bench: Sim, resource: str, **options: Any) -> Any:
    bf = bench.running.call(bench_file_for, bench.running.bench)
    pos = bf.positions[0]
    port = pos.port.model_copy(update={"resource": resource, "options": options})
    return bf.model_copy(update={"positions": [pos.model_copy(update={"port": port, "dlms": None})]})


def test_bench_file_bad_serial_ports_name_the_meter_and_the_port(bench: Sim) -> None:
    with pytest.raises(BenchConfigurationError, match=r"meter1 at /dev/ttyMHLNOPE0: .*cannot open"):
        Bench(_bench_with_port(bench, "/dev/ttyMHLNOPE0")).connect()
    with pytest.raises(BenchConfigurationError, match=r"meter1 at rfc2217://.*byte format '7X1'"):
        Bench(_bench_with_port(bench, url(bench, 1), byte_format="7X1")).connect()
    assert bench.truth()["source"]["output"] is False  # nothing energised


def test_port_in_use_names_the_meter_and_the_port() -> None:
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        first = SerialTransport("meter1", name)
        first.open()
        try:
            with pytest.raises(InstrumentConnectionError, match=rf"meter2: serial port {name}: in use"):
                SerialTransport("meter2", name).open()
        finally:
            first.close()
    finally:
        os.close(master)
        os.close(slave)


def test_bench_file_with_the_ports_on_the_optical_heads_reads_the_meters(bench: Sim) -> None:
    bf = bench.running.call(bench_file_for, bench.running.bench)
    bf = bench.running.call(on_optical_heads, bf, bench.running.bench, [1, 2])
    assert bf.positions[0].port.resource.startswith("rfc2217://")
    assert bf.positions[2].port.resource.startswith("TCPIP0::")  # position 3 stays on TCP
    with Bench(bf) as hb:
        hb.connect()
        bench.energise()
        assert hb.meter(1).port.read("C.1.0") == "MHS2600000001"
        assert hb.meter(3).port.read("C.1.0") == "MHS2600000003"  # the same driver over the other transport


def test_one_rfc2217_meter_port_per_meter(bench: Sim) -> None:
    eps = bench.running.bench.describe()
    meters = {e["position"]: e for e in eps if e["role"] == "meter_port" and e["protocol"] == "iec62056-21"}
    heads = {e["position"]: e for e in eps if e["role"] == "meter_port" and e["protocol"] == "rfc2217"}
    assert sorted(heads) == sorted(meters)
    for pos, e in heads.items():
        assert {"host", "port", "position", "serial"} <= e.keys()
        assert e["serial"] == meters[pos]["serial"] and e["port"] != meters[pos]["port"]


def test_client_at_the_wrong_byte_format_fails_naming_the_cause(bench: Sim) -> None:
    bench.energise()
    port = serial_port(bench, SerialTransport("meter3", url(bench), timeout_s=1.0, byte_format="8N1"))
    with pytest.raises(LineError, match="parity errors"):
        port.readout()
    assert any("parity error" in v for v in head(bench).violations)
