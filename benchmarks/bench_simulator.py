"""Simulator performance figures (issue: simulated bench).

1. pyvisa-py query rate against the simulated source (served by ``hil sim`` in its own process) and, in the same
   run, against a minimal asyncio echo server (also its own process); prints the ratio. Target ≥ 0.70.
2. Simulated seconds per wall second for a 24-position bench with pulses flowing: (a) the physics alone,
   (b) driven through the control endpoint over pyvisa in 1-minute steps. Target ≥ 10,000.
3. A 168 h burn-in shaped run on 24 positions advanced in 1-minute steps through the control endpoint, with the
   error calculators read each step. Target ≤ 60 s wall.

Run: ``.venv/bin/python benchmarks/bench_simulator.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyvisa
import yaml

from instruments.simulators.world.config import SimBenchConfig, load_sim_bench
from instruments.simulators.world.world import World

ECHO_SERVER = r"""
import asyncio, sys
class Echo(asyncio.Protocol):
    def connection_made(self, t): self.t = t
    def data_received(self, d): self.t.write(d)
async def main():
    srv = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()
asyncio.run(main())
"""


def bench_24(seed: int = 1) -> SimBenchConfig:
    """The default bench grown to 24 positions (copies of its good meters, new serials)."""
    cfg = load_sim_bench()
    data: dict[str, Any] = cfg.model_dump(mode="json", by_alias=True, exclude_unset=True)
    positions = data["positions"]
    template = positions[0]
    grown = []
    for n in range(1, 25):
        p = dict(positions[n - 1]) if n <= len(positions) else dict(template)
        p["position"] = n
        p["serial"] = f"MHB{n:010d}"
        grown.append(p)
    data["positions"] = grown
    data["seed"] = seed
    return SimBenchConfig.model_validate(data)


def rate(inst: Any, cmd: str, seconds: float) -> float:
    for _ in range(50):
        inst.query(cmd)
    n = 0
    t0 = time.perf_counter()
    while (time.perf_counter() - t0) < seconds:
        for _ in range(100):
            inst.query(cmd)
        n += 100
    return n / (time.perf_counter() - t0)


def start_sim(bench_path: Path | None) -> tuple[subprocess.Popen[str], dict[str, dict[str, Any]]]:
    cmd = [sys.executable, "-m", "hil.cli", "sim"] + (["--bench", str(bench_path)] if bench_path else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and proc.stdout is not None
    line = proc.stderr.readline()
    if "ready" not in line:
        proc.kill()
        raise RuntimeError(f"hil sim did not start: {line}{proc.stderr.read()}")
    eps: dict[str, dict[str, Any]] = {}
    n = int(line.split(" endpoints")[0].rsplit(" ", 1)[1])
    for _ in range(n):
        rec = json.loads(proc.stdout.readline())
        eps[rec["name"]] = rec
    return proc, eps


def open_visa(rm: pyvisa.ResourceManager, resource: str) -> Any:
    inst = rm.open_resource(resource, read_termination="\n", write_termination="\n", timeout=10000)
    return inst


def query_rate(seconds: float) -> None:
    rm = pyvisa.ResourceManager("@py")
    echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    sim, eps = start_sim(None)
    try:
        assert echo.stdout is not None
        echo_port = int(echo.stdout.readline())
        e = open_visa(rm, f"TCPIP0::127.0.0.1::{echo_port}::SOCKET")
        s = open_visa(rm, eps["source"]["resource"])
        s.write("SOUR:PHAS1:VOLT 230")
        # interleave to share whatever the machine is doing between both
        r_echo, r_sim = [], []
        for _ in range(3):
            r_echo.append(rate(e, "SOUR:PHAS1:VOLT?", seconds / 3))
            r_sim.append(rate(s, "SOUR:PHAS1:VOLT?", seconds / 3))
        re_, rs = max(r_echo), max(r_sim)
        print("== pyvisa-py query rate (SOUR:PHAS1:VOLT?) ==")
        print(f"echo server      : {re_:9.0f} queries/s")
        print(f"source simulator : {rs:9.0f} queries/s")
        print(f"ratio sim/echo   : {rs / re_:9.2f}   (target >= 0.70)")
        e.close()
        s.close()
    finally:
        echo.kill()
        sim.terminate()
        sim.wait(10)


def _energise(world: World) -> None:
    src = world.source
    for ph in range(1, src.phases + 1):
        src.set_voltage(ph, 230.0)
        src.set_current(ph, 5.0)
    src.set_output(True)
    for cal in world.calculators.values():
        cal.mode = "CONTINUOUS"
        cal.mut_pulses = 10
        cal.start()


def physics_rate(sim_hours: float) -> None:
    world = World(bench_24())
    _energise(world)
    world.advance(60)
    t0 = time.perf_counter()
    world.advance(sim_hours * 3600)
    wall = time.perf_counter() - t0
    pulses = sum(m.pulses for m in world.meters.values())
    print("== physics alone, 24 positions, 3x230 V x 5 A, calculators continuous ==")
    print(f"simulated {sim_hours:.0f} h in {wall:.3f} s wall: {sim_hours * 3600 / wall:,.0f} simulated s per wall s"
          f"   (target >= 10,000); {pulses:,} meter pulses")


def stepped_via_control(sim_hours: float, step_s: float) -> None:
    rm = pyvisa.ResourceManager("@py")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench24.yaml"
        path.write_text(yaml.safe_dump(bench_24().model_dump(mode="json", by_alias=True, exclude_unset=True)))
        sim, eps = start_sim(path)
        try:
            ctl = open_visa(rm, eps["control"]["resource"])
            src = open_visa(rm, eps["source"]["resource"])
            cal = open_visa(rm, eps["error_calculator"]["resource"])
            for ph in (1, 2, 3):
                src.write(f"SOUR:PHAS{ph}:VOLT 230;CURR 5")
            src.write("OUTP ON")
            cal.write("CONF:ALL:MODE CONT")
            cal.write("INIT:ALL")
            steps = int(sim_hours * 3600 / step_s)
            t0 = time.perf_counter()
            for _ in range(steps):
                ctl.write(f"CLOC:ADV {step_s}")
                cal.query("FETC:ALL?")
            wall = time.perf_counter() - t0
            truth = json.loads(ctl.query("SIM:TRUT?"))
            print(f"== through pyvisa: {sim_hours:.0f} h on 24 positions in {step_s:.0f} s steps "
                  f"(advance + fetch all channels per step) ==")
            print(f"{steps} steps in {wall:.2f} s wall: {sim_hours * 3600 / wall:,.0f} simulated s per wall s;"
                  f" virtual time now {truth['time']:.0f} s")
            src.write("OUTP OFF")
        finally:
            sim.terminate()
            sim.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="shorter runs (smoke)")
    a = ap.parse_args()
    query_rate(1.5 if a.quick else 6.0)
    physics_rate(24 if a.quick else 168)
    stepped_via_control(24 if a.quick else 168, 60.0)


if __name__ == "__main__":
    main()
