"""Random and mutated input on both DLMS transports never crashes the simulated meter, never hangs it, and never
disturbs its other clients (like tests/test_sim_fuzz.py, one layer deeper: inside valid wrapper frames and
inside an HDLC link after mode E, where the protocol parsers see it)."""

from __future__ import annotations

import contextlib
import random
import socket
from typing import Any

from instruments.dlms import acse, apdu, hdlc
from instruments.dlms.apdu import AttributeDescriptor, Conformance
from instruments.dlms.cosem import Obis
from instruments.dlms.wrapper import WrapperFrame, WrapperReader
from instruments.simulators.bench import RunningBench
from tests.helpers import Opener

CLOCK = AttributeDescriptor(8, Obis(0, 0, 1, 0, 0), 2)
VALID = [
    apdu.encode(apdu.GetRequestNormal(0xC1, CLOCK)),
    apdu.encode(apdu.GetRequestNormal(0xC1, AttributeDescriptor(7, Obis(1, 0, 99, 1, 0), 2))),
    apdu.encode(apdu.GetRequestNext(0xC1, 1)),
    apdu.encode(apdu.GetRequestWithList(0xC1, ((CLOCK, None), (AttributeDescriptor(3, Obis(1, 0, 1, 8, 0), 3), None)))),
    apdu.encode(apdu.ActionRequestNormal(0xC1, apdu.MethodDescriptor(8, Obis(0, 0, 1, 0, 0), 6))),
    acse.Rlrq(0).encode(),
]
AARQ = acse.Aarq(acse.ApplicationContext.LN, apdu.encode(apdu.InitiateRequest(Conformance(0x007E1F), 256))).encode()


def _mutate(rng: random.Random, raw: bytes) -> bytes:
    b = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        if op < 0.4 and b:
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        elif op < 0.7:
            del b[rng.randrange(len(b) + 1):]
        else:
            b[rng.randrange(len(b) + 1):0] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
    return bytes(b)


def _energise(visa: Opener) -> Any:
    source, control = visa("source"), visa("control")
    for ph in (1, 2, 3):
        source.write(f"SOUR:PHAS{ph}:VOLT 230;CURR 1")
    source.write("OUTP ON")
    assert source.query("OUTP?") == "1"
    control.write("CLOC:ADV 1800")
    control.query("*OPC?")
    return control


def _wrapper_exchange(s: socket.socket, reader: WrapperReader, raw: bytes, sap: int = 16) -> bytes | None:
    s.sendall(WrapperFrame(sap, 1, raw).encode())
    try:
        while True:
            frames = reader.feed(s.recv(65536))
            if frames:
                return frames[0].apdu
    except TimeoutError:
        return None


def test_garbage_inside_wrapper_frames(sim: RunningBench, visa: Opener) -> None:
    _energise(visa)
    rng = random.Random(20261207)
    tcp = sim.port("meter3-dlms")
    with socket.create_connection(("127.0.0.1", tcp), timeout=2) as keeper:  # a client that must not notice
        keep = WrapperReader()
        assert acse.Aare.decode(_wrapper_exchange(keeper, keep, AARQ, sap=16) or b"").result == 0
        with socket.create_connection(("127.0.0.1", tcp), timeout=2) as s:
            s.settimeout(0.2)
            reader = WrapperReader()
            _wrapper_exchange(s, reader, AARQ, sap=16)
            for i in range(300):
                raw = _mutate(rng, rng.choice([*VALID, AARQ])) if i % 3 else bytes(
                    rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
                reply = _wrapper_exchange(s, reader, raw or b"\x00")
                if reply is not None:  # whatever it says, it is one well-formed response APDU or AARE/RLRE
                    assert reply[0] in (0x61, 0x63, 0xC4, 0xC5, 0xC7, 0xD8), reply.hex()
        reply = _wrapper_exchange(keeper, keep, VALID[0])
        assert reply is not None and isinstance(apdu.decode(reply), apdu.GetResponseNormal)


def test_garbage_on_the_hdlc_link_after_mode_e(sim: RunningBench, visa: Opener) -> None:
    _energise(visa)
    rng = random.Random(7)
    with socket.create_connection(("127.0.0.1", sim.port("meter5")), timeout=2) as s:
        s.sendall(b"/?!\r\n")
        ident = b""
        while not ident.endswith(b"\r\n"):
            ident += s.recv(100)
        s.sendall(b"\x06252\r\n")
        client = hdlc.HdlcClientLink(16, 1, 0x10)
        s.sendall(client.connect_frame())
        assert client.receive(s.recv(200)).connected is not None
        s.settimeout(0)  # drain what comes back without waiting for it
        valid = hdlc.Frame(hdlc.HdlcAddress(1, 0x10), hdlc.HdlcAddress.client(16), hdlc.control_i(0, 0),
                           hdlc.LLC_COMMAND + AARQ).encode()
        for i in range(200):
            data = _mutate(rng, valid) if i % 2 else bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
            s.sendall(data)
            with contextlib.suppress(BlockingIOError):
                s.recv(65536)
        # after a silence longer than a frame, a new SNRM re-establishes the link and the meter answers a GET
        s.sendall(bytes(hdlc.MAX_WIRE_FRAME))
        s.settimeout(2)
        fresh = hdlc.HdlcClientLink(16, 1, 0x10, strict=False)
        s.sendall(fresh.connect_frame())
        events = fresh.receive(s.recv(200))
        while events.connected is None:
            events = fresh.receive(s.recv(200))
        s.sendall(fresh.send_apdu(AARQ))
        got: list[bytes] = []
        while not got:
            events = fresh.receive(s.recv(4096))
            s.sendall(events.send)
            got = events.apdus
        assert acse.Aare.decode(got[0]).result is acse.AssociationResult.ACCEPTED
