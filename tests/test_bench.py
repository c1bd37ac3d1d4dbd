"""Opening a bench: identities, calibration, ratings, metadata — against the simulated bench over TCP."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from hil.bench import Bench, CalibrationExpired, IdentityMismatch
from hil.benchfile import BenchFile, Calibration, dump_bench_file, load_bench_file
from hil.simbench import bench_file_for
from instruments.drivers.errors import RangeError
from instruments.roles import PhaseLoad
from instruments.simulators.bench import RunningBench
from instruments.yamlconfig import ConfigError

TODAY = dt.date(2026, 11, 24)


@pytest.fixture
def bench_file(sim: RunningBench) -> BenchFile:
    bf: BenchFile = sim.call(bench_file_for, sim.bench)
    return bf


def sim_truth(sim: RunningBench) -> dict:  # type: ignore[type-arg]
    return json.loads(json.dumps(sim.call(sim.bench.world.truth)))  # type: ignore[no-any-return]


def with_reference_calibration(bf: BenchFile, due: dt.date) -> BenchFile:
    data = bf.model_dump(by_alias=True)
    data["roles"]["reference"]["calibration"] = Calibration(certificate="DKD-K-12345/26", due=due)
    return BenchFile.model_validate(data)


def test_roles_identities_and_metadata(bench_file: BenchFile) -> None:
    with Bench(bench_file, today=TODAY) as bench:
        bench.connect()
        assert bench.simulated
        meta = bench.metadata()
        inst = meta["instruments"]
        assert inst["source"]["idn"].startswith("FLUKE,6105A,")
        assert inst["reference"]["idn"].startswith("YOKOGAWA,WT5000,")
        assert inst["error_calculator"]["idn"].startswith("MeterHIL,ErrorCalculator,")
        assert inst["source"]["resource"] == bench_file.roles["source"].resource
        assert {r["calibration_status"] for r in inst.values()} <= {"not-required", "none"}
        assert bench.positions == list(range(1, 13))
        assert bench.meter(7).spec.serial == bench_file.positions[6].meter.serial


def test_wrong_identity_stops_naming_expected_and_actual(bench_file: BenchFile, sim: RunningBench) -> None:
    data = bench_file.model_dump(by_alias=True)
    data["roles"]["source"]["idn"] = "CALIFORNIA INSTRUMENTS,CSW*"
    bad = BenchFile.model_validate(data)
    with pytest.raises(IdentityMismatch) as ei:
        Bench(bad, today=TODAY).connect()
    msg = str(ei.value)
    assert "CALIFORNIA INSTRUMENTS,CSW*" in msg and "FLUKE,6105A" in msg
    assert sim_truth(sim)["source"]["output"] is False


@pytest.mark.parametrize(("days", "status"), [(0, "valid"), (1, "valid"), (-1, "expired")])
def test_a_calibration_is_valid_through_its_due_date(bench_file: BenchFile, days: int, status: str) -> None:
    """Due today: still valid (the certificate covers its due date); due yesterday: expired — on an injected date."""
    cal = with_reference_calibration(bench_file, TODAY + dt.timedelta(days=days))
    bench = Bench(cal, today=TODAY)
    if status == "expired":
        with pytest.raises(CalibrationExpired):
            bench.connect()
        return
    with bench:
        bench.connect()
        assert bench.metadata()["instruments"]["reference"]["calibration_status"] == "valid"


def test_expired_reference_calibration_stops_before_any_connection(bench_file: BenchFile) -> None:
    expired = with_reference_calibration(bench_file, TODAY - dt.timedelta(days=1))
    bench = Bench(expired, today=TODAY)
    with pytest.raises(CalibrationExpired) as ei:
        bench.connect()
    assert "DKD-K-12345/26" in str(ei.value) and "2026-11-23" in str(ei.value)
    assert bench.transcript.entries == []  # nothing was sent to any instrument


def test_reference_without_calibration_record_stops(bench_file: BenchFile) -> None:
    data = bench_file.model_dump(by_alias=True)
    data["roles"]["reference"]["calibration"] = None
    bench = Bench(BenchFile.model_validate(data), today=TODAY)
    with pytest.raises(CalibrationExpired, match="no calibration record"):
        bench.connect()
    assert bench.transcript.entries == []


def test_expired_calibration_override_is_recorded(bench_file: BenchFile) -> None:
    expired = with_reference_calibration(bench_file, TODAY - dt.timedelta(days=1))
    with Bench(expired, today=TODAY, allow_expired_calibration=True) as bench:
        bench.connect()
        meta = bench.metadata()
        assert meta["calibration_override"] is True
        assert meta["instruments"]["reference"]["calibration_status"] == "expired-override"


def test_valid_calibration_recorded(bench_file: BenchFile) -> None:
    ok = with_reference_calibration(bench_file, TODAY + dt.timedelta(days=30))
    with Bench(ok, today=TODAY) as bench:
        bench.connect()
        rec = bench.metadata()["instruments"]["reference"]
        assert (rec["calibration_status"], rec["calibration_certificate"], rec["calibration_due"]) == (
            "valid", "DKD-K-12345/26", (TODAY + dt.timedelta(days=30)).isoformat(),
        )


def test_setpoint_over_meter_rating_refused_and_nothing_sent(bench_file: BenchFile) -> None:
    with Bench(bench_file, today=TODAY) as bench:
        bench.connect()
        mark = bench.transcript.mark()
        with pytest.raises(RangeError) as ei:
            bench.source.apply({1: PhaseLoad(230.0, 60.5)})  # every default meter has Imax 60 A
        assert "Imax 60 A" in str(ei.value) and "nothing was sent" in str(ei.value)
        with pytest.raises(RangeError) as ei:
            bench.source.apply({1: PhaseLoad(1.15 * 230.0 + 0.1, 5.0)})  # Umax = 1.15 Un
        assert "Umax" in str(ei.value)
        assert bench.transcript.since(mark) == []


def test_setpoint_over_bench_rating_refused(bench_file: BenchFile) -> None:
    data = bench_file.model_dump(by_alias=True)
    data["limits"]["max_current_a"] = 10.0
    with Bench(BenchFile.model_validate(data), today=TODAY) as bench:
        bench.connect()
        mark = bench.transcript.mark()
        with pytest.raises(RangeError) as ei:
            bench.source.apply({2: PhaseLoad(230.0, 10.5)})
        assert "max_current_a" in str(ei.value)
        assert bench.transcript.since(mark) == []
        bench.source.apply({2: PhaseLoad(230.0, 10.0)})  # at the limit is allowed


def test_close_switches_outputs_off(bench_file: BenchFile, sim: RunningBench) -> None:
    bench = Bench(bench_file, today=TODAY)
    bench.connect()
    bench.source.apply({p: PhaseLoad(230.0, 5.0) for p in (1, 2, 3)})
    bench.source.output_on()
    assert sim_truth(sim)["source"]["output"] is True
    bench.close()
    assert sim_truth(sim)["source"]["output"] is False


def test_bench_file_round_trip_and_errors(bench_file: BenchFile, tmp_path: Path) -> None:
    p = tmp_path / "bench.yaml"
    dump_bench_file(bench_file, p)
    assert load_bench_file(p) == bench_file
    text = p.read_text().replace("max_current_a: 120.0", "max_current_a: -3", 1)
    p.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "max_current_a: -3" in ln)
    with pytest.raises(ConfigError) as ei:
        load_bench_file(p)
    assert (ei.value.line, ei.value.field) == (line, "limits.max_current_a")


def test_duplicate_serial_is_refused_naming_the_field(bench_file: BenchFile, tmp_path: Path) -> None:
    p = tmp_path / "dup.yaml"
    dump_bench_file(bench_file, p)
    first, second = bench_file.positions[0].meter.serial, bench_file.positions[1].meter.serial
    p.write_text(p.read_text().replace(f"serial: {second}", f"serial: {first}"))
    line = next(i for i, ln in enumerate(p.read_text().splitlines(), 1) if ln.startswith("positions:"))
    with pytest.raises(ConfigError) as ei:
        load_bench_file(p)
    assert ei.value.line == line and ei.value.field == "positions"
    assert "positions[1].meter.serial" in ei.value.message and first in ei.value.message
