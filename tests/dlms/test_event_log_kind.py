"""The ``event_log`` kind: a small plan on the default simulated bench, served by this process, run by pytest as a
subprocess (as on hardware, like test_dlms_plan.py), its rows checked against instants and codes worked out by hand
and against the simulator's truth (SIM:TRUT?).

Codes (IDIS numbering, docs/dlms-calendar-events.md, "Event logs" table): 1 power down, 2 power up (standard and
power quality log), 4 / 5 clock adjusted old / new time (standard log), 83 missing voltage L2, 86 voltage L2
normal, 91 current reversal (power quality log).

Bench instants by hand. Epoch 2026-01-05T06:00:00Z (default_bench.yaml); the source is off when the run starts, so
the runner's energise switches it on at Un and settles ``measure.settle_s`` = 10 s: the clocks are set at W =
06:00:10 (the window's start). Then gap_s = 10 s before, between and after the events:

| event | bench instants | logged by the simulated meter |
|---|---|---|
| 1 interruption 10 s, output off / on | W+10, W+20 | power down W+10 (when the voltage fell: at once), up W+20+τ |
| 2 interruption 1 s, dip to 0 % | W+30, W+31 | power down W+30, power up W+31 (a dip's edges are exact) |
| 3 L2 at 0 V for 20 s | W+41, W+61 | 83 at W+41+τ, 86 at W+61+τ |
| 4 reverse flow 20 s at Iref | forward W+71, settled 10 s + forward_s 5 s | 91 at W+86 (the angle turns at once) |

then 20 s of reversal, 10 s settling back to no current and the gap: window end W+126. τ = settling_time 2 s /
ln(10⁴) = 0.2171 s: a switched-on or reprogrammed voltage approaches its value in steps of τ, the meter looks at
each step's mean and the first step's is still on the old side of 50 % Un, so the change is seen one τ later
(logged to 1/100 s: 0.21 or 0.22 s).

Position 3 (``event_log_misses_short_interruptions``) loses the 1 s interruption and fails by that name; the
others pass. Bench-free parts: the plan model's refusals, the ratings check of the reverse-flow setpoint, the
judging of late / duplicate / unexpected entries, and the source left at Un, no current, output on, on every exit
path (a stop request in the middle of each kind of event).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from hil.benchfile import BenchFile, load_bench_file
from hil.core.expand import expand_plan
from hil.core.measurement import judge
from hil.core.plan import MeasureOptions, Plan
from hil.core.steps import PlanError, PositionOutcome, Step
from hil.kinds.dlms.event_log import EventLogTest, Expected, _judged
from hil.results import read_results
from hil.simbench import simulated_bench
from hil.standards import default_library
from instruments.dlms.cosem import Obis
from instruments.drivers.dlms import ProfileRows
from instruments.roles import PhaseLoad

PLAN = """\
plan: event logs
standard: IEC 62053-21
edition: "2020"
class: "1"
tests:
  - id: events
    kind: event_log
    tolerance_s: 2
    events:
      - {event: interruption, duration_s: 10}
      - {event: interruption, duration_s: 1, via: dip}
      - {event: voltage_loss, phase: 2, duration_s: 20}
      - {event: reverse_flow, duration_s: 20, current: Iref}
