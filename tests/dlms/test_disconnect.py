"""Disconnect control (IC 70) and Limiter (IC 71) of the simulated meters, over TCP with MeterHIL's DlmsPort, judged
against the bench: the meter's own registers, its test output as the error calculator sees it, the reference
standard and the simulator's truth (SIM:TRUT?).

Expected states are the Blue Book's (IEC 62056-6-2:2021 4.5.8, IC 70 version 0: transitions a remote_reconnect
D→C, b remote_disconnect C→D, c remote_disconnect R→D, d remote_reconnect D→R, e manual_reconnect R→C,
f manual_disconnect C→R, g local_disconnect C→R, h local_reconnect R→C; control modes 1 b,c,f,g | d,e; 2 b,c,f,g
| a,e; 3 b,c,g | d,e; 4 b,c,g | a,e; 5 b,c,f,g | d,e,h; 6 b,c,g | d,e,h; control_state 0 disconnected,
1 connected, 2 ready_for_reconnection), worked out by hand in each test; the limiter's from 4.5.9."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from instruments.dlms.apdu import DataAccessResult
from instruments.dlms.axdr import Data
from instruments.dlms.client import DataAccessError
from instruments.dlms.cosem import CosemDateTime, Obis
from instruments.drivers.dlms import DlmsFault, DlmsPort
from instruments.simulators.bench import RunningBench, SimulatedBench
from instruments.simulators.world.config import SimBenchConfig, load_sim_bench
from tests.dlms.conftest import Port, advance, management, public
from tests.helpers import Opener, truth

DC = "0.0.96.3.10.255"
LIMITER = "0.0.17.0.0.255"
DISCONNECTED, CONNECTED, READY = 0, 1, 2
P_5A = 3 * 230.0 * 5.0  # W at 5 A per phase, PF 1 (the default bench's meters err by ≲ 0.4 %)
#: position 3 of this module's bench has welded relay contacts
STUCK = 3


@pytest.fixture
def sim() -> Iterator[RunningBench]:
    """The default simulated bench (seed 1) with one fault more: position 3's relay is stuck closed."""
    data = load_sim_bench(None).model_dump(exclude_unset=True)
    data["positions"][STUCK - 1]["overrides"] = {"behaviour": {"relay_stuck_closed": True}}
    with RunningBench(SimulatedBench(SimBenchConfig.model_validate(data), seed=1)) as running:
        yield running


def state(meter: DlmsPort) -> tuple[bool, int, int]:
    """(output_state, control_state, control_mode)."""
    out, st, mode = meter.get_many([(70, DC, 2), (70, DC, 3), (70, DC, 4)])
    assert isinstance(out, Data) and isinstance(st, Data) and isinstance(mode, Data)
    return out.value, st.value, mode.value


def disconnect(meter: DlmsPort) -> None:
    meter.action(70, DC, 1, Data.int8(0))


def reconnect(meter: DlmsPort) -> None:
    meter.action(70, DC, 2, Data.int8(0))


def set_mode(meter: DlmsPort, mode: int) -> None:
    meter.set(70, DC, 4, Data.enum(mode))


def refused(call: Callable[[], object]) -> DataAccessResult:
    with pytest.raises(DlmsFault) as err:
        call()
    assert isinstance(err.value.cause, DataAccessError)
    return err.value.cause.result


def press_button(sim: RunningBench, position: int) -> str | None:
    """The customer presses the meter's button (a world event, on the loop thread)."""
    return sim.call(sim.bench.world.meters[position].relay.press_button)  # type: ignore[no-any-return]


def kwh(control: Any, position: int) -> float:
    return float(truth(control)["meters"][str(position)]["registers"]["1.8.0"])


