"""Wall time of the 168 h burn-in at +70 °C on 24 positions with 1-min monitoring (issue 5; target ≤ 60 s).

The 24-position simulated bench is the default one grown as in ``bench_simulator.bench_24()``; it is served by
this process and the plan ``testplans/burn_in_168h_70c.yaml`` runs in a pytest subprocess against it.

Run: ``.venv/bin/python benchmarks/bench_sequences.py``
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "testplans" / "burn_in_168h_70c.yaml"
TARGET_S = 60.0


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_simulator import bench_24

    from hil.kinds.sequences import read_monitoring
    from hil.results import read_results
    from hil.simbench import simulated_bench

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sim = tmp / "sim24.yaml"
        sim.write_text(yaml.safe_dump(bench_24().model_dump(mode="json", by_alias=True, exclude_unset=True)))
        with simulated_bench(sim, seed=1, write_to=tmp / "bench.yaml") as (rb, _):
            v0 = rb.call(lambda: rb.bench.world.clock.now)
            w0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "pytest", str(PLAN), "--bench", str(tmp / "bench.yaml"),
                                "--run-dir", str(tmp / "run"), "-p", "no:cacheprovider", "-q"],
                               capture_output=True, text=True, check=False)
            wall = time.perf_counter() - w0
            virtual = rb.call(lambda: rb.bench.world.clock.now) - v0
        res = read_results(tmp / "run")
        mon = read_monitoring(tmp / "run")
    print("== burn-in 168 h at +70 °C, 24 positions, 1-min monitoring, simulated bench ==")
    print(f"pytest exit code          : {p.returncode}")
    print(f"virtual bench time        : {virtual / 3600:8.1f} h")
    print(f"monitoring rows           : {len(mon)}")
    print(f"failed meters             : {list(res.loc[res['verdict'] == 'fail', 'position'])}")
    print(f"wall time                 : {wall:8.1f} s   (target <= {TARGET_S:g} s)")


if __name__ == "__main__":
    main()