"""
FAULTY = 3
W = datetime(2026, 1, 5, 6, 0, 10, tzinfo=UTC)
TAU = 2.0 / 9.210340371976184  # settling_time_s / ln(1 / 1e-4)
#: (event, what, code, bench instant after W, logged after the bench instant)
BY_HAND = [
    (1, "power down", 1, 10.0, 0.0), (1, "power up", 2, 20.0, TAU),
    (2, "power down", 1, 30.0, 0.0), (2, "power up", 2, 31.0, 0.0),
    (3, "missing voltage L2", 83, 41.0, TAU), (3, "voltage L2 normal", 86, 61.0, TAU),
    (4, "current reversal", 91, 86.0, 0.0),
]
STANDARD, POWER = "0.0.99.98.0.255", "0.0.99.98.1.255"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pd.DataFrame, dict[str, Any], Path]]:
    tmp = tmp_path_factory.mktemp("event_log")
    (tmp / "plan.yaml").write_text(PLAN, encoding="utf-8")
    with simulated_bench(seed=1, write_to=tmp / "bench.yaml") as (rb, _):
        cmd = [sys.executable, "-m", "pytest", str(tmp / "plan.yaml"), "--bench", str(tmp / "bench.yaml"),
               "--run-dir", str(tmp / "run"), "-p", "no:cacheprovider", "-q"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=300)
        assert p.returncode == 1, p.stdout + p.stderr  # position 3 fails
        truth = rb.call(lambda: rb.bench.world.truth())
    yield read_results(tmp / "run"), truth["meters"], tmp / "bench.yaml"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_every_code_at_its_bench_instant_by_hand(run: tuple[pd.DataFrame, dict[str, Any], Path]) -> None:
    df, meters, _ = run
    rows = df.set_index("position")
    assert sorted(rows.index) == list(range(1, 13))
    for pos in range(1, 13):
        r = rows.loc[pos]
        assert _at(str(r["window_start"])) == W and _at(str(r["window_end"])) == W + timedelta(seconds=126)
        got = list(r["expected_events"])
        assert [(e["event"], e["what"], e["code"]) for e in got] == [(n, w, c) for n, w, c, _, _ in BY_HAND]
        for e, (_, _, _, at, late) in zip(got, BY_HAND, strict=True):
            assert _at(e["bench_at"]) == W + timedelta(seconds=at), (pos, e)
            if pos == FAULTY and e["event"] == 2:
                assert e["logged_at"] is None and e["offset_s"] is None
                continue
            assert abs(e["offset_s"] - late) <= 0.011, (pos, e)  # 1/100 s date-time resolution
            assert e["log"] == (POWER if e["code"] in (83, 86, 91) else STANDARD)
        # the truth: the meter's own log holds exactly these entries after the clock set (and before the safe
        # state's output off at the end of the run)
        logged = [(x["code"], x["posix"]) for x in meters[str(pos)]["events"]["power_quality"]
                  if W.timestamp() <= x["posix"] <= W.timestamp() + 126]
        expected = [(c, (W + timedelta(seconds=at + late)).timestamp()) for n, _, c, at, late in BY_HAND
                    if not (pos == FAULTY and n == 2)]
        assert [c for c, _ in logged] == [c for c, _ in expected], pos
        assert all(abs(a - b) <= 0.01 for (_, a), (_, b) in zip(logged, expected, strict=True)), (logged, expected)


def test_good_meters_pass_and_position_3_fails_by_name(run: tuple[pd.DataFrame, dict[str, Any], Path]) -> None:
    df, meters, _ = run
    rows = df.set_index("position")
    for pos in range(1, 13):
        r = rows.loc[pos]
        assert r["test"] == "event_log" and r["voltage_v"] == 230.0 and r["current_a"] == 0.0
        assert r["unexpected"] == 0 and list(r["unexpected_events"]) == []
        assert r["clock_set_entries"] in (1, 2)  # "new time" always; "old time" if the old clock was in the window
        if pos != FAULTY:
            assert r["verdict"] == "pass", (pos, r["reason"])
            assert list(r["events_missing"]) == [] and list(r["events_off_time"]) == []
            assert r["quantity"] == "unexpected events" and r["value"] == 0
            continue
        assert r["verdict"] == "fail"
        assert r["quantity"] == "event 2 interruption 1 s (dip to 0 %): power down"
        assert r["reason"].startswith("event 2 interruption 1 s (dip to 0 %): no power down (code 1) logged,"
                                      " bench instant 2026-01-05T06:00:40.000+00:00")
        assert r["reason"].endswith("(also: event 2 power up not logged)")
        assert list(r["events_missing"]) == ["event 2 interruption 1 s (dip to 0 %): power down",
                                             "event 2 interruption 1 s (dip to 0 %): power up"]
    # the faulty meter's power-failure counter still counted the short interruption
    assert meters[str(FAULTY)]["registers"]["C.7.0"] == meters["1"]["registers"]["C.7.0"]


# -- bench-free ---------------------------------------------------------------------------------------------
def _test(**kw: Any) -> dict[str, Any]:
    return {"id": "e", "kind": "event_log", "events": [{"event": "interruption", "duration_s": 10}], **kw}


@pytest.mark.parametrize(("fields", "loc", "words"), [
    ({"events": [{"event": "interruption", "duration_s": 0.3}]}, ("events",), "not longer than the meter's hold-up"),
    ({"tolerance_s": 5, "gap_s": 10}, ("gap_s",), "more than twice tolerance_s"),
    ({"logs": ["0.0.99.98.0.255", "0.0.99.98.0.255"]}, ("logs",), "listed twice"),
    ({"events": [{"event": "voltage_loss", "phase": 4, "duration_s": 5}]}, ("events", 0, "voltage_loss", "phase"),
     "less than or equal to 3"),
    ({"events": [{"event": "reverse_flow", "duration_s": 5, "current": "5 A"}]},
     ("events", 0, "reverse_flow", "current"), "current must be a multiple"),
    ({"events": [{"event": "sag", "duration_s": 5}]}, ("events", 0), "does not match any of the expected tags"),
    ({"events": []}, ("events",), "at least 1 item"),
])
def test_the_model_refuses_with_the_field(fields: dict[str, Any], loc: tuple[Any, ...], words: str) -> None:
    with pytest.raises(ValidationError) as err:
        EventLogTest.model_validate(_test(**fields))
    (e,) = err.value.errors()
    assert e["loc"] == loc and words in e["msg"], e


def _plan(**kw: Any) -> Plan:
    return Plan.model_validate({"plan": "p", "standard": "IEC 62053-21", "edition": "2020", "class": "1",
                                "tests": [_test(**kw)]})


def _bench(run: tuple[pd.DataFrame, dict[str, Any], Path]) -> BenchFile:
    return load_bench_file(run[2])


def test_the_reverse_flow_setpoints_are_held_to_the_ratings(run: tuple[pd.DataFrame, dict[str, Any], Path]) -> None:
    (step,) = expand_plan(_plan(events=[{"event": "reverse_flow", "duration_s": 5, "current": "Iref"}]), _bench(run),
                          default_library())
    assert [(s.point, s.current_a, s.phase_deg) for s in step.setpoints] == [
        ("forward flow at Iref PF 1", 5.0, 0.0), ("reverse flow at Iref (180°)", 5.0, 180.0)]
    # 2 Imax = 120 A: within the bench's 120 A, beyond the meters' Imax 60 A
    with pytest.raises(PlanError, match=r"point forward flow at 2 Imax PF 1: 120 A is beyond .* rating \(60 A\)"):
        expand_plan(_plan(events=[{"event": "reverse_flow", "duration_s": 5, "current": "2 Imax"}]), _bench(run),
                    default_library())


def _step(run: tuple[pd.DataFrame, dict[str, Any], Path], events: list[dict[str, Any]]) -> Step:
    (step,) = expand_plan(_plan(events=events), _bench(run), default_library())
    return step


T0 = datetime(2026, 1, 5, 6, 0, 0, tzinfo=UTC)


def _s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_late_duplicate_and_unexpected_entries_are_named(run: tuple[pd.DataFrame, dict[str, Any], Path]) -> None:
    step = _step(run, [{"event": "interruption", "duration_s": 10}])
    test = EventLogTest.model_validate(_test())
    expected = [Expected(1, "interruption 10 s (output off)", "power down", 1, _s(20)),
                Expected(1, "interruption 10 s (output off)", "power up", 2, _s(30))]
    entries: list[tuple[str, datetime | None, int]] = [
        (STANDARD, _s(0), 4), (STANDARD, _s(10), 5),  # the test's own clock set (set at +10 s)
        (STANDARD, _s(20.5), 1), (POWER, _s(20.4), 1),  # in both logs: one entry per log and event
        (STANDARD, _s(20.6), 1),  # the same power down twice in one log
        (STANDARD, _s(35.2), 2),  # 5.2 s late
        (POWER, _s(25), 84),  # missing voltage L3 while the supply was off
    ]
    o = PositionOutcome(1, "S1", 0, 0, None, 40.0, None)
    o.extra.update(_judged(entries, expected, test, _s(10), _s(10), _s(40)))
    assert o.extra["clock_set_entries"] == 2
    assert [(e["log"], e["offset_s"]) for e in o.extra["expected_events"]] == [(POWER, 0.4), (STANDARD, 5.2)]
    assert o.extra["events_off_time"] == ["event 1 interruption 10 s (output off): power up"]
    assert o.extra["unexpected_events"] == [
        "power down (code 1) at 2026-01-05T06:00:20.600+00:00 in 0.0.99.98.0.255",
        "missing voltage L3 (code 84) at 2026-01-05T06:00:25.000+00:00 in 0.0.99.98.1.255"]
    verdict, decisive = judge(step.measure(o))
    assert verdict.verdict == "fail" and decisive is not None
    assert decisive.name == "event 1 interruption 10 s (output off): power up" and decisive.value == 5.2
    assert verdict.reason == ("event 1 interruption 10 s (output off): power up (code 2) logged at"
                              " 2026-01-05T06:00:35.200+00:00 in 0.0.99.98.0.255, 5.20 s after the bench instant"
                              " 2026-01-05T06:00:30.000+00:00 (tolerance ±2 s) (also: 2 unexpected events)")
    # the same entries on time: the unexpected ones decide, named
    entries[5] = (STANDARD, _s(30.3), 2)
    o.extra.update(_judged(entries, expected, test, _s(10), _s(10), _s(40)))
    verdict, decisive = judge(step.measure(o))
    assert decisive is not None and decisive.name == "unexpected events" and verdict.verdict == "fail"
    assert verdict.reason.startswith("2 unexpected events in the window: power down (code 1) at")
    # allowed codes are not held against the meter
    o.extra.update(_judged(entries[:4] + entries[5:6], expected, test, _s(10), _s(10), _s(40)))
    assert judge(step.measure(o))[0].verdict == "pass"
    lax = EventLogTest.model_validate(_test(allowed_codes=[84, 1]))
    assert _judged(entries, expected, lax, _s(10), _s(10), _s(40))["unexpected"] == 0


# -- the source on every exit path (a fake bench: the step's own run, a stop request at a chosen moment) -------
class Stop(Exception):
    pass


@dataclass
class FakeSource:
    """A DipSource that remembers what it delivers."""

    phases: int = 3
    on: bool = False
    loads: dict[int, PhaseLoad] = field(default_factory=dict)
    dip_programs: int = 0
    aborts: int = 0

    def apply(self, loads: Any, frequency_hz: float | None = None) -> None:
        self.loads.update(loads)

    def output_on(self) -> None:
        self.on = True

    def output_off(self) -> None:
        self.on = False

    def is_on(self) -> bool:
        return self.on

    def settled(self) -> bool:
        return True

    def check_dip(self, level_pct: float, **kw: Any) -> None:
        pass

    def program_dip(self, level_pct: float, **kw: Any) -> None:
        self.dip_programs += 1

    def trigger_dip(self) -> None:
        pass

    def dip_running(self) -> bool:
        return False

    def dips_completed(self) -> int:
        return self.dip_programs

    def abort_dips(self) -> None:
        self.aborts += 1


@dataclass
class FakeClock:
    source: FakeSource
    stop_when: Any
    t: float = 0.0
    stopped: bool = False

    def now(self) -> float:
        return self.t

    def utc(self) -> datetime:
        return _s(self.t)

    def sleep(self, seconds: float) -> None:
        if not self.stopped and self.stop_when(self.source):
            self.stopped = True  # once
            raise Stop("stop request")
        self.t += seconds

    def wait_until(self, done: Any, timeout_s: float, poll_s: float) -> bool:
        return bool(done())


class FakePort:
    def set_clock(self, when: datetime) -> None:
        pass

    def profile(self, obis: str, start: datetime, end: datetime) -> ProfileRows:
        return ProfileRows(((8, Obis.parse("0.0.1.0.0.255"), 2), (1, Obis.parse("0.0.96.11.0.255"), 2)), ())


@dataclass
class FakeMeter:
    serial: str

    @property
    def spec(self) -> Any:
        return self

    dlms: FakePort = field(default_factory=FakePort)


class FakeBench:
    def __init__(self, stop_when: Any) -> None:
        self.source = FakeSource()
        self.clock = FakeClock(self.source, stop_when)

    def meter(self, p: int) -> FakeMeter:
        return FakeMeter(f"S{p}")


class FakeSession:
    def __init__(self, bench: FakeBench) -> None:
        self.bench = bench
        self.measure_options = MeasureOptions()
        self._services: dict[Any, Any] = {}

    def service(self, factory: Any) -> Any:
        if factory not in self._services:
            self._services[factory] = factory(self)
        return self._services[factory]


IDLE = {1: PhaseLoad(230.0, 0.0, 0.0, 0.0), 2: PhaseLoad(230.0, 0.0, -120.0, -120.0),
        3: PhaseLoad(230.0, 0.0, 120.0, 120.0)}


@pytest.mark.parametrize("stop_when", [
    lambda s: not s.on and bool(s.loads),  # during the output-off interruption
    lambda s: s.dip_programs > 0,  # during the dip
    lambda s: s.loads.get(2, IDLE[2]).voltage_v == 0.0,  # while L2 is lost
    lambda s: s.loads.get(1, IDLE[1]).current_angle_deg == -180.0,  # while the energy flows back
    None,  # no stop: the normal end
], ids=["output_off", "dip", "voltage_loss", "reverse_flow", "none"])
def test_the_source_is_left_at_un_without_current(run: tuple[pd.DataFrame, dict[str, Any], Path],
                                                  stop_when: Any) -> None:
    step = _step(run, [{"event": "interruption", "duration_s": 10}, {"event": "interruption", "duration_s": 1,
                                                                   "via": "dip"},
                       {"event": "voltage_loss", "phase": 2, "duration_s": 20},
                       {"event": "reverse_flow", "duration_s": 20}])
    bench = FakeBench(stop_when or (lambda s: False))
    session = FakeSession(bench)
    step.positions = [1, 2]
    if stop_when is None:
        outs = step.run(session, step)  # type: ignore[arg-type]
        assert [o.verdict for o in outs] == [None, None]  # measured (nothing logged: every event missing)
        assert len(outs[0].extra["events_missing"]) == 7
    else:
        with pytest.raises(Stop):
            step.run(session, step)  # type: ignore[arg-type]
    src = bench.source
    assert src.on and src.loads == IDLE and src.aborts >= 1
    # and the run's runner knows it: the same setting is not sent again, the forward load is
    from hil.measure.accuracy import runner_of

    runner = runner_of(session)
    assert runner.energise(step.spec) is False
    assert runner.energise(step.setpoints[0]) is True and src.loads[1].current_a == 5.0
