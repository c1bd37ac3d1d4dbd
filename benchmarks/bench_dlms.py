"""DLMS/COSEM client figures over the TCP wrapper (IEC 62056-47), against one simulated meter (``meter1-dlms``).

1. GET round trips per second: Clock 0.0.1.0.0.255 attribute 2 read N times in one association (public client 16)
   by MeterHIL's DlmsPort, and by gurux-dlms on the same server in the same run. The Gurux loop runs in a subprocess
   (the checker interpreter, tests/dlms_checkers: GPL code is only ever run, never imported here) and times only its
   loop, after the association. Goal: DlmsPort / Gurux ≥ 1.
2. 35 days of the 15-min load profile (1.0.99.1.0.255, 3,360 entries, about 94 kB) read by range with DlmsPort
   proposing a 1024-octet max PDU, so that the meter sends it with GET block transfer. Goal: ≤ 2 s. Gurux reading the
   same range with the same PDU size is shown for contrast.

The simulated bench runs in its own process (``hil sim``), as the meters would be on a network; the meter is powered
(source on at Un, 5 A) before the clock runs. Both clients run interleaved (three rounds, the best kept) to share
whatever the machine is doing.

Run: ``.venv/bin/python benchmarks/bench_dlms.py [N]`` (default N = 2000 GETs per round); the Gurux side runs under
``$DLMS_CHECKER_PYTHON`` when set, else this interpreter (the ``dlms-check`` extra).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyvisa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from bench_simulator import open_visa, start_sim  # noqa: E402

from instruments.drivers.dlms import DlmsPort  # noqa: E402
from instruments.drivers.transport import VisaTransport  # noqa: E402

GOAL_RATIO = 1.0
GOAL_PROFILE_S = 2.0
PROFILE = "1.0.99.1.0.255"
DAYS = 35
PERIOD_S = 900
ROUNDS = 3
#: the simulator's epoch (the bench clock at start)
EPOCH = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.UTC)

#: The Gurux client loop, run in a subprocess: argv = port, mode ("get" N | "profile" FROM TO), max PDU. Prints one
#: JSON line with the loop's own timing (association and release excluded).
GURUX_LOOP = r"""
import datetime as dt, json, socket, sys, time
from gurux_dlms import GXByteBuffer, GXDateTime, GXDLMSClient, GXReplyData
from gurux_dlms.enums import Authentication, InterfaceType
from gurux_dlms.objects import GXDLMSClock, GXDLMSProfileGeneric

port, mode, pdu = int(sys.argv[1]), sys.argv[2], int(sys.argv[-1])
client = GXDLMSClient(True, 16, 1, Authentication.NONE, None, InterfaceType.WRAPPER)
client.maxReceivePDUSize = pdu
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def packet(data, reply):
    notify = GXReplyData()
    if data is not None:
        sock.sendall(bytes(data))
    buf = GXByteBuffer()
    while not client.getData(buf, reply, notify):
        buf.set(sock.recv(65536))

def exchange(request):
    reply = GXReplyData()
    for data in request if isinstance(request, list) else [request]:
        reply.clear()
        packet(data, reply)
        while reply.isMoreData():
            packet(client.receiverReady(reply), reply)
    return reply

client.parseAareResponse(exchange(client.aarqRequest()).data)
out = {}
if mode == "get":
    n = int(sys.argv[3])
    clock = GXDLMSClock("0.0.1.0.0.255")
    for _ in range(50):  # warm-up
        exchange(client.read(clock, 2))
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        value = exchange(client.read(clock, 2)).value
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {"n": n, "seconds": elapsed, "rate": n / elapsed, "cpu_us": cpu / n * 1e6, "last": bytes(value).hex()}
else:
    pg = GXDLMSProfileGeneric("1.0.99.1.0.255")
    client.updateValue(pg, 3, exchange(client.read(pg, 3)).value)
    start, end = (GXDateTime(dt.datetime.fromisoformat(a)) for a in sys.argv[3:5])
    t0 = time.perf_counter()
    reply = exchange(client.readRowsByRange(pg, start, end))
    client.updateValue(pg, 2, reply.value)
    elapsed = time.perf_counter() - t0
    out = {"rows": len(pg.buffer), "seconds": elapsed}
