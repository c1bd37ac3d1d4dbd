"""Bad input to the API is a TokenError (a ValueError) whose message names the field — the same lines the CLI
prints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from instruments.sts import (
    Token,
    TokenError,
    decode_token,
    dkga02,
    dkga04,
    encode_token,
    parse_decoder_key,
    tenths,
    tid_from_datetime,
)

KEY = 0xE653341F9D5BF36F
VK = bytes.fromhex("abababababababab")


@pytest.mark.parametrize(("call", "message"), [
    (lambda: decode_token("2371610050118319419", KEY), "token: 19 digits, a token has 20"),
    (lambda: decode_token("23716100501183194l97", KEY), "token: '23716100501183194l97' has a non-digit 'l'"),
    (lambda: decode_token("", KEY), "token: empty"),
    (lambda: decode_token("73786976294838206464", KEY), "token: 73786976294838206464 is beyond 66 bits"),
    (lambda: decode_token("23716100501183194197", None), "decoder key: class 0 tokens are encrypted"),
    (lambda: decode_token("23716100501183194197", KEY ^ 1), "token: CRC mismatch"),
    (lambda: parse_decoder_key("e653341f9d5bf3"), "decoder key: 14 hex digits, a key has 16 hex digits"),
    (lambda: dkga02(VK[:7], "600727000000000009", "123456", 1, 1), "vending key: 7 bytes, DKGA02 takes an 8-byte"),
    (lambda: dkga02(VK, "600727000000000009", "123456", 100, 1), "ti: 100 is not a tariff index 0 … 99"),
    (lambda: dkga02(VK, "600727000000000009", "123456", 1, 0), "krn: 0 is not a key revision number 1 … 9"),
    (lambda: dkga02(VK, "600727000000000009", "123456", 1, 1, 4), "key type: 4 is not 0 … 3"),
    (lambda: dkga04(VK, "600727000000000009", "123456", 1, 1, 2, 2000), "base date: 2000 is not one of"),
    (lambda: tenths("1820162.5"), "amount: 1820162.5 kWh is beyond the range 0 … 1820162.4 kWh"),
    (lambda: encode_token(Token.of(0, 0, random=5, tid=0, amount=18201625), KEY),
     "amount: 18201625 × 0.1 kWh is beyond the range 0 … 18201624 × 0.1 kWh"),
    (lambda: encode_token(Token.of(0, 0, random=5, tid=0), KEY), "amount: missing"),
    (lambda: encode_token(Token.of(0, 0, random=5, tid=0, amount=1, register=1), KEY),
     "register: is not a field of TransferCredit Electricity tokens"),
    (lambda: tid_from_datetime(dt.datetime(1992, 12, 31, 23, 59), 1993),
     "issued: 1992-12-31T23:59 is before the base date 1993-01-01"),
    (lambda: tid_from_datetime(dt.datetime(2013, 12, 31), 2014), "issued: 2013-12-31T00:00 is before the base date"),
])
def test_bad_input_is_a_token_error_naming_the_field(call: Callable[[], object], message: str) -> None:
    with pytest.raises(TokenError) as exc:
        call()
    assert str(exc.value).startswith(message)
    assert isinstance(exc.value, ValueError)
