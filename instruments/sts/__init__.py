"""STS prepayment tokens (IEC 62055-41): encode and decode the 20-digit tokens of classes 0, 1 and 2 with the STA
(EA07) and the decoder keys of DKGA02 and DKGA04. Pure: nothing from the bench.

    >>> from instruments.sts import Token, decode_token, dkga02, encode_token
    >>> key = dkga02(bytes.fromhex("abababababababab"), "600727000000000009", sgc="123456", ti=1, krn=1)
    >>> encode_token(Token.of(0, 0, random=5, tid=5871715, amount=1), key)
    '23716100501183194197'
    >>> decode_token("23716100501183194197", key).fields["amount"]  # tenths of a kWh
    1

See docs/sts.md.
"""

from instruments.sts.amount import MAX_VALUE, decode_amount, encode_amount, from_tenths, round_up, tenths
from instruments.sts.crc import crc16
from instruments.sts.errors import TokenError
from instruments.sts.keys import (
    KeyType,
    derive_decoder_key,
    dkga02,
    dkga04,
    key_hex,
    make_pan,
    parse_decoder_key,
    parse_hex,
    parse_pan,
)
from instruments.sts.sta import decrypt, encrypt
from instruments.sts.tid import (
    BASE_DATES,
    DEFAULT_BASE_DATE,
    TID_MAX,
    datetime_from_tid,
    parse_issued,
    rollover,
    tid_from_datetime,
)
from instruments.sts.token import (
    CLASS_NAMES,
    TOKEN_TYPES,
    Token,
    TokenType,
    data_block,
    decode_token,
    describe,
    encode_token,
    from_66_bits,
    group,
    key_change,
    parse_token,
    to_66_bits,
    token_type,
)

__all__ = [
    "BASE_DATES", "CLASS_NAMES", "DEFAULT_BASE_DATE", "MAX_VALUE", "TID_MAX", "TOKEN_TYPES", "KeyType", "Token",
    "TokenError", "TokenType", "crc16", "data_block", "datetime_from_tid", "decode_amount", "decode_token",
    "decrypt", "derive_decoder_key", "describe", "dkga02", "dkga04", "encode_amount", "encode_token", "encrypt",
    "from_66_bits", "from_tenths", "group", "key_change", "key_hex", "make_pan", "parse_decoder_key", "parse_hex",
    "parse_issued", "parse_pan", "parse_token", "rollover", "round_up", "tenths", "tid_from_datetime", "to_66_bits",
    "token_type",
]
