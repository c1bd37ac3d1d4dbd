"""Driver overhead figures (issue: drivers).

1. A driver query (``Fluke6105A.phase(1).voltage``) against the simulated source vs a raw pyvisa ``query`` of the
   same command to the same simulator (served by ``hil sim`` in its own process). Target: ≤ 1.10 ×.
2. A write + query pair against a server that delays its ACKs (TCP_QUICKACK off after every receive, so the
   kernel holds ACKs for the delayed-ACK timer): the driver vs two raw-socket round trips (TCP_NODELAY) measured in
   the same run; raw pyvisa-py (Nagle left on) shown for contrast. Target: driver ≤ 1.5 × two raw round trips.

Run: ``.venv/bin/python benchmarks/bench_drivers.py [--quick]``
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pyvisa

from instruments.drivers.fluke6105a import Fluke6105A
from instruments.drivers.transport import VisaTransport

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from bench_simulator import start_sim

DELAYED_ACK_SERVER = r"""
import socket, sys, threading
TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12)
def serve(conn):
    buf = b""
    while True:
        data = conn.recv(4096)
        conn.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 0)   # keep ACKs delayed
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.endswith(b"?"):
                conn.sendall(b"+2.30000000E+02\n")
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
print(srv.getsockname()[1], flush=True)
while True:
    c, _ = srv.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def per_call(fn: Callable[[], Any], seconds: float) -> float:
    for _ in range(20):
        fn()
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def driver_vs_raw_query(seconds: float) -> None:
    sim, eps = start_sim(None)
    try:
        rm = pyvisa.ResourceManager("@py")
        raw = rm.open_resource(eps["source"]["resource"], read_termination="\n", write_termination="\n")
        drv = Fluke6105A(VisaTransport("source", eps["source"]["resource"]), max_voltage_v=300, max_current_a=120)
        raw_t, drv_t = [], []
        for _ in range(3):
            raw_t.append(per_call(lambda: raw.query("SOUR:PHAS1:VOLT?"), seconds / 6))
            drv_t.append(per_call(lambda: drv.phase(1).voltage, seconds / 6))
        r, d = min(raw_t), min(drv_t)
        print("== driver query vs raw pyvisa query (SOUR:PHAS1:VOLT?, simulated source) ==")
        print(f"raw pyvisa query : {r * 1e6:8.1f} µs")
        print(f"driver query     : {d * 1e6:8.1f} µs")
        print(f"ratio            : {d / r:8.3f}   (target <= 1.10)")
        raw.close()
        drv.transport.close()
    finally:
        sim.terminate()
        sim.wait(10)


def delayed_ack_pair(seconds: float) -> None:
    srv = subprocess.Popen([sys.executable, "-c", DELAYED_ACK_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert srv.stdout is not None
        port = int(srv.stdout.readline())
        resource = f"TCPIP0::127.0.0.1::{port}::SOCKET"

        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def raw_round_trip() -> None:
            s.sendall(b"X?\n")
            while not s.recv(64).endswith(b"\n"):
                pass

        rm = pyvisa.ResourceManager("@py")
        plain = rm.open_resource(resource, read_termination="\n", write_termination="\n")

        def plain_pair() -> None:
            plain.write("SOUR:PHAS1:VOLT 230")
            plain.query("SOUR:PHAS1:VOLT?")

        t = VisaTransport("dut", resource)
        drv = Fluke6105A(t, check_errors=False, max_voltage_v=300, max_current_a=120)

        def driver_pair() -> None:
            drv.phase(1).voltage = 230.0
            _ = drv.phase(1).voltage

        rt = min(per_call(raw_round_trip, seconds / 6) for _ in range(2))
        dp = min(per_call(driver_pair, seconds / 6) for _ in range(2))
        pp = per_call(plain_pair, min(1.0, seconds / 6))
        print("== write + query pair against a server that delays its ACKs ==")
        print(f"raw socket round trip (TCP_NODELAY) : {rt * 1e6:9.1f} µs; two = {2 * rt * 1e6:.1f} µs")
        print(f"driver write + query                : {dp * 1e6:9.1f} µs")
        print(f"ratio driver / two raw round trips  : {dp / (2 * rt):9.2f}   (target <= 1.5)")
        print(f"raw pyvisa-py write + query (Nagle) : {pp * 1e6:9.1f} µs   (the stall the driver avoids)")
        plain.close()
        t.close()
        s.close()
    finally:
        srv.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    driver_vs_raw_query(1.5 if a.quick else 6.0)
    delayed_ack_pair(1.5 if a.quick else 6.0)


if __name__ == "__main__":
    main()
