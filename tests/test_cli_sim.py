"""``hil sim``: endpoint listing, bench file for attaching, signals, bad input."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import pyvisa

from hil.benchfile import load_bench_file
from instruments.yamlconfig import ConfigError


class SimProcess:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hil.cli", "sim", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.endpoints: list[dict[str, Any]] = []
        self.ready_line = ""

    def wait_ready(self) -> SimProcess:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.ready_line = self.proc.stderr.readline()
        assert "ready" in self.ready_line, self.ready_line + self.proc.stderr.read()
        n = int(self.ready_line.split(" endpoints")[0].rsplit(" ", 1)[1])
        self.endpoints = [json.loads(self.proc.stdout.readline()) for _ in range(n)]
        return self

    def by_name(self, name: str) -> dict[str, Any]:
        return next(e for e in self.endpoints if e["name"] == name)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(15)


@pytest.fixture
def hil_sim(tmp_path: Path) -> Iterator[SimProcess]:
    p = SimProcess("--seed", "3", "--write-bench", str(tmp_path / "bench.yaml")).wait_ready()
    yield p
    if p.proc.poll() is None:
        p.proc.kill()
        p.proc.wait(5)


def test_prints_one_json_record_per_endpoint(hil_sim: SimProcess) -> None:
    eps = hil_sim.endpoints
    roles = {e["role"] for e in eps}
    assert {"source", "reference", "error_calculator", "chamber", "meter_port", "simulation"} <= roles
    for e in eps:
        assert {"role", "name", "protocol", "host", "port"} <= e.keys()
        assert e["host"] == "127.0.0.1"
    for e in eps:
        if e["protocol"] == "scpi":
            assert e["resource"] == f"TCPIP0::127.0.0.1::{e['port']}::SOCKET"
    meters = [e for e in eps if e["role"] == "meter_port" and e["protocol"] == "iec62056-21"]
    assert len(meters) >= 12
    assert sorted(m["position"] for m in meters) == list(range(1, len(meters) + 1))
    assert len({m["serial"] for m in meters}) == len(meters)
    # and one DLMS/COSEM wrapper port per meter, with its position and serial (IEC 62056-47)
    dlms = {e["position"]: e for e in eps if e["role"] == "meter_port" and e["protocol"] == "dlms-wrapper"}
    assert sorted(dlms) == sorted(m["position"] for m in meters)
    assert all(dlms[m["position"]]["serial"] == m["serial"] for m in meters)
    assert len({e["port"] for e in eps}) == len(eps)


def test_default_bench_is_three_phase_class_1(hil_sim: SimProcess, tmp_path: Path) -> None:
    bench = load_bench_file(tmp_path / "bench.yaml")
    assert bench.limits.phases == 3
    assert len(bench.positions) >= 12
    for pos in bench.positions:
        m = pos.meter
        assert (m.connection, m.un_v, m.itr_a, m.iref_a, m.imax_a, m.constant_imp_per_kwh) == (
            "3P4W", 230.0, 0.5, 5.0, 60.0, 1000.0,
        )
        assert m.meter_class in ("1", "B")
        # --write-bench also names the meter's DLMS port: the wrapper endpoint `hil sim` printed for it
        assert pos.dlms is not None and pos.dlms.driver == "dlms"
        assert pos.dlms.resource.endswith(f"::{hil_sim.by_name(f'meter{pos.position}-dlms')['port']}::SOCKET")
        assert pos.dlms.options["authentication"] == "hls-gmac"


def test_written_bench_file_attaches_like_hardware(
    hil_sim: SimProcess, tmp_path: Path, rm: pyvisa.ResourceManager
) -> None:
    bench = load_bench_file(tmp_path / "bench.yaml")
    assert bench.roles["source"].resource == hil_sim.by_name("source")["resource"]
    try:
        insts: dict[str, Any] = {}
        roles: tuple[tuple[Literal["source", "reference", "simulation"], str], ...] = (
            ("source", "FLUKE,6105A"), ("reference", "YOKOGAWA,WT5000"), ("simulation", "MeterHIL,SimControl"))
        for role, pattern_start in roles:
            inst: Any = rm.open_resource(bench.roles[role].resource, read_termination="\n",
                                         write_termination="\n", timeout=5000)
            assert inst.query("*IDN?").startswith(pattern_start)
            insts[role] = inst
        # a meter's optical port needs the meter powered: voltage on, no current
        insts["source"].write("SOUR:PHAS1:VOLT 230;:SOUR:PHAS2:VOLT 230;:SOUR:PHAS3:VOLT 230;:OUTP ON")
        assert insts["source"].query("OUTP?") == "1"  # executed before the clock moves (another connection)
        insts["simulation"].write("CLOC:ADV 5")
        assert insts["simulation"].query("*OPC?") == "1"  # ... and the clock has moved before the port is asked
        # the meter port answers its own serial number as address
        pos1 = bench.positions[0]
        assert pos1.port is not None
        _, host, port, _ = pos1.port.resource.split("::")
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(f"/?{pos1.meter.serial}!\r\n".encode())
            ident = b""
            while not ident.endswith(b"\r\n"):
                chunk = s.recv(64)
                assert chunk, ident
                ident += chunk
        assert ident.startswith(b"/")
    finally:
        for inst in insts.values():
            inst.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signal(hil_sim: SimProcess, sig: int) -> None:
    port = hil_sim.by_name("source")["port"]
    assert hil_sim.stop(sig) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_same_seed_same_serials_and_truth(tmp_path: Path, rm: pyvisa.ResourceManager) -> None:
    a = SimProcess("--seed", "11").wait_ready()
    b = SimProcess("--seed", "11").wait_ready()
    try:
        truths = []
        for p in (a, b):
            ctl: Any = rm.open_resource(p.by_name("control")["resource"], read_termination="\n",
                                   write_termination="\n", timeout=5000)
            src: Any = rm.open_resource(p.by_name("source")["resource"], read_termination="\n",
                                   write_termination="\n", timeout=5000)
            src.write("SOUR:PHAS1:VOLT 230;CURR 5;:SOUR:PHAS2:VOLT 230;CURR 5;:SOUR:PHAS3:VOLT 230;CURR 5")
            src.write("OUTP ON")
            assert src.query("OUTP?") == "1"  # executed before the clock moves (another connection)
            ctl.write("CLOC:ADV 3600")
            truths.append(json.loads(ctl.query("SIM:TRUT?")))
            src.write("OUTP OFF")
            ctl.close()
            src.close()
        assert truths[0] == truths[1]
        assert truths[0]["time"] == pytest.approx(3600.0)
    finally:
        a.stop()
        b.stop()


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    busy = blocker.getsockname()[1]
    bench = tmp_path / "busy.yaml"
    from instruments.simulators.world.config import load_sim_bench

    data = load_sim_bench().model_dump(mode="json", by_alias=True, exclude_unset=True)
    data.setdefault("network", {})["ports"] = {"source": busy}
    import yaml

    bench.write_text(yaml.safe_dump(data))
    try:
        p = SimProcess("--bench", str(bench))
        rc = p.proc.wait(30)
        err = p.proc.stderr.read() if p.proc.stderr else ""
    finally:
        blocker.close()
    assert rc == 3
    assert f"127.0.0.1:{busy}" in err and "source" in err


def test_malformed_bench_file_names_field_and_line(tmp_path: Path) -> None:
    from instruments.simulators.world.config import load_sim_bench

    good = load_sim_bench().model_dump(mode="json", by_alias=True, exclude_unset=True)
    import yaml

    text = yaml.safe_dump(good, sort_keys=False).replace("phases: 3", "phases: seven", 1)
    bench = tmp_path / "bad.yaml"
    bench.write_text(text)
    line = text.splitlines().index(next(ln for ln in text.splitlines() if "phases: seven" in ln)) + 1
    p = SimProcess("--bench", str(bench))
    rc = p.proc.wait(30)
    err = p.proc.stderr.read() if p.proc.stderr else ""
    assert rc == 2
    assert f"{bench}:{line}:" in err and "source.phases" in err
    with pytest.raises(ConfigError):
        load_sim_bench(bench)


# -- bad input: one clean line on stderr, exit code 2, no traceback, no server --------------------------
def run_sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hil.cli", "sim", *args], capture_output=True, text=True, timeout=60, check=False
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hil: error: "), proc.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert proc.stdout == ""  # no endpoint was listed: nothing was served


def test_negative_seed(tmp_path: Path) -> None:
    assert_one_line_error(run_sim("--seed", "-1"), "--seed", "-1")


def test_write_bench_into_a_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "dir" / "x.yaml"
    assert_one_line_error(run_sim("--write-bench", str(target)), "--write-bench", str(target.parent))
    assert not target.parent.exists()


@pytest.mark.parametrize("what", ["missing", "directory", "binary"])
def test_unreadable_bench_file(tmp_path: Path, what: str) -> None:
    path = tmp_path / "bench.yaml"
    if what == "directory":
        path.mkdir()
    elif what == "binary":
        path.write_bytes(b"\xff\xfe\x00name: x\n\x80\x81")
    assert_one_line_error(run_sim("--bench", str(path)), str(path))


@pytest.mark.parametrize(
    ("key", "value"), [("name", "bench,two"), ("name", "bench\nline"), ("reference.serial", "S1;S2")]
)
def test_identification_fields_are_checked(tmp_path: Path, key: str, value: str) -> None:
    """Bench name, model and serial are *IDN? fields: a comma or newline would break the reply's framing."""
    import yaml

    from instruments.simulators.world.config import load_sim_bench

    data = load_sim_bench().model_dump(mode="json", by_alias=True, exclude_unset=True)
    section, _, field = key.rpartition(".")
    (data.setdefault(section, {}) if section else data)[field] = value
    bench = tmp_path / "idn.yaml"
    bench.write_text(yaml.safe_dump(data))
    assert_one_line_error(run_sim("--bench", str(bench)), key, "identification")


