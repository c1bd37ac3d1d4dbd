"""Bench files whose meter ports are the simulated optical heads (RFC 2217) instead of the TCP ports: the same
plans, run over the serial transport exactly as against a lab's serial server (docs/meter-ports.md)."""

from __future__ import annotations

from collections.abc import Iterable

from hil.benchfile import BenchFile
from instruments.simulators.bench import SimulatedBench


def on_optical_heads(bench_file: BenchFile, sim: SimulatedBench, positions: Iterable[int] | None = None) -> BenchFile:
    """``bench_file`` with the mode C port of each position in ``positions`` (default: all) moved to its meter's
    ``meter<N>-optical`` endpoint (rfc2217://host:port, 300 Bd 7E1 at sign-on). Run on the bench's loop thread."""
    wanted = set(positions) if positions is not None else None
    out = []
    for pos in bench_file.positions:
        if pos.port is not None and (wanted is None or pos.position in wanted):
            ep = sim.endpoint(f"meter{pos.position}-optical")
            port = pos.port.model_copy(update={"resource": f"rfc2217://{ep.host}:{ep.bound_port}",
                                               "options": {**pos.port.options, "initial_baud": 300,
                                                           "byte_format": "7E1"}})
            pos = pos.model_copy(update={"port": port})
        out.append(pos)
    return bench_file.model_copy(update={"positions": out})
