"""Random bytes sent to any port never crash the simulator nor disturb the other connections."""

from __future__ import annotations

import random
import socket

from instruments.simulators.bench import RunningBench
from tests.helpers import Opener

CHUNKS_PER_ENDPOINT = 40


def _blast(port: int, rng: random.Random) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.settimeout(0.01)  # drain what came back, without waiting long for endpoints that stay silent
        for _ in range(CHUNKS_PER_ENDPOINT):
            n = rng.choice([1, 7, 64, 500, 4096])
            data = bytes(rng.getrandbits(8) for _ in range(n))
            if rng.random() < 0.5:  # make sure the parser also sees complete (terminated) garbage
                data += rng.choice([b"\n", b"\r\n", b"\r", b"!\r\n", b"\x03\x00"])
            try:
                s.sendall(data)
                s.recv(65536)
            except (TimeoutError, BlockingIOError):
                pass
            except (ConnectionResetError, BrokenPipeError):
                return  # an endpoint may hang up on garbage; the others must not notice


def test_random_bytes_never_crash_or_disturb_others(sim: RunningBench, visa: Opener) -> None:
    rng = random.Random(20261124)
    source = visa("source")
    control = visa("control")
    source.write("SOUR:PHAS1:VOLT 231.5")
    source.write("OUTP ON")  # meters powered, so their ports answer
    assert source.query("OUTP?") == "1"  # executed before the clock moves (another connection)
    control.write("CLOC:ADV 5")
    idn_source = source.query("*IDN?")
    idn_control = control.query("*IDN?")
    meter_port = sim.port("meter2")
    for ep in sim.bench.endpoints:
        _blast(ep.bound_port, rng)
        # the long-lived sessions opened before are undisturbed, state intact
        assert source.query("*IDN?") == idn_source, f"source disturbed by garbage sent to {ep.name}"
        assert float(source.query("SOUR:PHAS1:VOLT?")) == 231.5
        assert control.query("*IDN?") == idn_control, f"control disturbed by garbage sent to {ep.name}"
    # a fresh connection to every endpoint is still served
    for ep in sim.bench.endpoints:
        with socket.create_connection(("127.0.0.1", ep.bound_port), timeout=2):
            pass
    with socket.create_connection(("127.0.0.1", meter_port), timeout=2) as s:
        s.settimeout(2)
        s.sendall(b"/?!\r\n")
        assert s.recv(64).startswith(b"/")
    # the error queues hold the parser's complaints, not a crash: source still empties its queue
    for _ in range(50):
        if source.query("SYST:ERR?").startswith("0,"):
            break
    else:
        raise AssertionError("error queue never emptied")
