"""Pulses counted = pulses reported = the resolution rule's count, and the measuring time consistent with them.

Against the simulated bench over TCP: one accuracy point on three positions, then the simulator's true state of
each error-calculator channel (how many meter pulses it was set to gate, and counted) and of each meter (its true
error) compared with the rows' ``pulses`` and ``duration_s``. Expected values by hand (standards.md §6)."""

from __future__ import annotations

import json
import math
from typing import Any

from hil.bench import Bench
from hil.core.steps import PointSpec
from hil.measure.accuracy import AccuracyRunner, MeasureSettings
from hil.simbench import bench_file_for
from instruments.simulators.bench import RunningBench

POSITIONS = [1, 2, 3]
UN_V, IREF_A, LIMIT = 230.0, 5.0, 1.0  # Iref PF 1, balanced; class 1 ±1 %
RESOLUTION, MIN_S = 0.1, 10.0  # resolution ≤ 1/10 of the limit, gate ≥ 10 s


def test_counted_reported_and_required_pulses_agree(sim: RunningBench) -> None:
    bf = bench_file_for(sim.bench)
    with Bench(bf) as bench:
        bench.connect()
        runner = AccuracyRunner(bench, MeasureSettings(settle_s=10.0, resolution_fraction=RESOLUTION,
                                                       min_duration_s=MIN_S))
        spec = PointSpec("accuracy", "Iref PF 1", UN_V, IREF_A, 0.0, "1", limit_pct=LIMIT)
        outs = runner.measure(spec, POSITIONS)
        truth: dict[str, Any] = json.loads(json.dumps(sim.call(sim.bench.world.truth)))
    for o in outs:
        k_mut = bf.positions_by_number[o.position].meter.constant_imp_per_kwh
        cal = truth["calculators"][str(o.position)]
        k_ref = float(cal["ref_constant"])
        power = 3 * UN_V * IREF_A  # three elements at PF 1
        tau = 3.6e6 / (k_mut * power)  # s per meter pulse at the set power
        # the fewest N with resolution 100/n_ref % ≤ 0.1 · limit (n_ref = N · k_ref / k_mut), and N·τ ≥ 10 s
        n = max(math.ceil(100.0 * k_mut / (RESOLUTION * LIMIT * k_ref) - 1e-9), math.ceil(MIN_S / tau - 1e-9), 1)
        assert cal["mode"] == "ERROR" and cal["mut_pulses"] == n, cal  # what the channel was set to gate
        assert cal["mut_counted"] == n == o.mut_pulses, (cal, o)  # what it counted, what the row says
        # from the start: the wait for the edge that opens the gate (less than one period), then N periods of the
        # meter's own pulses, τ / (1 + e) with its true error e
        period = tau / (1 + float(truth["meters"][str(o.position)]["error_pct"]) / 100.0)
        assert n * period * (1 - 1e-6) <= o.duration_s <= (n + 1) * period * (1 + 1e-6), (o, period)
        assert o.n_ref >= n * k_ref / k_mut * (1 - 0.02)  # reference pulses in the same gate
