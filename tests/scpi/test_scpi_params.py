"""Program data elements → values (IEEE 488.2 §7.7), response formatting (§8.7), pattern declarations."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from instruments.scpi import Any_, Bool, Choice, Int, Num, ScpiDevice, ScpiError, Str, scpi
from instruments.scpi.errors import esr_bit, standard_message
from instruments.scpi.response import format_value
from instruments.scpi.tree import parse_pattern


def code_of(fn: Any) -> int:
    with pytest.raises(ScpiError) as info:
        fn()
    return info.value.code


# -- numbers --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("token", "value"),
    [("230", 230.0), ("230.", 230.0), ("+.5", 0.5), ("-12.25", -12.25), ("2.3E2", 230.0), ("2.3e+2", 230.0),
     ("1E-3", 0.001), ("-4.5E-01", -0.45), ("7 E 1", 70.0)],
)  # fmt: skip
def test_num_accepts_nr1_nr2_nr3(token: str, value: float) -> None:
    assert Num().convert(token, None) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize(
    ("unit", "token", "value"),
    [("V", "230V", 230.0), ("V", "230 v", 230.0), ("V", "500 mV", 0.5), ("A", "500 mA", 0.5), ("A", "5 uA", 5e-6),
     ("A", "2KA", 2000.0), ("HZ", "1.5KHZ", 1500.0), ("HZ", "50 Hz", 50.0), ("HZ", "1 MHZ", 1e6),
     ("V", "1MAV", 1e6), ("S", "250 ms", 0.25), ("W", "3 GW", 3e9)],
)  # fmt: skip
def test_num_units_with_si_multipliers(unit: str, token: str, value: float) -> None:
    # IEEE 488.2 §7.7.3: suffixes are case-insensitive, M = milli, MA = mega; SCPI: MHZ = megahertz
    assert Num(unit).convert(token, None) == pytest.approx(value, rel=1e-12)


def test_num_wrong_or_unexpected_suffix() -> None:
    assert code_of(lambda: Num("A").convert("5V", None)) == -131
    assert code_of(lambda: Num("A").convert("5 VA", None)) == -131
    assert code_of(lambda: Num().convert("5V", None)) == -138


def test_num_min_max_def_and_range() -> None:
    p = Num("V", 0, 1008, 230)
    assert p.convert("MIN", None) == 0.0
    assert p.convert("maximum", None) == 1008.0
    assert p.convert("DEF", None) == 230.0
    assert p.convert("1008", None) == 1008.0
    assert code_of(lambda: p.convert("1008.001", None)) == -222
    assert code_of(lambda: p.convert("-1", None)) == -222
    assert code_of(lambda: Num().convert("MAX", None)) == -224  # no maximum declared


def test_num_bounds_may_come_from_the_device() -> None:
    class Rated:
        max_current = 21.0

    p = Num("A", 0, lambda dev: dev.max_current)
    assert p.convert("MAX", Rated()) == 21.0
    assert p.convert("20.5", Rated()) == 20.5
    assert code_of(lambda: p.convert("21.5", Rated())) == -222


def test_num_wrong_types() -> None:
    assert code_of(lambda: Num().convert('"12"', None)) == -104
    assert code_of(lambda: Num().convert("ABC", None)) == -104
    assert code_of(lambda: Num().convert("1.2.3", None)) == -121
    assert code_of(lambda: Num().convert("1e999", None)) == -123
    assert code_of(lambda: Num().convert("#12abc", None)) == -168  # definite-length block


def test_int_rounds_and_takes_non_decimal_forms() -> None:
    p = Int(0, 100, 7)
    assert p.convert("7", None) == 7
    assert p.convert("7.6", None) == 8
    assert p.convert("#H1F", None) == 31
    assert Int().convert("#hff", None) == 255
    assert p.convert("#B101", None) == 5
    assert p.convert("#Q17", None) == 15
    assert p.convert("MAX", None) == 100
    assert p.convert("DEF", None) == 7
    assert code_of(lambda: p.convert("101", None)) == -222
    assert code_of(lambda: p.convert("#HXYZ", None)) == -121
    assert code_of(lambda: p.convert("3 V", None)) == -138


@pytest.mark.parametrize(("token", "value"), [("ON", True), ("on", True), ("OFF", False), ("1", True),
                                              ("0", False), ("2", True), ("0.4", False)])  # fmt: skip
def test_bool(token: str, value: bool) -> None:
    assert Bool().convert(token, None) is value


def test_bool_rejects() -> None:
    assert code_of(lambda: Bool().convert("MAYBE", None)) == -224
    assert code_of(lambda: Bool().convert('"ON"', None)) == -104


def test_choice_long_short_any_case_to_canonical_long() -> None:
    p = Choice("NORMal", "CONTinuous", "IPKWH")
    assert p.convert("norm", None) == "NORMAL"
    assert p.convert("Normal", None) == "NORMAL"
    assert p.convert("CONT", None) == "CONTINUOUS"
    assert p.convert("ipkwh", None) == "IPKWH"
    assert code_of(lambda: p.convert("NORMA", None)) == -224  # neither long nor exact short form
    assert code_of(lambda: p.convert("5", None)) == -104


def test_str_quotes() -> None:
    assert Str().convert('"a ""b"" c"', None) == 'a "b" c'
    assert Str().convert("'it''s'", None) == "it's"
    assert Str().convert('""', None) == ""
    assert code_of(lambda: Str().convert("abc", None)) == -104
    assert code_of(lambda: Str().convert('"abc', None)) == -151
    assert code_of(lambda: Str().convert('"a"b"', None)) == -151


def test_any_returns_raw_text() -> None:
    assert Any_().convert("(@1,2)", None) == "(@1,2)"


# -- responses ------------------------------------------------------------------------------------
def test_format_value() -> None:
    assert format_value(True) == "1"
    assert format_value(False) == "0"
    assert format_value(-42) == "-42"
    assert format_value(230.0) == "+2.30000000E+02"
    assert format_value(-0.001234) == "-1.23400000E-03"
    assert format_value("RESET") == "RESET"
    assert format_value((1, 2.5, "X")) == "1,+2.50000000E+00,X"
    assert format_value(math.nan) == "9.91E+37"
    assert format_value(math.inf) == "9.9E+37"
    assert format_value(np.int64(3)) == "3"
    assert format_value(np.float32(0.5)) == "+5.00000000E-01"
    with pytest.raises(TypeError):
        format_value(object())


def test_error_texts_and_classes() -> None:
    assert standard_message(-113) == "Undefined header"
    assert standard_message(-215) == "Execution error"  # unlisted code: its class's text
    assert ScpiError(-222).message == "Data out of range"
    assert [esr_bit(c) for c in (-102, -222, -350, -410, 5)] == [32, 16, 8, 4, 8]


# -- declarations ---------------------------------------------------------------------------------
def test_parse_pattern() -> None:
    p = parse_pattern("[SOURce]:PHASe#{1..3}:VOLTage[:LEVel]?")
    assert p.query
    assert [(k.long, k.short, k.optional, k.suffix, k.suffix_range) for k in p.keywords] == [
        ("SOURCE", "SOUR", True, False, None),
        ("PHASE", "PHAS", False, True, (1, 3)),
        ("VOLTAGE", "VOLT", False, False, None),
        ("LEVEL", "LEV", True, False, None),
    ]
    assert parse_pattern("*IDN?").common == "*IDN?"


@pytest.mark.parametrize("bad", ["VOLTage[:LEVel", "[OPTional]", "PHASe1:VOLT", "VOLT-X", "*IDN!"])
def test_malformed_patterns_fail_at_declaration(bad: str) -> None:
    with pytest.raises(ValueError):
        scpi(bad)


def test_handler_signature_checked_at_class_creation() -> None:
    with pytest.raises(TypeError):

        class Bad(ScpiDevice):
            @scpi("PHASe#:VOLTage", Num())
            def voltage(self, volts: float) -> None:  # missing the suffix argument
                pass


def test_colliding_patterns_fail_at_class_creation() -> None:
    with pytest.raises(ValueError):

        class Bad(ScpiDevice):
            @scpi("[SOURce]:FREQuency", Num())
            def a(self, hz: float) -> None:
                pass

            @scpi("FREQuency", Num())
            def b(self, hz: float) -> None:
                pass


def test_subclass_overrides_handler() -> None:
    class Base(ScpiDevice):
        @scpi("VALue?")
        def value_q(self) -> int:
            return 1

        @scpi("OTHer?")
        def other_q(self) -> int:
            return 10

    class Derived(Base):
        @scpi("VALue?")
        def value2_q(self) -> int:
            return 2

        def other_q(self) -> int:  # plain override keeps the base's declaration
            return 20

    class Out:
        data = b""

        def write(self, d: bytes) -> None:
            self.data += d

        def pending(self) -> bool:
            return False

        def discard(self) -> None:
            pass

    out = Out()
    Derived().new_session().data_received(b"VAL?;:OTH?\n", out)
    assert out.data == b"2;20\n"
