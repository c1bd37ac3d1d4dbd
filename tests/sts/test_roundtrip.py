"""Property tests: every class/subclass round-trips through the 20 digits with every field over its range; amounts
round up; TIDs, the 66-bit layout and the STA invert exactly; bad input is a TokenError, never another exception."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.sts import (
    BASE_DATES,
    MAX_VALUE,
    TID_MAX,
    TOKEN_TYPES,
    Token,
    TokenError,
    TokenType,
    datetime_from_tid,
    decode_amount,
    decode_token,
    decrypt,
    encode_amount,
    encode_token,
    encrypt,
    from_66_bits,
    from_tenths,
    key_change,
    parse_token,
    rollover,
    round_up,
    tenths,
    tid_from_datetime,
    to_66_bits,
)
from instruments.sts.amount import RANGES

KEYS = st.integers(0, (1 << 64) - 1)
BLOCKS = st.integers(0, (1 << 64) - 1)
TYPES = sorted(TOKEN_TYPES)


@st.composite
def tokens(draw: st.DrawFn, t: TokenType) -> Token:
    fields = {}
    for f in t.fields:
        if f.amount:  # any of the 65536 amount fields: a representable value
            fields[f.name] = decode_amount(draw(st.integers(0, 0xFFFF)))
        else:
            fields[f.name] = draw(st.integers(f.lowest, f.maximum))
    return Token(t.token_class, t.subclass, fields)


@pytest.mark.parametrize("kind", TYPES, ids=[TOKEN_TYPES[k].name for k in TYPES])
@settings(max_examples=150, deadline=None)
@given(data=st.data(), key=KEYS)
def test_every_class_and_subclass_round_trips(kind: tuple[int, int], data: st.DataObject, key: int) -> None:
    token = data.draw(tokens(TOKEN_TYPES[kind]))
    digits = encode_token(token, key)
    assert len(digits) == 20 and digits.isdigit() and int(digits) < 1 << 66
    assert decode_token(digits, key) == token
    assert decode_token("-".join(digits[i:i + 4] for i in range(0, 20, 4)), key) == token


@settings(max_examples=300, deadline=None)
@given(key=KEYS, subclass=st.integers(0, 3), value=st.integers(0, MAX_VALUE), tid=st.integers(0, TID_MAX),
       random=st.integers(0, 15))
def test_any_amount_is_carried_rounded_up_to_the_next_representable(key: int, subclass: int, value: int, tid: int,
                                                                    random: int) -> None:
    carried = decode_token(encode_token(Token.of(0, subclass, random=random, tid=tid, amount=value), key), key)
    up = carried.fields["amount"]
    assert up == round_up(value) >= value
    step = next(s for low, s in reversed(RANGES) if up >= low)
    assert up - value < step  # never more than one step of its range
    assert round_up(up) == up


@given(field=st.integers(0, 0xFFFF))
def test_every_amount_field_is_its_own_encoding(field: int) -> None:
    assert encode_amount(decode_amount(field)) == field


@given(a=st.integers(0, MAX_VALUE), b=st.integers(0, MAX_VALUE))
def test_rounding_up_is_monotonic(a: int, b: int) -> None:
    if a <= b:
        assert round_up(a) <= round_up(b)


@given(units=st.integers(0, MAX_VALUE))
def test_kwh_text_and_tenths_agree(units: int) -> None:
    assert tenths(str(from_tenths(units))) == units


@given(base_date=st.sampled_from(sorted(BASE_DATES)), tid=st.integers(0, TID_MAX), seconds=st.integers(0, 59))
def test_tid_and_issue_minute_invert(base_date: int, tid: int, seconds: int) -> None:
    when = datetime_from_tid(tid, base_date)
    assert tid_from_datetime(when + dt.timedelta(seconds=seconds), base_date) == tid
    aware = (when + dt.timedelta(hours=2)).replace(tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert tid_from_datetime(aware, base_date) == tid  # an aware time is taken in UTC


@given(base_date=st.sampled_from(sorted(BASE_DATES)), minutes=st.integers(1, 10**7))
def test_times_outside_the_base_date_are_refused(base_date: int, minutes: int) -> None:
    with pytest.raises(TokenError, match=r"^issued: .*before the base date"):
        tid_from_datetime(BASE_DATES[base_date] - dt.timedelta(minutes=minutes), base_date)
    with pytest.raises(TokenError, match=r"^issued: .*rolled over"):
        tid_from_datetime(rollover(base_date) + dt.timedelta(minutes=minutes - 1), base_date)


@given(token_class=st.integers(0, 3), block=BLOCKS)
def test_the_class_bits_and_the_block_make_the_66_bits(token_class: int, block: int) -> None:
    number = to_66_bits(token_class, block)
    assert 0 <= number < 1 << 66
    assert from_66_bits(number) == (token_class, block)


@given(number=st.integers(0, (1 << 66) - 1))
def test_every_66_bit_number_is_a_class_and_a_block(number: int) -> None:
    assert to_66_bits(*from_66_bits(number)) == number


@settings(max_examples=500)
@given(block=BLOCKS, key=KEYS)
def test_sta_decrypts_what_it_encrypts(block: int, key: int) -> None:
    assert decrypt(encrypt(block, key), key) == block
    assert encrypt(decrypt(block, key), key) == block


@settings(max_examples=100, deadline=None)
@given(new_key=KEYS, old_key=KEYS, krn=st.integers(1, 9), key_type=st.integers(0, 3), ti=st.integers(0, 99),
       ken=st.integers(0, 255), roll=st.booleans())
def test_key_change_tokens_carry_the_whole_new_key(new_key: int, old_key: int, krn: int, key_type: int, ti: int,
                                                   ken: int, roll: bool) -> None:
    first, second = (decode_token(encode_token(t, old_key), old_key)
                     for t in key_change(new_key, krn=krn, key_type=key_type, tariff_index=ti, ken=ken,
                                         rollover=roll))
    assert first.fields["new_key_high"] << 32 | second.fields["new_key_low"] == new_key
    assert first.fields["ken_high"] << 4 | second.fields["ken_low"] == ken
    assert (first.fields["krn"], first.fields["key_type"], first.fields["rollover"]) == (krn, key_type, int(roll))
    assert second.fields["tariff_index"] == ti


@settings(max_examples=500)
@given(number=st.integers(0, (1 << 66) - 1), key=KEYS)
def test_any_token_number_decodes_or_says_why(number: int, key: int) -> None:
    """Never a traceback: a random token decodes (rarely: 1 in 65536 passes the CRC), or is a TokenError."""
    try:
        decode_token(f"{number:020d}", key)
    except TokenError as exc:
        assert exc.field in {"token", "class", "subclass"}


@given(text=st.text(max_size=30))
def test_any_text_is_a_token_number_or_a_token_error(text: str) -> None:
    try:
        number = parse_token(text)
    except TokenError as exc:
        assert exc.field == "token"
    else:
        assert 0 <= number < 1 << 66


@pytest.mark.parametrize("kind", TYPES, ids=[TOKEN_TYPES[k].name for k in TYPES])
@given(data=st.data())
def test_a_field_beyond_its_range_is_a_token_error_naming_it(kind: tuple[int, int], data: st.DataObject) -> None:
    t = TOKEN_TYPES[kind]
    token = data.draw(tokens(t))
    f = data.draw(st.sampled_from(t.fields))
    bad = data.draw(st.one_of(st.integers(max_value=f.lowest - 1), st.integers(min_value=f.maximum + 1)))
    with pytest.raises(TokenError) as exc:
        encode_token(Token(t.token_class, t.subclass, {**token.fields, f.name: bad}), 0x0123456789ABCDEF)
    assert exc.value.field == f.name
