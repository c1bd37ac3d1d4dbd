"""The simulated meters' DLMS/COSEM server over the TCP wrapper, reached exactly as a meter on a network: values
against the simulator's truth (SIM:TRUT?), access rights, authentication, replay protection, block transfer,
selective access, bad input and dropped links. MeterHIL's own client drives it here; independent clients read it in
tests/dlms/test_interop.py."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import socket
from typing import Any

import pytest

from instruments.dlms import acse, apdu, security
from instruments.dlms.apdu import DataAccessResult
from instruments.dlms.axdr import Data
from instruments.dlms.client import AssociationRefused, DataAccessError, ServiceRefused
from instruments.dlms.cosem import CosemDateTime, Obis
from instruments.dlms.wrapper import WrapperFrame, WrapperReader
from instruments.drivers.dlms import DlmsFault, DlmsPort
from instruments.drivers.errors import InstrumentTimeout
from instruments.drivers.transport import VisaTransport
from instruments.simulators.bench import RunningBench
from tests.dlms.conftest import AK, EK, Port, advance, management, public
from tests.helpers import Opener, truth

LOAD_PROFILE = "1.0.99.1.0.255"


def _wh(kwh: float) -> int:
    return math.floor(round(kwh * 1000.0, 6))


def test_registers_and_clock_equal_the_truth(port: Port, energised: Any) -> None:
    meter = public(port, 2)
    energy = meter.register("1.0.1.8.0.255")
    clock = meter.clock()
    t = truth(energised)["meters"]["2"]
    assert energy.unit == "Wh" and energy.value == _wh(t["registers"]["1.8.0"]) > 0
    assert meter.register("1.0.2.8.0.255").value == _wh(t["registers"]["2.8.0"])
    assert abs((clock - dt.datetime.fromisoformat(t["clock"])).total_seconds()) < 0.011  # 1/100 s resolution
    voltage, current = meter.register("1.0.32.7.0.255"), meter.register("1.0.31.7.0.255")
    assert (voltage.unit, current.unit) == ("V", "A")
    assert voltage.value == pytest.approx(230.0, abs=0.1) and current.value == pytest.approx(5.0, abs=0.001)
    assert meter.identify().startswith("MHS")
    assert meter.readout()["1.8.0"] == f"{_wh(t['registers']['1.8.0']) / 1000:010.3f}*kWh"


def test_each_client_sees_its_own_access_rights(port: Port, energised: Any) -> None:
    reader, manager = public(port), management(port)
    with pytest.raises(DlmsFault) as refused:
        reader.set_clock(dt.datetime(2026, 1, 5, 7, 30, tzinfo=dt.UTC))
    assert isinstance(refused.value.cause, DataAccessError)
    assert refused.value.cause.result is DataAccessResult.READ_WRITE_DENIED
    when = dt.datetime(2026, 1, 5, 7, 30, tzinfo=dt.UTC)
    manager.set_clock(when)
    assert abs((reader.clock() - when).total_seconds()) < 0.02
    rights = {(int(o[0].value), bytes(o[2].value)): o[3] for o in reader.get(15, "0.0.40.0.0.255", 2).items}
    clock_attrs = {int(a[0].value): int(a[1].value) for a in rights[(8, bytes(Obis(0, 0, 1, 0, 0)))][0].items}
    assert clock_attrs[2] == 1  # read only for the public client
    rights_m = {(int(o[0].value), bytes(o[2].value)): o[3] for o in manager.get(15, "0.0.40.0.0.255", 2).items}
    assert {int(a[0].value): int(a[1].value) for a in rights_m[(8, bytes(Obis(0, 0, 1, 0, 0)))][0].items}[2] == 3


@pytest.mark.parametrize(("options", "diagnostic"), [
    ({"client": 1, "authentication": "lls", "password": "wrong"}, "authentication-failure"),
    ({"client": 1, "authentication": "none"}, "authentication-mechanism-name-required"),
    ({"client": 1, "authentication": "hls-gmac", "encryption_key": EK, "authentication_key": "00" * 16,
      "ciphered": False}, "authentication-failure"),  # f(StoC) does not verify
    ({"client": 1, "authentication": "hls-gmac", "encryption_key": EK, "authentication_key": "00" * 16},
     "initiate error"),  # the glo-initiate-request does not decipher
    ({"client": 5, "authentication": "none"}, "no-reason-given"),
])
def test_a_refused_association_names_why(port: Port, energised: Any, options: dict[str, Any],
                                         diagnostic: str) -> None:
    with pytest.raises(DlmsFault) as refused:
        port(1, **options).clock()
    assert isinstance(refused.value.cause, AssociationRefused)
    assert diagnostic in str(refused.value)
    assert public(port).clock()  # the meter keeps serving


def test_a_replayed_invocation_counter_is_refused(port: Port, energised: Any) -> None:
    first = management(port)
    first.clock()
    first.close()
    again = management(port, invocation_counter=1)  # counts from 1 again: a replay
    with pytest.raises(DlmsFault, match="association rejected-permanent"):
        again.clock()
    counter = public(port).get(1, "0.0.43.1.0.255", 2).value
    assert counter >= 2
    fresh = management(port, invocation_counter=counter + 1)  # as a client that reads the counter first
    assert fresh.clock()


def test_unknown_objects_and_attributes(port: Port, energised: Any) -> None:
    meter = public(port)
    cases = [((3, "1.0.99.9.9.255", 2), DataAccessResult.OBJECT_UNDEFINED),
             ((1, "1.0.1.8.0.255", 2), DataAccessResult.OBJECT_CLASS_INCONSISTENT),
             ((3, "1.0.1.8.0.255", 9), DataAccessResult.OBJECT_UNAVAILABLE)]
    for (ic, obis, attr), result in cases:
        with pytest.raises(DlmsFault) as err:
            meter.get(ic, obis, attr)
        assert isinstance(err.value.cause, DataAccessError) and err.value.cause.result is result
    results = meter.get_many([(3, "1.0.1.8.0.255", 2), (3, "1.0.99.9.9.255", 2)])
    assert isinstance(results[0], Data) and results[1] is DataAccessResult.OBJECT_UNDEFINED


def test_load_profile_by_range_and_entry_with_block_transfer(port: Port, energised: Any) -> None:
    advance(energised, 18000)  # five more hours: 20 quarter-hour captures while registering
    meter = public(port, max_receive_pdu=128)  # small PDUs: the buffer comes in blocks
    rows = meter.profile(LOAD_PROFILE).rows
    t = truth(energised)["meters"]["1"]
    times = [r[0] for r in rows]
    now = dt.datetime.fromisoformat(t["clock"])
    # from the first quarter hour after power-up (the epoch, 06:00) to the last one the meter's clock has passed
    assert times[0] == dt.datetime(2026, 1, 5, 6, 15, tzinfo=dt.UTC)
    assert times[-1] <= now < times[-1] + dt.timedelta(seconds=900) and len(rows) >= 23
    assert all(tm.minute % 15 == 0 and tm.second == 0 for tm in times)
    assert all((b - a).total_seconds() == 900 for a, b in itertools.pairwise(times))
    imports = [r[2] for r in rows]
    deltas = [b - a for a, b in itertools.pairwise(imports)]
    power_w = sum(ph["active_power"] for ph in truth(energised)["source"]["phases"].values())
    expected_wh = power_w * 0.25 * (1 + t["error_pct"] / 100)
    assert all(abs(d - expected_wh) <= 1 for d in deltas)  # within the 1 Wh register resolution
    assert imports[-1] <= _wh(t["registers"]["1.8.0"])
    start, end = times[4], times[12]
    by_range = meter.profile(LOAD_PROFILE, start=start, end=end).rows
    assert [r[0] for r in by_range] == times[4:13]  # both ends inclusive
    by_entry = meter.profile(LOAD_PROFILE, first=3, last=5).rows
    assert by_entry == tuple(rows[2:5])


def test_a_power_failure_leaves_no_gap_in_the_profile_but_flags_it(port: Port, energised: Any, visa: Opener) -> None:
    source = visa("source")
    source.write("OUTP OFF")
    assert source.query("OUTP?") == "0"  # done before the clock moves (another connection)
    advance(energised, 2700)  # 45 min without supply: three capture instants missed
    source.write("OUTP ON")
    assert source.query("OUTP?") == "1"
    advance(energised, 1800)
    rows = public(port).profile(LOAD_PROFILE).rows
    times = [r[0] for r in rows]
    assert all((b - a).total_seconds() == 900 for a, b in itertools.pairwise(times))
    flagged = [r for r in rows if r[1] & 0x80]
    assert len(flagged) >= 3  # the missed intervals, filled with the power-down bit


def test_connection_dropped_mid_block_transfer_and_garbage(sim: RunningBench, port: Port, energised: Any) -> None:
    advance(energised, 36000)
    tcp = sim.port("meter1-dlms")
    with socket.create_connection(("127.0.0.1", tcp), timeout=2) as s:
        reader = WrapperReader()

        def ask(raw: bytes) -> bytes:
            s.sendall(WrapperFrame(16, 1, raw).encode())
            while True:
                frames = reader.feed(s.recv(65536))
                if frames:
                    return frames[0].apdu

        initiate = apdu.encode(apdu.InitiateRequest(apdu.Conformance(0x007E1F), 64))
        aare = acse.Aare.decode(ask(acse.Aarq(acse.ApplicationContext.LN, initiate).encode()))
        assert aare.result is acse.AssociationResult.ACCEPTED
        first = apdu.decode(ask(apdu.encode(apdu.GetRequestNormal(
            0xC1, apdu.AttributeDescriptor(7, Obis.parse(LOAD_PROFILE), 2)))))
        assert isinstance(first, apdu.GetResponseWithBlock) and not first.last
        wrong = apdu.decode(ask(apdu.encode(apdu.GetRequestNext(0xC1, 5))))
        assert isinstance(wrong, apdu.GetResponseWithBlock) and wrong.raw is DataAccessResult.DATA_BLOCK_NUMBER_INVALID
        truncated = apdu.decode(ask(bytes.fromhex("C00100000800")))
        assert isinstance(truncated, apdu.ExceptionResponse)
        plain_in_ciphered = apdu.decode(ask(security.protect(apdu.encode(apdu.GetRequestNormal(
            0xC1, apdu.AttributeDescriptor(8, Obis(0, 0, 1, 0, 0), 2))), security.Keys(bytes(16), bytes(16)),
            bytes(8), 1)))
        assert isinstance(plain_in_ciphered, apdu.ExceptionResponse)
    # dropped mid-transfer above; a broken wrapper stream is closed; the meter keeps serving others
    with socket.create_connection(("127.0.0.1", tcp), timeout=2) as s:
        s.sendall(b"\x00\x07" + bytes(20))
        assert s.recv(100) == b""  # closed by the meter
    assert public(port).profile(LOAD_PROFILE, first=1, last=2).rows


def test_a_dead_meter_is_silent(port: Port, energised: Any) -> None:
    energised.write('FAUL:INJ "meter3-dlms","FAIL"')
    assert energised.query("SYST:ERR?").startswith("0,")
    with pytest.raises(InstrumentTimeout):
        public(port, 3, timeout_s=0.3).clock()
    assert public(port, 4).clock()


def test_sealed_service_errors_reach_the_client_by_name(port: Port, energised: Any) -> None:
    manager = management(port)
    with pytest.raises(DlmsFault) as err:
        manager.action(8, "0.0.1.0.0.255", 6, Data.int16(5000))  # shift_time beyond ±900 s
    assert isinstance(err.value.cause, DataAccessError)
    assert err.value.cause.result is DataAccessResult.TYPE_UNMATCHED
    with pytest.raises(DlmsFault) as err:
        public(port).action(8, "0.0.1.0.0.255", 6, Data.int16(5))
    assert err.value.cause is not None and isinstance(err.value.cause, DataAccessError | ServiceRefused)


# -- HDLC on the optical port after the mode E switch-over (IEC 62056-21 6.4.5, IEC 62056-46) ----------------
def optical(sim: RunningBench, position: int = 1, **options: Any) -> DlmsPort:
    resource = f"TCPIP0::127.0.0.1::{sim.port(f'meter{position}')}::SOCKET"
    transport = VisaTransport(f"meter{position}-optical", resource, timeout_s=2.0, read_termination=None,
                              write_termination="")
    return DlmsPort(transport, transport_layer="hdlc", mode_e=True, **options)


def test_hdlc_after_mode_e_serves_the_same_meter(sim: RunningBench, port: Port, energised: Any) -> None:
    advance(energised, 7200)
    reader = optical(sim, 5, client=16, authentication="none", max_receive_pdu=128)
    manager = optical(sim, 5, client=1, authentication="hls-gmac", encryption_key=EK, authentication_key=AK)
    try:
        t = truth(energised)["meters"]["5"]
        assert reader.register("1.0.1.8.0.255").value == _wh(t["registers"]["1.8.0"])
        # the profile over HDLC, segmented frames and block transfer, equals the one over the wrapper
        assert reader.profile(LOAD_PROFILE).rows == public(port, 5).profile(LOAD_PROFILE).rows
        when = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
        manager.set_clock(when)
        assert abs((public(port, 5).clock() - when).total_seconds()) < 0.02
    finally:
        reader.close()
        manager.close()


def test_hdlc_frames_with_a_bad_crc_are_ignored_and_the_link_recovers(sim: RunningBench, energised: Any) -> None:
    from instruments.dlms import hdlc

    with socket.create_connection(("127.0.0.1", sim.port("meter2")), timeout=2) as s:
        s.sendall(b"/?!\r\n")
        ident = b""
        while not ident.endswith(b"\r\n"):
            ident += s.recv(100)
        assert ident.startswith(b"/MHS5\\2")  # mode E offered
        s.sendall(b"\x06" + b"252\r\n")
        client = hdlc.HdlcClientLink(16, 1, 0x10)
        snrm = bytearray(client.connect_frame())
        snrm[-2] ^= 0xFF  # FCS broken: no answer
        s.sendall(bytes(snrm))
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(100)
        s.settimeout(2)
        s.sendall(client.connect_frame())
        events = client.receive(s.recv(200))
        assert events.connected is not None
    # the mode C dialogue is still there for the next connection
    with socket.create_connection(("127.0.0.1", sim.port("meter2")), timeout=2) as s:
        s.sendall(b"/?!\r\n")
        assert s.recv(100).startswith(b"/MHS5\\2")


def test_maximum_demand_is_the_largest_period_of_the_load_profile(port: Port, energised: Any, visa: Opener) -> None:
    source = visa("source")
    advance(energised, 1800)
    for ph in (1, 2, 3):
        source.write(f"SOUR:PHAS{ph}:CURR 10")  # twice the load for an hour: 6900 W
    assert source.query("OUTP?") == "1"  # done before the clock moves (another connection)
    advance(energised, 3600)
    for ph in (1, 2, 3):
        source.write(f"SOUR:PHAS{ph}:CURR 2")
    assert source.query("OUTP?") == "1"
    advance(energised, 1800)
    meter = public(port, 6)
    demand = meter.register("1.0.1.6.0.255", class_id=4)
    rows = meter.profile(LOAD_PROFILE).rows
    deltas = [(b[2] - a[2]) * 4.0 for a, b in itertools.pairwise(rows) if not b[1] & 0x80]  # W over 15 min
    # the meter's demand is from its unrounded energy; the profile shows whole Wh: ±1 Wh per entry, × 4 per hour
    assert demand.unit == "W" and abs(demand.value - max(deltas)) <= 2 * 4.0
    assert demand.value == pytest.approx(3 * 230.0 * 10.0, rel=0.005)  # the 10 A hour, within the meter's error
    when = CosemDateTime.from_data(meter.get(4, "1.0.1.6.0.255", 5)).to_datetime()
    at_10a = [b[0] for a, b in itertools.pairwise(rows) if (b[2] - a[2]) * 4.0 > 6000]
    assert len(at_10a) == 4 and when in at_10a  # one of the four quarter hours at 10 A
    manager = management(port, 6)
    manager.action(4, "1.0.1.6.0.255", 1, Data.int8(0))  # reset: no period completed since
    assert public(port, 6).register("1.0.1.6.0.255", class_id=4).value == 0
