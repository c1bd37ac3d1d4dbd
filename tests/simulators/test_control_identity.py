"""The simulation tells who it is: seed, simulated-bench file and configuration digest over its control endpoint,
read by the ``meterhil-simctl`` driver and recorded by ``Bench.metadata()``."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.bench import Bench
from hil.simbench import simulated_bench
from instruments.simulators.bench import RunningBench, SimulatedBench
from instruments.simulators.world.config import load_sim_bench
from tests.helpers import Opener

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "instruments" / "simulators" / "data" / "default_bench.yaml"


def _renamed_copy(tmp_path: Path, name: str) -> Path:
    """The packaged bench under another name: a different configuration of the same shape."""
    p = tmp_path / f"{name}.yaml"
    p.write_text(DEFAULT_FILE.read_text(encoding="utf-8").replace("name: default-sim-bench", f"name: {name}"),
                 encoding="utf-8")
    return p


def test_default_bench_is_recognised_and_seed_reported(visa: Opener) -> None:
    ctl = visa("control")
    assert ctl.query("SIM:SEED?").strip() == "1"  # the conftest's bench runs seed 1
    assert ctl.query("SIM:FILE?").strip() == '"default"'
    digest = ctl.query("SIM:CONF:DIG?").strip().strip('"')
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert ctl.query("SYST:ERR?").strip().startswith("0,")


def test_a_file_nobody_named_is_unknown_and_its_digest_differs(tmp_path: Path) -> None:
    other = _renamed_copy(tmp_path, "other-bench")
    with RunningBench(SimulatedBench(load_sim_bench(other), seed=4)) as rb, \
            RunningBench(SimulatedBench(load_sim_bench(None), seed=4)) as rd:
        from instruments.simulators.control import SimulationControl

        def ask(running: RunningBench, what: str) -> str:
            ctl = next(ep.device for ep in running.bench.endpoints if isinstance(ep.device, SimulationControl))
            reply: str = running.call(getattr(ctl, what))
            return reply

        assert ask(rb, "file_q") == '""'  # built from a config, file not said: not claimed to be the default
        assert ask(rb, "config_digest_q") != ask(rd, "config_digest_q")


def test_bench_metadata_records_seed_file_and_digest_from_the_simulator(tmp_path: Path) -> None:
    sim_file = _renamed_copy(tmp_path, "lab-copy")
    digests = []
    for seed in (3, 5):
        with simulated_bench(sim_file, seed=seed, write_to=tmp_path / "b.yaml"), \
                Bench.open(tmp_path / "b.yaml") as bench:
            meta = bench.metadata()
            bench.metadata()  # called for every result row: the simulator is asked once
            asked = [e for e in bench.transcript.entries if "SIM:SEED?" in e.text]
            assert len(asked) == 1
        assert meta["seed"] == seed
        assert meta["sim_bench"] == str(sim_file.resolve())
        digests.append(meta["sim_bench_sha256"])
    assert digests[0] == digests[1]  # the same file: the same configuration, whatever the seed
    with simulated_bench(None, seed=3, write_to=tmp_path / "d.yaml"), Bench.open(tmp_path / "d.yaml") as bench:
        meta = bench.metadata()
    assert meta["sim_bench"] == "default" and meta["sim_bench_sha256"] != digests[0]


def test_set_sim_file_refuses_a_name_that_breaks_the_reply_line(tmp_path: Path) -> None:
    from instruments.simulators.control import set_sim_file

    sim = SimulatedBench(load_sim_bench(None), seed=1)
    with pytest.raises(ValueError, match="control characters"):
        set_sim_file(sim, tmp_path / "a\nb.yaml")
