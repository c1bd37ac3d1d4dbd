"""The safe state holds on every exit path: the simulator's true state shows the source outputs off afterwards."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from hil.bench import Bench
from hil.benchfile import BenchFile, dump_bench_file
from hil.safety import SafeState
from hil.simbench import bench_file_for
from instruments.roles import PhaseLoad
from instruments.simulators.bench import RunningBench


@pytest.fixture
def bench_file(sim: RunningBench) -> BenchFile:
    bf: BenchFile = sim.call(bench_file_for, sim.bench)
    return bf


def output_on(sim: RunningBench) -> bool:
    return bool(sim.call(lambda: sim.bench.world.source.output))


def energise(bench: Bench) -> None:
    bench.source.apply({p: PhaseLoad(230.0, 5.0, a, a - 60.0) for p, a in ((1, 0.0), (2, -120.0), (3, 120.0))})
    bench.source.output_on()


def test_exception_mid_point(bench_file: BenchFile, sim: RunningBench) -> None:
    with pytest.raises(ZeroDivisionError), Bench(bench_file) as bench:
        bench.connect()
        energise(bench)
        bench.clock.sleep(30)
        assert output_on(sim)
        _ = 1 / 0
    assert not output_on(sim)


def test_dropped_connection_reconnect_then_off(bench_file: BenchFile, sim: RunningBench) -> None:
    bench = Bench(bench_file)
    bench.connect()
    energise(bench)
    sim.call(sim.bench.inject_fault, "source", "DROP")
    # the next command finds the link gone, reconnects (bounded) and goes through
    assert bench.source.is_on()
    sim.call(sim.bench.inject_fault, "source", "DROP")
    bench.close()
    assert not output_on(sim)
    names = [e.text for e in bench.transcript.entries if e.direction == "error"]
    assert any("connection lost" in t for t in names)


def test_instrument_reset_leaves_outputs_off(bench_file: BenchFile, sim: RunningBench) -> None:
    bench = Bench(bench_file)
    bench.connect()
    energise(bench)
    assert output_on(sim)
    sim.call(sim.bench.inject_fault, "source", "RESET")  # power loss at the source
    assert not output_on(sim)
    assert bench.source.is_on() is False  # the driver reconnects and reads the real state
    bench.close()
    assert not output_on(sim)


def test_safe_state_runs_every_action_even_if_one_fails() -> None:
    safe = SafeState()
    done: list[str] = []
    safe.register("first registered", lambda: done.append("first"))
    safe.register("broken", lambda: (_ for _ in ()).throw(OSError("link down")))
    safe.register("last registered", lambda: done.append("last"))
    results = safe.run("test")
    assert done == ["last", "first"]  # newest first, the broken one in between does not stop the rest
    assert [r.name for r in results if r.error is not None] == ["broken"]


PLAN = textwrap.dedent(
    """
    from instruments.roles import PhaseLoad

    def test_long_measurement(bench):
        bench.source.apply({p: PhaseLoad(230.0, 5.0) for p in (1, 2, 3)})
        bench.source.output_on()
        print("ENERGISED", flush=True)
        while True:  # a measurement that never ends: only a signal gets us out
            bench.clock.sleep(1.0)
            bench.source.is_on()
    """
)


#: every signal the safe state claims to handle (hil.safety: SIGTERM/SIGHUP → Terminated, Ctrl-C)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_to_running_pytest(bench_file: BenchFile, sim: RunningBench, tmp_path: Path, sig: int) -> None:
    bench_path = tmp_path / "bench.yaml"
    dump_bench_file(bench_file, bench_path)
    plan = tmp_path / "test_plan.py"
    plan.write_text(PLAN)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(plan), "--bench", str(bench_path)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not output_on(sim):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the plan never energised the source"
            time.sleep(0.05)
        time.sleep(0.2)  # let it get into the loop, mid-exchange
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not output_on(sim), out
    assert proc.returncode == 2, out  # pytest: interrupted
    assert ("Terminated" in out or "KeyboardInterrupt" in out), out


def test_run_metadata_is_json(bench_file: BenchFile) -> None:
    with Bench(bench_file) as bench:
        bench.connect()
        meta: dict[str, Any] = json.loads(json.dumps(bench.metadata()))
        assert meta["simulated"] is True and meta["bench"] == bench_file.name
