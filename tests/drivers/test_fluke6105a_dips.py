"""Fluke 6105A driver, dips and short interruptions: exact bytes (replay), refusals before sending, and the real
thing through pyvisa-py against the simulated bench (energy and the meters' power failures in the truth)."""

from __future__ import annotations

import pytest

from hil.bench import source_off
from instruments.drivers.errors import InstrumentError, RangeError
from instruments.roles import DipSource
from tests.drivers.conftest import ERR, OK, Sim, fluke_replay

source = fluke_replay


def test_program_dip_in_cycles_is_one_compound_message() -> None:
    src, t = source([
        (b"SOUR:DIPS:LEV 40;COUN 10;DEL 10;DUR:CYCL 10;:SOUR:PHAS1:VOLT:DIPS ON;:SOUR:PHAS2:VOLT:DIPS ON;"
         b":SOUR:PHAS3:VOLT:DIPS ON;" + ERR, OK),
        (b"SOUR:DIPS:INIT;" + ERR, OK),
        (b"SOUR:DIPS:RUNN?\n", b"1\n"),
    ])
    src.program_dip(40, cycles=10, repeat=10, interval_s=10)
    src.trigger_dip()
    assert src.dip_running() is True
    t.assert_done()


def test_program_dip_in_seconds_on_selected_phases() -> None:
    src, t = source([
        (b"SOUR:DIPS:LEV 0;COUN 1;DEL 0;DUR 0.01;:SOUR:PHAS1:VOLT:DIPS OFF;:SOUR:PHAS2:VOLT:DIPS ON;"
         b":SOUR:PHAS3:VOLT:DIPS OFF;" + ERR, OK),
    ])
    src.program_dip(0.0, duration_s=0.01, phases=[2])
    t.assert_done()


BAD_DIPS = [
    {"level_pct": 200.5, "cycles": 10}, {"level_pct": -0.1, "cycles": 10}, {"level_pct": 40, "cycles": 0},
    {"level_pct": 40, "cycles": -1}, {"level_pct": 40, "duration_s": 0.0}, {"level_pct": 40, "duration_s": 61},
    {"level_pct": 40, "cycles": 10, "repeat": 0}, {"level_pct": 40, "cycles": 10, "interval_s": -1},
    {"level_pct": 40, "cycles": 10, "interval_s": 61}, {"level_pct": 40, "cycles": 10, "phases": [4]},
    {"level_pct": float("nan"), "cycles": 10},
    # cycles valid at every output frequency (40 .. 70 Hz): 1 ms × 70 Hz = 0.07 .. 60 s × 40 Hz = 2400
    {"level_pct": 40, "cycles": 0.069}, {"level_pct": 40, "cycles": 2400.5},
]


@pytest.mark.parametrize("kw", BAD_DIPS)
def test_bad_dips_are_refused_before_anything_is_sent(kw: dict[str, float]) -> None:
    src, t = source([])  # any byte sent would fail the replay
    with pytest.raises(RangeError):
        src.program_dip(**kw)  # type: ignore[arg-type]
    with pytest.raises(RangeError):
        src.check_dip(**kw)  # type: ignore[arg-type]
    t.assert_done()


def test_check_dip_accepts_the_range_ends_and_sends_nothing() -> None:
    src, t = source([])
    for cycles in (0.07, 2400.0):
        src.check_dip(0.0, cycles=cycles, phases=[1, 3], repeat=1000, interval_s=60.0)
    t.assert_done()


def test_abort_and_completed_dips() -> None:
    src, t = source([(b"SOUR:DIPS:ABOR;" + ERR, OK), (b"SOUR:DIPS:EVEN?\n", b"7\n")])
    src.abort_dips()
    assert src.dips_completed() == 7
    t.assert_done()


@pytest.mark.parametrize("abort_reply", [OK, b'-113,"Undefined header"\n'], ids=["aborted", "abort refused"])
def test_the_bench_safe_state_switches_off_then_aborts_the_dips(abort_reply: bytes) -> None:
    refused = abort_reply != OK
    # OUTP OFF goes first: an abort the source refuses (our own command text) must not delay it
    src, t = source([(b"OUTP OFF;" + ERR, OK), (b"SOUR:DIPS:ABOR;" + ERR, abort_reply),
                     *([(b"SYST:ERR?\n", OK)] if refused else []), (b"OUTP?\n", b"0\n")])
    source_off(src)  # an abort that fails is logged: the outputs are off all the same
    t.assert_done()


def test_duration_must_be_given_exactly_once() -> None:
    src, t = source([])
    with pytest.raises(ValueError, match="exactly one"):
        src.program_dip(40)
    with pytest.raises(ValueError, match="exactly one"):
        src.program_dip(40, cycles=10, duration_s=0.2)
    t.assert_done()


def test_the_driver_plays_the_dip_source_role() -> None:
    src, _ = source([])
    assert isinstance(src, DipSource)


# -- against the simulated bench --------------------------------------------------------------------------
def test_dips_through_pyvisa_interrupt_the_meters_exactly(bench: Sim) -> None:
    bench.energise()
    before = bench.truth()
    src = bench.source
    # 0 % for 0.5 cycle (an OIML D 11 level-2 interruption, ridden through), then 0 % for 10 cycles (not in that
    # table: longer than the meters' 100 ms hold-up at 50 Hz, so a power failure), 3 times
    src.program_dip(0.0, cycles=0.5)
    src.trigger_dip()
    bench.clock.sleep(1.0)
    assert not src.dip_running()
    src.program_dip(0.0, cycles=10, repeat=3, interval_s=10.0)
    src.trigger_dip()
    assert src.dip_running()
    bench.clock.sleep(40.0)
    assert not src.dip_running() and src.dip_events == 4  # 1 + 3 since power-on
    after = bench.truth()
    for pos in ("1", "7"):
        assert after["meters"][pos]["power_failures"] - before["meters"][pos]["power_failures"] == 3
        assert after["meters"][pos]["power_ups"] - before["meters"][pos]["power_ups"] == 3
        assert after["meters"][pos]["port_alive"]
    assert after["source"]["dips"]["events_done"] == 4 and not after["source"]["dips"]["running"]


def test_abort_stops_a_running_program_and_counts_the_dips_it_finished(bench: Sim) -> None:
    bench.energise()
    src = bench.source
    src.program_dip(40.0, cycles=10, repeat=5, interval_s=10.0)  # 0.2 s dips every 10.2 s
    src.trigger_dip()
    bench.clock.sleep(25.0)  # dips at 0, 10.2 and 20.4 s are over
    assert src.dip_running()
    src.abort_dips()
    assert not src.dip_running() and src.dips_completed() == 3
    assert bench.truth()["source"]["dips"]["events_done"] == 3


def test_trigger_with_the_output_off_is_an_instrument_error(bench: Sim) -> None:
    bench.source.program_dip(40.0, cycles=10)
    with pytest.raises(InstrumentError, match="-221"):
        bench.source.trigger_dip()
