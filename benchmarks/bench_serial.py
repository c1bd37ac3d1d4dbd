"""A full IEC 62056-21 mode C data readout over RFC 2217 against the simulated optical head, 300 Bd → 9600 Bd
(issue: real meter ports). The head paces the line as hardware does, so the readout cannot be faster than its line
time; the figure is the wall time against that bound:

    bound = (request + identification + acknowledgement) × 10 bits / 300 Bd + readout × 10 bits / 9600 Bd
            + 2 × the meter's reaction time (200 ms: before the identification and before the readout)

Target: wall ≤ 1.2 × bound. Run: ``.venv/bin/python benchmarks/bench_serial.py [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from instruments.drivers.clock import SimulationClock
from instruments.drivers.fluke6105a import Fluke6105A
from instruments.drivers.iec62056 import Iec62056Port
from instruments.drivers.serial_transport import SerialTransport
from instruments.drivers.transport import VisaTransport
from instruments.roles import PhaseLoad
from instruments.simulators.bench import RunningBench, SimulatedBench
from instruments.simulators.world.config import load_sim_bench

POSITION = 3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="3 readouts instead of 10")
    args = ap.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    runs = 3 if args.quick else 10
    with RunningBench(SimulatedBench(load_sim_bench(None), seed=1)) as rb:
        src_t = VisaTransport("source", f"TCPIP0::127.0.0.1::{rb.port('source')}::SOCKET")
        ctl_t = VisaTransport("control", f"TCPIP0::127.0.0.1::{rb.port('control')}::SOCKET")
        source = Fluke6105A(src_t, max_voltage_v=300.0, max_current_a=120.0)
        source.apply({p: PhaseLoad(230.0, 5.0, a, a) for p, a in {1: 0.0, 2: -120.0, 3: 120.0}.items()})
        source.output_on()
        SimulationClock(ctl_t).sleep(5.0)
        head = rb.bench.endpoint(f"meter{POSITION}-optical").device
        t = SerialTransport(f"meter{POSITION}", f"rfc2217://127.0.0.1:{rb.port(f'meter{POSITION}-optical')}",
                            timeout_s=3.0)
        port = Iec62056Port(t, address=f"MHS26{POSITION:08d}")
        t.open()
        walls: list[float] = []
        for _ in range(runs):
            t0 = time.perf_counter()
            port.readout()
            walls.append(time.perf_counter() - t0)
            t.switch_baud(None)  # back to 300 Bd outside the measurement (the next dialogue would do it first)
        ident = rb.call(head.port.identification)
        readout = rb.call(head.port.readout)
        request = len(f"/?MHS26{POSITION:08d}!\r\n")
        bound = (request + len(ident) + 6) * 10 / 300 + len(readout) * 10 / 9600 + 2 * head.reaction_s
        t.close()
        src_t.close()
        ctl_t.close()
        assert not head.violations, list(head.violations)
    wall = statistics.median(walls)
    print(f"mode C readout over RFC 2217, 300 Bd → 9600 Bd ({request}+{len(ident)}+6 bytes at 300 Bd, "
          f"{len(readout)} bytes at 9600 Bd), {runs} runs")
    print(f"  line-time bound {bound * 1000:7.1f} ms")
    print(f"  wall (median)   {wall * 1000:7.1f} ms   min {min(walls) * 1000:.1f} ms  max {max(walls) * 1000:.1f} ms")
    print(f"  ratio           {wall / bound:7.3f} ×   (goal ≤ 1.2 ×: {'met' if wall <= 1.2 * bound else 'MISSED'})")


if __name__ == "__main__":
    main()