def test_remote_disconnect_stops_the_meter_not_the_bench(visa: Opener, port: Port, energised: Any) -> None:
    meter, other = management(port, 1), public(port, 2)
    assert state(meter) == (True, CONNECTED, 1)  # a new meter: connected, control mode 1
    wh, wh_other = meter.register("1.0.1.8.0.255").value, other.register("1.0.1.8.0.255").value
    disconnect(meter)  # b
    assert state(meter) == (False, DISCONNECTED, 1)
    ec = visa("error_calculator")
    ec.write("CONF:ALL ERR,10,1000,IPKWH")
    ec.write("INIT:ALL")
    assert ec.query("*OPC?") == "1"  # started before the clock runs (another connection)
    before = truth(energised)
    clock = meter.clock()
    advance(energised, 600)
    after = truth(energised)
    # the meter: no energy, no pulses, no current, no power; voltage and clock as before
    assert meter.register("1.0.1.8.0.255").value == wh
    assert after["meters"]["1"]["pulses"] == before["meters"]["1"]["pulses"]
    assert meter.register("1.0.31.7.0.255").value == 0.0 and meter.register("1.0.1.7.0.255").value == 0.0
    assert meter.register("1.0.32.7.0.255").value == pytest.approx(230.0, abs=0.1)
    assert (meter.clock() - clock).total_seconds() == pytest.approx(600, abs=0.02)
    assert after["meters"]["1"]["relay_closed"] is False and after["meters"]["1"]["relay_operations"] == 1
    # the bench: the error calculator never gets a pulse from position 1, position 2 measures as usual
    assert ec.query("CHAN1:STAT?") == "WAITING" and ec.query("CHAN1:FETC:PULS?") == "0,0"
    assert ec.query("CHAN2:STAT?") == "FINISHED" and abs(float(ec.query("CHAN2:FETC:ERR?"))) < 1.0
    assert after["reference"]["pulses"] - before["reference"]["pulses"] == pytest.approx(
        P_5A * 600 / 3.6e6 * 5.0e6, rel=1e-3)  # the reference in the primary circuit still sees 3450 W
    assert other.register("1.0.1.8.0.255").value - wh_other == pytest.approx(P_5A * 600 / 3600, abs=5)


@pytest.mark.parametrize(("mode", "after_remote"), [(1, READY), (3, READY), (5, READY), (6, READY),
                                                    (2, CONNECTED), (4, CONNECTED)])
def test_remote_reconnection_per_control_mode(sim: RunningBench, port: Port, energised: Any, mode: int,
                                              after_remote: int) -> None:
    meter = management(port, 1)
    set_mode(meter, mode)
    disconnect(meter)  # b in every mode 1 … 6
    reconnect(meter)  # d (modes 1, 3, 5, 6) → ready_for_reconnection; a (2, 4) → connected
    assert state(meter) == (after_remote == CONNECTED, after_remote, mode)
    e0 = kwh(energised, 1)
    advance(energised, 360)
    if after_remote == READY:
        assert kwh(energised, 1) == e0  # still open until someone is there
        assert press_button(sim, 1) == "e"  # manual_reconnect
        assert state(meter) == (True, CONNECTED, mode)
        e0 = kwh(energised, 1)
        advance(energised, 360)
    assert kwh(energised, 1) - e0 == pytest.approx(P_5A * 0.1 / 1000, rel=0.01)  # 6 min at 3450 W


def test_what_the_control_modes_refuse(sim: RunningBench, port: Port, energised: Any) -> None:
    meter = management(port, 1)
    set_mode(meter, 0)  # none: always connected
    assert refused(lambda: disconnect(meter)) is DataAccessResult.TEMPORARY_FAILURE
    assert state(meter) == (True, CONNECTED, 0)
    set_mode(meter, 3)  # no manual disconnection (f) in mode 3
    assert press_button(sim, 1) is None and state(meter)[1] == CONNECTED
    set_mode(meter, 2)
    assert press_button(sim, 1) == "f"  # manual_disconnect → ready_for_reconnection
    assert state(meter) == (False, READY, 2)
    # mode 2 reconnects remotely from disconnected only (a): from ready there is no remote transition
    assert refused(lambda: reconnect(meter)) is DataAccessResult.TEMPORARY_FAILURE
    disconnect(meter)  # c
    assert state(meter) == (False, DISCONNECTED, 2)
    assert refused(lambda: set_mode(meter, 7)) is DataAccessResult.OTHER_REASON
    assert refused(lambda: meter.set(70, DC, 4, Data.uint8(1))) is DataAccessResult.TYPE_UNMATCHED
    assert refused(lambda: meter.action(70, DC, 2, Data.int8(1))) is DataAccessResult.TYPE_UNMATCHED
    reconnect(meter)  # a
    assert state(meter) == (True, CONNECTED, 2)


