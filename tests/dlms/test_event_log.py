"""Event logs over DLMS: interruptions of the bench source (OUTP OFF/ON), one phase's voltage lost
(SOUR:PHAS2:VOLT 0), reverse energy flow and a clock set → the standard event log 0.0.99.98.0.255 and the power
quality / power failure event log 0.0.99.98.1.255 hold the right codes at the instants of the truth (within 1 s),
with selective access by range and by entry; the type with ``event_log_misses_short_interruptions`` loses a 1 s
interruption but not a 10 s one.

Bench: tests/dlms/tou_bench.py (no clock drift: the meters' clocks are the virtual clock; position 3 is the faulty
type). Codes (IDIS numbering, docs/dlms-calendar-events.md): 1 power down, 2 power up, 4/5 clock adjusted old/new
time, 83 missing voltage L2, 86 voltage L2 normal, 91 current reversal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from instruments.dlms.cosem import CosemDateTime
from instruments.simulators.bench import RunningBench
from tests.dlms.tou_bench import Port, advance, energise, now, opener, running_bench
from tests.helpers import Opener, truth

STANDARD = "0.0.99.98.0.255"
POWER = "0.0.99.98.1.255"


@pytest.fixture
def sim() -> Iterator[RunningBench]:
    yield from running_bench()


@pytest.fixture
def port(sim: RunningBench) -> Iterator[Port]:
    open_, opened = opener(sim)
    yield open_
    for p in opened:
        p.close()
        p.transport.close()


def apply(source: Any, command: str) -> None:
    """A source command, done before the clock moves (the clock is run over another connection)."""
    source.write(command)
    source.query("OUTP?")


def events(rows: tuple[tuple[Any, ...], ...]) -> list[tuple[int, dt.datetime]]:
    return [(int(code), when) for when, code in rows]


def assert_log(rows: tuple[tuple[Any, ...], ...], expected: list[tuple[int, dt.datetime]]) -> None:
    got = events(rows)
    assert [c for c, _ in got] == [c for c, _ in expected]
    for (code, when), (_, truth_when) in zip(got, expected, strict=True):
        assert abs((when - truth_when).total_seconds()) <= 1.0, (code, when, truth_when)


def test_interruptions_phase_loss_reversal_and_clock_set_are_logged(port: Port, visa: Opener) -> None:
    source, control = energise(visa)
    t_up = now(control)  # the meters power up with the source
    advance(control, 60)

    def outage(seconds: float) -> tuple[dt.datetime, dt.datetime]:
        off = now(control)
        apply(source, "OUTP OFF")
        advance(control, seconds)
        on = now(control)
        apply(source, "OUTP ON")
        advance(control, 60)
        return off, on

    off1, on1 = outage(10.0)
    off2, on2 = outage(1.0)  # shorter than the faulty type's 3 s
    t_l2 = now(control)
    apply(source, "SOUR:PHAS2:VOLT 0")
    advance(control, 30)
    t_l2_back = now(control)
    apply(source, "SOUR:PHAS2:VOLT 230")
    advance(control, 30)
    reversals = []
    for _ in range(2):  # export, import, export again: two reversals
        reversals.append(now(control))
        for ph, angle in ((1, 180), (2, 60), (3, -60)):
            apply(source, f"SOUR:PHAS{ph}:CURR:PANG {angle}")
        advance(control, 30)
        for ph, angle in ((1, 0), (2, -120), (3, 120)):
            apply(source, f"SOUR:PHAS{ph}:CURR:PANG {angle}")
        advance(control, 30)
    good, faulty = port(1), port(3)
    clock_old = now(control)
    good.set_clock(clock_old + dt.timedelta(seconds=300))

    downs_ups = [(2, t_up), (1, off1), (2, on1), (1, off2), (2, on2)]
    assert_log(good.profile(STANDARD).rows, [*downs_ups, (4, clock_old), (5, clock_old + dt.timedelta(seconds=300))])
    quality = [(83, t_l2), (86, t_l2_back), (91, reversals[0]), (91, reversals[1])]
    assert_log(good.profile(POWER).rows, [*downs_ups, *quality])
    # the faulty type: the 10 s interruption is there, the 1 s one is not (its failure counter still counts it)
    assert_log(faulty.profile(STANDARD).rows, [(2, t_up), (1, off1), (2, on1)])
    assert_log(faulty.profile(POWER).rows, [(2, t_up), (1, off1), (2, on1), *quality])
    assert faulty.get(1, "0.0.96.7.0.255", 2).value == 2 == good.get(1, "0.0.96.7.0.255", 2).value
    # the last event code of each log
    assert good.get(1, "0.0.96.11.0.255", 2).value == 5
    assert good.get(1, "0.0.96.11.1.255", 2).value == 91
    # the truth agrees entry by entry
    logged = truth(control)["meters"]["1"]["events"]["power_quality"]
    assert [e["code"] for e in logged] == [c for c, _ in events(good.profile(POWER).rows)]


def test_event_log_selective_access_and_its_clock_column(port: Port, visa: Opener) -> None:
    source, control = energise(visa)
    advance(control, 60)
    instants = []
    for _ in range(4):
        instants.append(now(control))
        apply(source, "OUTP OFF")
        advance(control, 5)
        apply(source, "OUTP ON")
        advance(control, 600)
    m = port(1, client=16, authentication="none")  # the public client reads the logs
    rows = m.profile(STANDARD).rows
    assert [r[1] for r in rows] == [2] + [1, 2] * 4
    assert m.profile(STANDARD, first=2, last=3).rows == rows[1:3]
    window = m.profile(STANDARD, start=instants[1], end=instants[2]).rows
    # both ends inclusive: from the second power down (stamped when the voltage fell) to the third
    assert_log(window, [(1, instants[1]), (2, instants[1] + dt.timedelta(seconds=5)), (1, instants[2])])
    assert window[0][0] == instants[1] and window[-1][0] == instants[2]
    columns = m.get(7, STANDARD, 3).plain()
    assert columns == [[8, bytes([0, 0, 1, 0, 0, 255]), 2, 0], [1, bytes([0, 0, 96, 11, 0, 255]), 2, 0]]
    assert [m.get(7, STANDARD, a).value for a in (4, 5, 7, 8)] == [0, 1, 9, 500]
    # the clock column is the meter's local time with its deviation: CET, not in DST on 27 March
    first = CosemDateTime.from_data(m.get(7, STANDARD, 2).items[0].items[0])
    assert (first.hour, first.deviation, first.status) == (13, -60, 0)