exchange(client.releaseRequest())
sock.close()
print(json.dumps(out))
"""


def checker_python() -> str:
    return os.environ.get("DLMS_CHECKER_PYTHON") or sys.executable


def gurux(*args: str) -> dict[str, Any] | None:
    """Run the Gurux loop; None (with the reason on stderr) when gurux-dlms is not installed there."""
    proc = subprocess.run([checker_python(), "-c", GURUX_LOOP, *args], capture_output=True, text=True, timeout=600,
                          check=False)
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        print(f"   (gurux loop failed: {reason})", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def dlms_port(port: int, **options: Any) -> DlmsPort:
    transport = VisaTransport("meter1-dlms", f"TCPIP0::127.0.0.1::{port}::SOCKET", timeout_s=10.0,
                              read_termination=None, write_termination="")
    return DlmsPort(transport, client=16, authentication="none", **options)


def ours_get_rate(port: int, n: int) -> tuple[float, float, str]:
    """GET/s, client CPU µs per GET, and the last value read (hex)."""
    meter = dlms_port(port)
    try:
        for _ in range(50):  # associates, then warms up
            meter.get(8, "0.0.1.0.0.255", 2)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            value = meter.get(8, "0.0.1.0.0.255", 2)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        return n / elapsed, cpu / n * 1e6, bytes(value.value).hex()
    finally:
        meter.close()
        meter.transport.close()


def ours_profile(port: int, start: dt.datetime, end: dt.datetime) -> tuple[float, int, int]:
    """Seconds to read the range (capture objects included), its rows, and how many GET blocks it took."""
    meter = dlms_port(port, max_receive_pdu=1024)
    try:
        meter.get(8, "0.0.1.0.0.255", 2)  # the association, outside the timing
        mark = meter.transport.transcript.mark()
        t0 = time.perf_counter()
        rows = meter.profile(PROFILE, start=start, end=end).rows
        elapsed = time.perf_counter() - t0
        entries = meter.transport.transcript.since(mark)
        blocks = sum(1 for e in entries if e.text.startswith("GET response block"))
        times = [r[0] for r in rows]
        assert all((b - a).total_seconds() == PERIOD_S for a, b in itertools.pairwise(times)), "15-min steps"
        return elapsed, len(rows), blocks
    finally:
        meter.close()
        meter.transport.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rm = pyvisa.ResourceManager("@py")
    sim, eps = start_sim(None)
    try:
        port = int(eps["meter1-dlms"]["port"])
        source, control = open_visa(rm, eps["source"]["resource"]), open_visa(rm, eps["control"]["resource"])
        for ph in (1, 2, 3):
            source.write(f"SOUR:PHAS{ph}:VOLT 230;CURR 5")
        source.write("OUTP ON")
        assert source.query("OUTP?") == "1"  # powered before the clock runs (another connection)
        control.write("CLOC:ADV 3600")
        control.query("*OPC?")

        ours_rates, gurux_rates, ours_cpu, gurux_cpu = [], [], [], []
        for _ in range(ROUNDS):
            rate, cpu_us, ours_value = ours_get_rate(port, n)
            ours_rates.append(rate)
            ours_cpu.append(cpu_us)
            g = gurux(str(port), "get", str(n), str(0xFFFF))
            if g is not None:
                gurux_rates.append(g["rate"])
                gurux_cpu.append(g["cpu_us"])
                assert g["last"] == ours_value, (g["last"], ours_value)  # both read the same clock
        print(f"== DLMS GET round trips over the wrapper: Clock attr 2, {n} per round, best of {ROUNDS} ==")
        ours_best = max(ours_rates)
        print(f"MeterHIL DlmsPort : {ours_best:9.0f} GET/s   (rounds: {', '.join(f'{r:.0f}' for r in ours_rates)}; "
              f"client CPU {min(ours_cpu):.0f} µs/GET)")
        if gurux_rates:
            gurux_best = max(gurux_rates)
            ratio = ours_best / gurux_best
            rounds = ", ".join(f"{r:.0f}" for r in gurux_rates)
            print(f"gurux-dlms        : {gurux_best:9.0f} GET/s   (rounds: {rounds}; "
                  f"client CPU {min(gurux_cpu):.0f} µs/GET)")
            verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
            print(f"ratio DlmsPort / Gurux : {ratio:6.2f}   (goal ≥ {GOAL_RATIO:g}: {verdict})")
        else:
            print("gurux-dlms        : not installed (pip install -e '.[dlms-check]' or set DLMS_CHECKER_PYTHON)")

        control.write(f"CLOC:ADV {DAYS * 86400 + 60}")  # 35 days more: 3,360 more captures (and 4 before)
        control.query("*OPC?")
        start = EPOCH + dt.timedelta(hours=1, minutes=15)
        end = start + dt.timedelta(seconds=PERIOD_S * (DAYS * 96 - 1))
        results = [ours_profile(port, start, end) for _ in range(ROUNDS)]
        seconds, rows, blocks = min(results)
        print(f"== {DAYS} days of 15-min load profile by range, client max PDU 1024, best of {ROUNDS} ==")
        print(f"MeterHIL DlmsPort : {seconds:8.3f} s for {rows} entries in {blocks} GET blocks "
              f"({rows / seconds:.0f} entries/s; goal ≤ {GOAL_PROFILE_S:g} s: "
              f"{'met' if seconds <= GOAL_PROFILE_S and rows == DAYS * 96 else 'NOT met'})")
        g = gurux(str(port), "profile", start.isoformat(), end.isoformat(), "1024")
        if g is not None:
            print(f"gurux-dlms        : {g['seconds']:8.3f} s for {g['rows']} entries   ratio Gurux / DlmsPort = "
                  f"{g['seconds'] / seconds:.2f}")
        for s in (source, control):
            s.close()
    finally:
        sim.terminate()
        sim.wait(timeout=10)


if __name__ == "__main__":
    main()