def test_the_public_client_reads_but_may_not_disconnect(port: Port, energised: Any) -> None:
    reader = public(port, 1)
    assert state(reader) == (True, CONNECTED, 1)
    assert refused(lambda: disconnect(reader)) is DataAccessResult.READ_WRITE_DENIED
    assert refused(lambda: set_mode(reader, 2)) is DataAccessResult.READ_WRITE_DENIED
    assert refused(lambda: reader.set(71, LIMITER, 4, Data.uint32(1))) is DataAccessResult.READ_WRITE_DENIED
    assert state(reader) == (True, CONNECTED, 1) and truth(energised)["meters"]["1"]["relay_closed"] is True

    def rights(client: DlmsPort, ic: int, ln: str) -> tuple[dict[int, int], dict[int, int]]:
        obj = next(o for o in client.get(15, "0.0.40.0.0.255", 2).items
                   if int(o[0].value) == ic and bytes(o[2].value) == bytes(Obis.parse(ln)))
        attrs, methods = obj[3].items
        return ({int(a[0].value): int(a[1].value) for a in attrs.items},
                {int(m[0].value): int(m[1].value) for m in methods.items})

    assert rights(reader, 70, DC) == ({1: 1, 2: 1, 3: 1, 4: 1}, {1: 0, 2: 0})
    assert rights(management(port, 1), 70, DC) == ({1: 1, 2: 1, 3: 1, 4: 3}, {1: 1, 2: 1})
    limiter_attrs, _ = rights(management(port, 1), 71, LIMITER)
    assert limiter_attrs == {1: 1, 2: 3, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3, 8: 3, 9: 3, 10: 1, 11: 3}


def test_a_stuck_relay_shows_only_in_the_truth(port: Port, energised: Any) -> None:
    meter = management(port, STUCK)
    disconnect(meter)
    assert state(meter) == (False, DISCONNECTED, 1)  # the meter believes it opened
    before = truth(energised)["meters"][str(STUCK)]
    advance(energised, 600)
    after = truth(energised)["meters"][str(STUCK)]
    assert after["relay_closed"] is True and after["relay_operations"] == 0  # the contacts never moved
    assert after["pulses"] - before["pulses"] == pytest.approx(P_5A * 600 / 3600, abs=3)  # ≈ 575 pulses
    assert after["registers"]["1.8.0"] - before["registers"]["1.8.0"] == pytest.approx(P_5A * 600 / 3.6e6,
                                                                                         rel=0.01)
    assert state(meter) == (False, DISCONNECTED, 1)


def test_limiter_defaults_and_what_it_refuses(port: Port, energised: Any) -> None:
    meter = management(port, 1)
    monitored = meter.get(71, LIMITER, 2).plain()
    assert monitored == [3, bytes(Obis(1, 0, 1, 7, 0)), 2]  # active power import, its value
    assert [meter.get(71, LIMITER, n).value for n in (3, 4, 5, 6, 7)] == [2**32 - 1, 2**32 - 1, 2**32 - 1, 0, 0]
    assert meter.get(71, LIMITER, 9).plain() == [] and meter.get(71, LIMITER, 10).value is False
    assert meter.get(71, LIMITER, 11).plain() == [[bytes(Obis(0, 0, 10, 0, 106)), 1],
                                                  [bytes(Obis(0, 0, 10, 0, 106)), 2]]
    other = Data.structure([Data.uint16(3), Data.octets(bytes(Obis(1, 0, 32, 7, 0))), Data.int8(2)])
    assert refused(lambda: meter.set(71, LIMITER, 2, other)) is DataAccessResult.OTHER_REASON
    assert refused(lambda: meter.set(71, LIMITER, 6, Data.visible("60"))) is DataAccessResult.TYPE_UNMATCHED


