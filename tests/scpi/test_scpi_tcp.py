"""IEEE 488.2 / SCPI-1999 conformance through pyvisa-py over TCP (one test per rule of instruments.md)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

IDN = "MeterHIL,Demo,D0001,1.0"
Serve = Callable[[Any], Any]


def drain(inst: Any) -> list[int]:
    codes: list[int] = []
    for _ in range(30):
        code = int(inst.query("SYST:ERR?").split(",")[0])
        if code == 0:
            return codes
        codes.append(code)
    raise AssertionError("error queue never emptied")


@pytest.fixture
def inst(serve: Serve, demo: Any) -> Any:
    return serve(demo).open()


def test_terminators(serve: Serve, demo: Any) -> None:
    served = serve(demo)
    lf = served.open()
    lf.write("*IDN?")
    assert lf.read_raw() == (IDN + "\n").encode()  # reply ends with LF
    crlf = served.open()
    crlf.write_termination = "\r\n"
    assert crlf.query("OUTP ON;OUTP?") == "1"
    assert drain(crlf) == []


def test_compound_message_and_path_rule(inst: Any, demo: Any) -> None:
    assert inst.query("SOUR:PHAS2:VOLT 100;CURR 5;VOLT?;CURR?") == "+1.00000000E+02;+5.00000000E+00"
    inst.write("PHAS2:VOLT 1;PHAS3:VOLT 2")
    assert drain(inst) == [-113]


def test_leading_colon_returns_to_root(inst: Any) -> None:
    assert inst.query("PHAS2:VOLT 1;:PHAS3:VOLT 2;:PHAS3:VOLT?;:PHAS2:VOLT?") == "+2.00000000E+00;+1.00000000E+00"
    assert drain(inst) == []


def test_common_commands_keep_the_path(inst: Any) -> None:
    assert inst.query("PHAS2:VOLT 7;*CLS;CURR 3;*IDN?;CURR?") == f"{IDN};+3.00000000E+00"


def test_case_and_long_short_forms(inst: Any) -> None:
    assert inst.query("source:phase1:voltage:level 12;:sour:phas1:volt?") == "+1.20000000E+01"
    inst.write("SOUR:PHAS1:VOLTA 1")
    inst.write("SOURCE:PHASE1:VOLTAG 1")
    assert drain(inst) == [-113, -113]


def test_missing_suffix_means_one(inst: Any) -> None:
    inst.write("PHAS:VOLT 42")
    assert inst.query("PHAS1:VOLT?") == "+4.20000000E+01"
    inst.write("PHAS4:VOLT 1")
    assert drain(inst) == [-114]


def test_min_max_def(inst: Any) -> None:
    assert inst.query("PHAS1:VOLT MAX;VOLT?") == "+1.00800000E+03"
    assert inst.query("PHAS1:VOLT MIN;VOLT?") == "+0.00000000E+00"
    assert inst.query("PHAS1:VOLT DEF;VOLT?") == "+2.30000000E+02"
    assert inst.query("FREQ? MAX") == "+6.50000000E+01"


def test_booleans(inst: Any) -> None:
    assert inst.query("OUTP ON;OUTP?;OUTP OFF;OUTP?;OUTP 1;OUTP?;OUTP 0;OUTP?") == "1;0;1;0"
    inst.write("OUTP PERHAPS")
    assert drain(inst) == [-224]


def test_numbers_and_units(inst: Any) -> None:
    assert float(inst.query("PHAS1:VOLT 230;VOLT?")) == 230.0  # NR1
    assert float(inst.query("PHAS1:VOLT 229.5;VOLT?")) == 229.5  # NR2
    assert float(inst.query("PHAS1:VOLT 2.31E2;VOLT?")) == 231.0  # NR3
    assert float(inst.query("PHAS1:CURR 500 mA;CURR?")) == 0.5
    assert float(inst.query("FREQ 0.06KHZ;FREQ?")) == 60.0
    inst.write("PHAS1:CURR 5 V")
    assert drain(inst) == [-131]


@pytest.mark.parametrize(
    ("message", "code"),
    [("MEAS:VOLT", -100), ("PHAS1::VOLT 1", -102), ("MODE 5", -104), ("OUTP ON,1", -108), ("OUTP", -109),
     ("NOSUCH", -113), ("PHAS5:VOLT 1", -114), ("PHAS1:VOLT 5 A", -131), ("PHAS1:VOLT 2000", -222),
     ("MODE FAST", -224)],
)  # fmt: skip
def test_error_codes(inst: Any, message: str, code: int) -> None:
    inst.write(message)
    assert drain(inst) == [code]


def test_queue_fifo_no_error_and_overflow(inst: Any, demo: Any) -> None:
    assert inst.query("SYST:ERR?") == '0,"No error"'
    for code in (-221, -222, -223, -224, -225, -226):
        inst.write(f"PUSH {code}")
    assert demo.error_queue_size == 5
    assert inst.query("SYST:ERR:COUN?") == "5"
    assert drain(inst) == [-221, -222, -223, -224, -350]
    assert inst.query("SYST:ERR?") == '0,"No error"'


def test_cls(inst: Any) -> None:
    inst.write("NOSUCH")
    inst.write("*CLS")
    assert inst.query("*ESR?;SYST:ERR:COUN?") == "0;0"


def test_esr_bits_per_class_and_read_clears(inst: Any) -> None:
    for code, bit in ((-113, 5), (-222, 4), (-300, 3), (-410, 2)):
        inst.write(f"PUSH {code}")
        assert int(inst.query("*ESR?")) == 1 << bit
        assert int(inst.query("*ESR?")) == 0


def test_stb_bits(inst: Any) -> None:
    assert int(inst.query("*STB?")) == 0
    inst.write("NOSUCH;*ESE 32;*SRE 36")
    stb = int(inst.query("*STB?"))
    assert stb == 0x04 | 0x20 | 0x40  # EAV, ESB, MSS
    assert inst.query("*IDN?;*STB?") == f"{IDN};{stb | 0x10}"  # MAV while a reply waits
    inst.write("*CLS")
    assert int(inst.query("*STB?")) == 0


def test_opc_sets_esr_bit_0(inst: Any) -> None:
    inst.write("*OPC")
    assert int(inst.query("*ESR?")) & 1 == 1


def test_opc_query_and_wai_wait_for_pending_operations(serve: Serve, demo: Any) -> None:
    served = serve(demo)
    a, b = served.open(), served.open()
    a.write("BUSY")
    a.write("*OPC?")
    a.write("*WAI;OUTP ON")
    for _ in range(200):  # until the server holds a's message
        if served.call(lambda: len(demo._waiting)) == 1:
            break
    else:
        raise AssertionError("*OPC? was not held")
    assert b.query("OUTP?") == "0"  # *WAI held the rest of a's input
    served.call(demo.finish)
    assert a.read() == "1"
    assert b.query("*OPC?;OUTP?") == "1;1"


def test_rst(inst: Any) -> None:
    inst.write("OUTP ON;:PHAS1:VOLT 100;:MODE CONT")
    inst.write("*RST")
    assert inst.query("OUTP?;:PHAS1:VOLT?;:MODE?") == "0;+0.00000000E+00;NORMAL"


def test_idn_four_fields(inst: Any) -> None:
    assert inst.query("*IDN?").split(",") == ["MeterHIL", "Demo", "D0001", "1.0"]


def test_query_interrupted_when_client_does_not_read(serve: Serve, demo: Any) -> None:
    served = serve(demo)
    b = served.open()
    with socket.socket() as a:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        a.connect(("127.0.0.1", served.port))
        for sent in range(1, 65):  # replies pile up unread until the server's output queue backs up
            a.sendall(b"BIG? 1000000\n")
            for _ in range(10_000):  # until the server has executed this message
                if served.call(lambda: sum(c[0] == "BIG" for c in demo.calls)) == sent:
                    break
            if any(code == -410 for code, _ in served.call(lambda: demo.errors)):
                break
        else:
            raise AssertionError("no -410 while the client did not read")
    assert -410 in drain(b)


def test_query_unterminated_at_half_close(serve: Serve, demo: Any) -> None:
    served = serve(demo)
    b = served.open()
    with socket.create_connection(("127.0.0.1", served.port)) as a:
        a.sendall(b"OUTP ON;OUTP?")
        a.shutdown(socket.SHUT_WR)
        for _ in range(200):
            if int(b.query("SYST:ERR:COUN?")) > 0:
                break
        assert drain(b) == [-420]
    assert b.query("OUTP?") == "0"


def test_several_clients_at_once(serve: Serve, demo: Any) -> None:
    served = serve(demo)
    clients = [served.open() for _ in range(3)]

    def work(n: int) -> list[str]:
        c = clients[n]
        return [c.query(f"SOUR:PHAS{n + 1}:VOLT {n * 100 + k};VOLT?") for k in range(50)]

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(work, range(3)))
    for n, replies in enumerate(results):
        assert [float(r) for r in replies] == [float(n * 100 + k) for k in range(50)]
    clients[0].write("NOSUCH")
    clients[0].query("*OPC?")  # NOSUCH has been parsed before another client looks (no race between connections)
    assert drain(clients[2]) == [-113]  # one error queue per device, as on a real instrument