def test_host_that_is_not_loopback_warns(tmp_path: Path) -> None:
    """192.0.2.1 (TEST-NET-1) is not on this machine: the warning comes first, then the bind fails (exit 3),
    so the test never exposes a port."""
    proc = run_sim("--host", "192.0.2.1")
    assert proc.returncode == 3
    first = proc.stderr.splitlines()[0]
    assert first.startswith("hil: warning: serving on 192.0.2.1 (--host), not loopback")


def test_bench_file_host_that_is_not_loopback_warns(tmp_path: Path) -> None:
    import yaml

    from instruments.simulators.world.config import load_sim_bench

    data = load_sim_bench().model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["network"] = {"host": "192.0.2.1"}
    bench = tmp_path / "remote.yaml"
    bench.write_text(yaml.safe_dump(data))
    proc = run_sim("--bench", str(bench))
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[0].startswith(
        "hil: warning: serving on 192.0.2.1 (network.host of the bench file), not loopback"
    )


def test_loopback_hosts_do_not_warn(hil_sim: SimProcess) -> None:
    from hil.cli import is_loopback

    assert "warning" not in hil_sim.ready_line  # the first line on stderr is the ready line
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.0.2.1", "example.org"))


def test_the_simulator_names_the_file_it_was_built_from(tmp_path: Path, rm: pyvisa.ResourceManager) -> None:
    """A run attached to a ``hil sim`` bench records which simulated-bench file it runs (run.json)."""
    own = tmp_path / "my_bench.yaml"
    own.write_text((Path(__file__).resolve().parents[1] / "instruments/simulators/data/default_bench.yaml")
                   .read_text(encoding="utf-8").replace("name: default-sim-bench", "name: my-sim-bench"),
                   encoding="utf-8")
    for args, expected in ((("--bench", str(own)), str(own.resolve())), ((), "default")):
        p = SimProcess("--seed", "5", *args).wait_ready()
        try:
            ctl: Any = rm.open_resource(p.by_name("control")["resource"], read_termination="\n",
                                        write_termination="\n", timeout=5000)
            assert ctl.query("SIM:FILE?").strip().strip('"') == expected
            ctl.close()
        finally:
            p.stop()
