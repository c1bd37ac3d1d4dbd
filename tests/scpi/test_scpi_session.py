"""The engine without sockets: message syntax, header path, errors, status model, deferred operations."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments.scpi.session import MAX_INPUT
from instruments.scpi.tree import CACHE_LIMIT
from tests.helpers import Talk, drain_errors

IDN = "MeterHIL,Demo,D0001,1.0"


# -- message syntax -------------------------------------------------------------------------------
def test_lf_and_crlf_terminate_and_replies_end_with_lf(talk: Talk) -> None:
    assert talk("*IDN?") == IDN + "\n"
    assert talk("*IDN?\r") == IDN + "\n"


def test_message_split_across_chunks_and_several_in_one(demo: Any, out: Any) -> None:
    s = demo.new_session()
    s.data_received(b"*ID", out)
    assert out.data == b""
    s.data_received(b"N?\nOUTP ON\nOUTP?\n", out)
    assert out.take() == IDN + "\n1\n"


def test_compound_replies_joined_by_semicolon(talk: Talk) -> None:
    assert talk("OUTP ON;OUTP?;*IDN?;:MODE CONT;MODE?") == f"1;{IDN};CONTINUOUS\n"


def test_header_path_rule(talk: Talk, demo: Any) -> None:
    # after SOUR:PHAS2:VOLT the path is SOUR:PHAS2: a relative CURR resolves there, suffix included
    talk("SOUR:PHAS2:VOLT 100;CURR 5")
    assert demo.volts[2] == 100.0
    assert demo.amps[2] == 5.0
    talk("PHAS2:VOLT 1;PHAS3:VOLT 2")  # PHAS3 relative to PHAS2 → PHAS2:PHAS3: undefined
    assert demo.volts[3] == 0.0
    assert drain_errors(talk) == [-113]


def test_leading_colon_returns_to_root(talk: Talk, demo: Any) -> None:
    talk("PHAS2:VOLT 1;:PHAS3:VOLT 2;:SOUR:PHAS1:VOLT 3")
    assert demo.volts == {1: 3.0, 2: 1.0, 3: 2.0}
    assert drain_errors(talk) == []


def test_common_commands_keep_the_path(talk: Talk, demo: Any) -> None:
    talk("PHAS2:VOLT 1;*CLS;CURR 3;*ESE 0;VOLT?")
    assert demo.amps[2] == 3.0
    assert drain_errors(talk) == []


def test_each_message_starts_at_the_root(talk: Talk) -> None:
    talk("PHAS2:VOLT 1")
    talk("CURR 3")
    assert drain_errors(talk) == [-113]


def test_keywords_case_insensitive_long_or_exact_short(talk: Talk, demo: Any) -> None:
    talk("source:phase1:voltage:level:immediate:amplitude 12")
    assert demo.volts[1] == 12.0
    talk("Sour:Phas1:Volt:Lev 13")
    assert demo.volts[1] == 13.0
    talk("SOURC:PHAS1:VOLT 1")
    talk("PHAS1:VOLTA 1")
    talk("PHAS1:VOLTAGES 1")
    assert demo.volts[1] == 13.0
    assert drain_errors(talk) == [-113, -113, -113]


def test_optional_nodes(talk: Talk) -> None:
    assert talk("SOUR:PHAS1:VOLT 4;:PHAS1:VOLT:LEV:IMM:AMPL?;:SOUR:PHAS1:VOLT:AMPL?") == (
        "+4.00000000E+00;+4.00000000E+00\n"
    )


def test_missing_suffix_means_one(talk: Talk, demo: Any) -> None:
    talk("PHAS:VOLT 5;:CHAN:GAIN 2")
    assert demo.volts[1] == 5.0
    assert demo.gain == {1: 2.0}
    assert talk("PHASE:VOLT?") == "+5.00000000E+00\n"


def test_suffix_out_of_range_or_not_allowed(talk: Talk, demo: Any) -> None:
    talk("PHAS4:VOLT 1")
    talk("PHAS0:VOLT 1")
    talk("HARM:AMPL 5")  # missing suffix = 1, below 2..50
    talk("HARM51:AMPL 5")
    talk("OUTP2 ON")  # OUTPut takes no suffix
    talk("HARM50:AMPL 5")
    assert demo.harmonics == {50: 5.0}
    assert drain_errors(talk) == [-114, -114, -114, -114, -113]


def test_min_max_def_and_their_queries(talk: Talk) -> None:
    assert talk("PHAS1:VOLT MAX;VOLT?") == "+1.00800000E+03\n"
    assert talk("FREQ MIN;FREQ?") == "+4.50000000E+01\n"
    assert talk("COUN 3;COUN DEF;COUN?") == "7\n"
    assert talk("PHAS1:VOLT? MIN;:FREQ? MAX;:COUN? MAX;:PHAS2:CURR? MAX") == (
        "+0.00000000E+00;+6.50000000E+01;100;+1.20000000E+02\n"
    )
    talk("OUTP? MAX")  # a boolean has no maximum
    assert drain_errors(talk) == [-224]


def test_booleans_queried_as_0_1(talk: Talk) -> None:
    assert talk("OUTP ON;OUTP?;OUTP OFF;OUTP?;OUTP 1;OUTP?;OUTP 0;OUTP?;:OUTP:STAT ON;STAT?") == "1;0;1;0;1\n"


def test_numbers_with_units(talk: Talk) -> None:
    assert talk("PHAS1:VOLT 500 mV;VOLT?") == "+5.00000000E-01\n"
    assert talk("PHAS1:VOLT 2.3E2;VOLT?") == "+2.30000000E+02\n"
    assert talk("FREQ 0.055KHZ;FREQ?") == "+5.50000000E+01\n"
    talk("PHAS1:CURR 5 V")
    assert drain_errors(talk) == [-131]


def test_strings_keep_separators_and_quotes(talk: Talk, demo: Any) -> None:
    assert talk('LAB "a;b,c";LAB?') == '"a;b,c"\n'
    talk("LAB 'it''s'")
    assert demo.label == "it's"
    talk("RAW (@1,2),x")
    assert demo.calls[-1] == ("RAW", "(@1,2)", "x")


def test_optional_parameter_omitted(talk: Talk, demo: Any) -> None:
    talk("CHAN3:GAIN")
    assert demo.gain == {3: 1.0}


# -- errors ---------------------------------------------------------------------------------------
def test_each_error_code(talk: Talk, demo: Any) -> None:
    cases = [
        ("MEAS:VOLT", -100),  # query-only header used as a command
        ("*IDN", -100),
        ("BUSY?", -100),  # command-only header used as a query
        ("PHAS1::VOLT 1", -102),
        ("PHAS1:VOLT 1,,2", -102),
        ("OUTP ON;;OUTP OFF", -102),
        ("MODE 5", -104),
        ("PHAS1:VOLT ON", -104),
        ("OUTP ON,1", -108),
        ("OUTP", -109),
        ("NOSUCH 1", -113),
        ("PHAS9:VOLT 1", -114),
        ("PHAS1:VOLT 5 A", -131),
        ("PHAS1:VOLT 2000", -222),
        ("LIM 11", -222),  # the handler's ValueError (physics refusing)
        ("MODE FAST", -224),
        ("PUSH -241", -241),  # a handler raising ScpiError
        ("CRAS", -300),  # a handler bug
        ("CRAS?", -300),
    ]
    for message, code in cases:
        talk(message)
        assert drain_errors(talk) == [code], message


def test_error_in_one_unit_does_not_stop_the_others(talk: Talk, demo: Any) -> None:
    assert talk("OUTP ON;BOGUS?;OUTP?;*IDN?") == f"1;{IDN}\n"
    assert drain_errors(talk) == [-113]


def test_queue_fifo_and_no_error(talk: Talk) -> None:
    assert talk("SYST:ERR?") == '0,"No error"\n'
    talk("NOSUCH")
    talk("PHAS1:VOLT 2000")
    talk("MODE FAST")
    assert talk("SYST:ERR:COUN?") == "3\n"
    assert talk("SYST:ERR?") == '-113,"Undefined header;NOSUCH"\n'
    assert talk("SYST:ERR:NEXT?") == '-222,"Data out of range"\n'
    assert talk("SYST:ERR?").startswith("-224,")
    assert talk("SYST:ERR?") == '0,"No error"\n'


def test_queue_overflow_replaces_last_entry(talk: Talk, demo: Any) -> None:
    assert demo.error_queue_size == 5
    for code in (-221, -222, -223, -224, -225, -226, -230):
        talk(f"PUSH {code}")
    assert drain_errors(talk) == [-221, -222, -223, -224, -350]


def test_input_buffer_is_capped(demo: Any, out: Any) -> None:
    s = demo.new_session()
    chunk = b"A" * (64 * 1024)
    for _ in range(MAX_INPUT // len(chunk) + 4):  # over 1 MiB without a terminator
        s.data_received(chunk, out)
        assert len(s._buf) <= MAX_INPUT
    s.data_received(b"tail of the long line\n*IDN?\n", out)
    assert out.take() == IDN + "\n"
    assert demo.errors == [(-363, "Input buffer overrun")]


def test_query_interrupted_when_previous_reply_unread(demo: Any, out: Any) -> None:
    s = demo.new_session()
    s.data_received(b"*IDN?\n", out)
    out.unread = True  # the client has not taken the reply
    s.data_received(b"OUTP?\n", out)
    assert out.discarded == 1
    assert demo.errors[0][0] == -410
    assert out.take().endswith("0\n")  # the new query is answered


def test_query_unterminated_at_eof(demo: Any, out: Any) -> None:
    s = demo.new_session()
    s.data_received(b"OUTP ON;OUTP?", out)
    s.eof_received(out)
    assert out.data == b""
    assert demo.out is False  # the message with the query is not executed
    assert [c for c, _ in demo.errors] == [-420]
    s2 = demo.new_session()  # a command without a query is ended by EOF like by END
    s2.data_received(b"OUTP ON", out)
    s2.eof_received(out)
    assert demo.out is True


# -- status model ---------------------------------------------------------------------------------
def test_esr_bits_per_error_class_and_read_clears(talk: Talk) -> None:
    assert talk("*ESR?") == "0\n"
    for code, bit in ((-102, 5), (-222, 4), (-310, 3), (-410, 2)):
        talk(f"PUSH {code}")
        assert talk("*ESR?") == f"{1 << bit}\n"
        assert talk("*ESR?") == "0\n"


def test_cls_clears_queue_and_esr(talk: Talk) -> None:
    talk("NOSUCH;PUSH -222")
    talk("*CLS")
    assert talk("*ESR?;SYST:ERR:COUN?") == "0;0\n"


def test_stb_eav_esb_mss_mav(talk: Talk) -> None:
    assert talk("*STB?") == "0\n"
    talk("NOSUCH")  # error queued (EAV) and ESR.CME set
    assert int(talk("*STB?")) == 0x04  # ESB needs ESE
    talk("*ESE 32")
    assert int(talk("*STB?")) == 0x04 | 0x20
    talk("*SRE 32")
    assert int(talk("*STB?")) == 0x04 | 0x20 | 0x40
    assert talk("*IDN?;*STB?") == f"{IDN};{0x04 | 0x20 | 0x40 | 0x10}\n"  # a reply is waiting: MAV
    assert talk("*SRE 255;*SRE?") == "191\n"  # bit 6 of the SRE is ignored
    talk("*CLS")
    assert talk("*STB?") == "0\n"


def test_opc_sets_esr_bit_0_when_operations_complete(talk: Talk, demo: Any) -> None:
    talk("*OPC")
    assert talk("*ESR?") == "1\n"
    talk("BUSY;*OPC")
    assert talk("*ESR?") == "0\n"
    demo.finish()
    assert talk("*ESR?") == "1\n"


def test_opc_query_is_deferred_until_operations_complete(demo: Any, out: Any) -> None:
    s = demo.new_session()
    s.data_received(b"BUSY;*OPC?;OUTP?\n", out)
    s.data_received(b"OUTP ON\nOUTP?\n", out)  # held behind the waiting message
    assert out.data == b""
    assert demo.out is False
    demo.operations_changed()  # still busy: nothing happens
    assert out.data == b""
    demo.finish()
    assert out.take() == "1;0\n1\n"


def test_wai_defers_the_rest(demo: Any, out: Any) -> None:
    s = demo.new_session()
    s.data_received(b"BUSY;*WAI;OUTP ON\n", out)
    assert demo.out is False
    demo.finish()
    assert demo.out is True


def test_opc_query_released_by_another_connection(demo: Any, out: Any) -> None:
    a, b = demo.new_session(), demo.new_session()
    a.data_received(b"BUSY\n*OPC?\n", out)
    assert out.data == b""
    b.data_received(b"DONE\n", out)  # ends the operation on the shared device
    assert out.take() == "1\n"


def test_rst_restores_defaults_outputs_off_keeps_queue(talk: Talk, demo: Any) -> None:
    talk("OUTP ON;:PHAS1:VOLT 100;:MODE CONT;:NOSUCH")
    talk("*RST")
    assert demo.out is False
    assert demo.volts[1] == 0.0
    assert demo.mode == "NORMAL"
    assert drain_errors(talk) == [-113]  # *RST does not clear the error queue (IEEE 488.2 §10.32)


def test_idn_tst_version(talk: Talk) -> None:
    fields = talk("*IDN?").rstrip("\n").split(",")
    assert fields == ["MeterHIL", "Demo", "D0001", "1.0"]
    assert talk("*TST?;:SYST:VERS?") == "0;1999.0\n"


def test_response_headers(talk: Talk) -> None:
    assert talk("HEAD ON;:PHAS2:VOLT?") == ":PHAS2:VOLT +0.00000000E+00\n"
    assert talk("PHAS:VOLT?;*IDN?") == f":PHAS1:VOLT +0.00000000E+00;{IDN}\n"  # common: no header
    assert talk("VERB ON;:SOUR:PHAS3:VOLT:LEV?") == ":SOURCE:PHASE3:VOLTAGE:LEVEL +0.00000000E+00\n"
    assert talk("HEAD OFF;:OUTP?") == "0\n"


def test_error_queue_shared_path_not(demo: Any, out: Any) -> None:
    a, b = demo.new_session(), demo.new_session()
    a.data_received(b"NOSUCH\n", out)
    b.data_received(b"SYST:ERR?\n", out)
    assert out.take().startswith("-113,")
    a.data_received(b"PHAS2:VOLT 1;", out)  # unterminated: a's message is still open
    b.data_received(b"CURR 7\n", out)  # b's path is its own (root): undefined
    a.data_received(b"CURR 3\n", out)
    assert demo.amps == {1: 0.0, 2: 3.0, 3: 0.0}
    assert [c for c, _ in demo.errors] == [-113]


# -- robustness -----------------------------------------------------------------------------------
def test_handler_bug_is_queued_and_the_session_goes_on(talk: Talk) -> None:
    assert talk("CRAS;*IDN?") == IDN + "\n"
    code, text = talk("SYST:ERR?").rstrip("\n").split(",", 1)
    assert code == "-300"
    assert "RuntimeError" in text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.binary(max_size=300), max_size=8))
def test_random_bytes_never_raise(demo: Any, out: Any, chunks: list[bytes]) -> None:
    demo, out = type(demo)(), type(out)()  # fresh per example
    s = demo.new_session()
    for chunk in chunks:
        s.data_received(chunk, out)
    s.data_received(b"\n*IDN?\n", out)
    assert out.data.endswith(IDN.encode() + b"\n")
    assert len(demo.errors) <= demo.error_queue_size


def test_garbage_headers_do_not_grow_the_cache(talk: Talk, demo: Any) -> None:
    for i in range(CACHE_LIMIT + 100):
        talk(f"JUNK{i}X:Y")
    assert len(type(demo)._scpi_tree.cache) <= CACHE_LIMIT
    talk("*CLS")
    assert talk("PHAS1:VOLT?") == "+0.00000000E+00\n"


def test_nul_and_high_bytes_are_errors_not_crashes(demo: Any, out: Any) -> None:
    s = demo.new_session()
    s.data_received(b"\x00\xff\xfe:VOLT 1\nOUTP \x00\n\xff?\n*IDN?\n", out)
    assert out.take() == IDN + "\n"
    assert len(demo.errors) == 3
    assert all(-199 <= c <= -100 for c, _ in demo.errors)


def test_long_garbage_headers_are_not_cached(talk: Talk, demo: Any) -> None:
    cache = type(demo)._scpi_tree.cache
    before = len(cache)
    talk("A" * 100_000 + " 1")
    assert len(cache) == before
    assert drain_errors(talk) == [-112]  # program mnemonic too long