def test_limiter_disconnects_after_min_over_and_reconnects_after_min_under(port: Port, energised: Any,
                                                                           visa: Opener) -> None:
    fast, slow = management(port, 1), management(port, 2)
    for meter, over_s in ((fast, 60), (slow, 120)):
        set_mode(meter, 5)  # local disconnection (g) and local reconnection (h)
        meter.set(71, LIMITER, 4, Data.uint32(30000))  # threshold_normal 3000 W (1.0.1.7.0.255 counts 0.1 W)
        meter.set(71, LIMITER, 6, Data.uint32(over_s))
        meter.set(71, LIMITER, 7, Data.uint32(30))
        assert meter.get(71, LIMITER, 3).value == 30000  # threshold_active: the normal one
    e_fast, e_slow = kwh(energised, 1), kwh(energised, 2)
    advance(energised, 59)
    assert state(fast)[1] == CONNECTED
    advance(energised, 1)  # 3450 W > 3000 W for 60 s: g
    assert state(fast) == (False, READY, 5)
    assert fast.register("1.0.1.7.0.255").value == 0.0  # what it monitors is 0 now: under the threshold
    advance(energised, 30)  # under for 30 s: h
    assert state(fast) == (True, CONNECTED, 5)
    advance(energised, 10)  # t = 100 s: over again for 10 s only; the slow one has been over for 100 s < 120 s
    source = visa("source")
    for ph in (1, 2, 3):
        source.write(f"SOUR:PHAS{ph}:CURR 2")  # 1380 W: under the threshold
    assert source.query("OUTP?") == "1"  # set before the clock runs on (another connection)
    advance(energised, 3600)
    assert state(fast) == (True, CONNECTED, 5) and state(slow) == (True, CONNECTED, 5)
    # energy: the fast meter was open from 60 s to 90 s, the slow one never
    e1, e2 = kwh(energised, 1) - e_fast, kwh(energised, 2) - e_slow
    p_2a = 3 * 230.0 * 2.0
    assert e1 == pytest.approx((P_5A * 70 + p_2a * 3600) / 3.6e6, rel=0.01)
    assert e2 == pytest.approx((P_5A * 100 + p_2a * 3600) / 3.6e6, rel=0.01)
    assert math.isclose(e2 - e1, P_5A * 30 / 3.6e6, rel_tol=0.05)


def test_the_emergency_threshold_rules_during_the_emergency_profile(port: Port, energised: Any) -> None:
    meter = management(port, 1)
    set_mode(meter, 5)
    meter.set(71, LIMITER, 4, Data.uint32(50000))  # normal 5000 W: 3450 W is under it
    meter.set(71, LIMITER, 5, Data.uint32(20000))  # emergency 2000 W: 3450 W is over it
    meter.set(71, LIMITER, 6, Data.uint32(30))
    meter.set(71, LIMITER, 7, Data.uint32(30))
    start = meter.clock().replace(microsecond=0) + dt.timedelta(seconds=100)  # 99 … 100 s from now
    profile = Data.structure([Data.uint16(7), CosemDateTime.from_datetime(start).to_data(), Data.uint32(100)])
    meter.set(71, LIMITER, 8, profile)
    meter.set(71, LIMITER, 9, Data.array([Data.uint16(3), Data.uint16(7)]))  # id 7 may activate
    assert meter.get(71, LIMITER, 8) == profile
    e0 = kwh(energised, 1)
    advance(energised, 99)
    assert meter.get(71, LIMITER, 10).value is False and meter.get(71, LIMITER, 3).value == 50000
    advance(energised, 1)
    assert meter.get(71, LIMITER, 10).value is True and meter.get(71, LIMITER, 3).value == 20000
    advance(energised, 30)  # over the emergency threshold for 30 s: g
    assert state(meter) == (False, READY, 5)
    advance(energised, 30)  # 0 W under it for 30 s: h
    assert state(meter) == (True, CONNECTED, 5)
    advance(energised, 140)  # g at start + 90, h at start + 120; the profile ended at start + 100
    assert state(meter) == (True, CONNECTED, 5)
    assert meter.get(71, LIMITER, 10).value is False and meter.get(71, LIMITER, 3).value == 50000
    assert kwh(energised, 1) - e0 == pytest.approx(P_5A * (300 - 60) / 3.6e6, rel=0.01)  # open 2 × 30 s
