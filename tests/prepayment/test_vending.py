"""The lab's vending (hil.vending) and the bench file's STS key data: TIDs by hand from the base date (minutes since
1993-01-01 / 2014-01-01, IEC 62055-41), one token per minute at most, refusals that name what is wrong."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from hil.benchfile import StsKeys
from hil.vending import Vending, other_meter_key
from instruments.sts import decode_token, dkga02

PAN = "600727000000000009"  # the STS example PAN (docs/sts.md), Luhn digit 9
KEYS = StsKeys(pan=PAN, sgc="123456", ti=1, krn=1, key_type=2, base_date=2014, ken=255,
               vending_key="abababababababab")


def _minutes(when: dt.datetime, base: dt.datetime) -> int:
    return int((when - base).total_seconds() // 60)


def test_the_decoder_key_is_dkga02_of_the_bench_file_data() -> None:
    v = Vending.of(KEYS)
    assert v.decoder_key == dkga02(bytes.fromhex("abababababababab"), PAN, sgc="123456", ti=1, krn=1)


def test_tids_count_minutes_from_the_base_date_and_never_repeat() -> None:
    v = Vending.of(KEYS)
    when = dt.datetime(2026, 1, 5, 6, 0, 30)
    want = _minutes(when, dt.datetime(2014, 1, 1))
    tokens = [v.credit(1, when, random=i) for i in range(3)]  # three tokens in one minute
    tids = [decode_token(t, v.decoder_key)["tid"] for t in tokens]
    assert tids == [want, want + 1, want + 2]
    assert decode_token(tokens[0], v.decoder_key)["amount"] == 10  # 1 kWh in tenths


def test_a_meter_on_base_date_1993_gets_no_token_after_the_rollover() -> None:
    v = Vending.of(KEYS.model_copy(update={"base_date": 1993}))
    last = dt.datetime(2024, 11, 24, 20, 15)
    assert decode_token(v.credit(1, last), v.decoder_key)["tid"] == 2**24 - 1
    with pytest.raises(ValueError, match="run the key change to the next base date first"):
        v.credit(1, dt.datetime(2026, 1, 5))


def test_a_key_change_moves_the_vending_to_the_new_key_and_base_date() -> None:
    v = Vending.of(KEYS.model_copy(update={"base_date": 1993}))
    first, second, new_key, base = v.key_change_tokens(2, roll=True, ken=120)
    assert base == 2014
    one, two = decode_token(first, v.decoder_key), decode_token(second, v.decoder_key)
    assert (one["krn"], one["rollover"], one["ken_high"], two["ken_low"]) == (2, 1, 120 >> 4, 120 & 15)
    assert one["new_key_high"] << 32 | two["new_key_low"] == new_key
    assert new_key == dkga02(bytes.fromhex("abababababababab"), PAN, sgc="123456", ti=1, krn=2)
    v.key_changed(new_key, 2, base, 120)
    rollover = dt.datetime(2024, 11, 24, 20, 16)
    token = decode_token(v.credit(1, rollover), new_key)
    assert token["tid"] == _minutes(rollover, dt.datetime(2014, 1, 1))
    with pytest.raises(ValueError, match="expiry"):  # TID top 8 bits 121 > KEN 120
        v.credit(1, dt.datetime(2014, 1, 1) + dt.timedelta(minutes=121 << 16))


def test_tokens_for_another_meter_need_the_vending_key() -> None:
    other = other_meter_key(KEYS, 1, 2014, sgc="654321")
    assert other == dkga02(bytes.fromhex("abababababababab"), PAN, sgc="654321", ti=1, krn=1)
    only_key = StsKeys(pan=PAN, sgc="123456", ti=1, krn=1, decoder_key=f"{other:016x}")
    with pytest.raises(ValueError, match="vending key"):
        other_meter_key(only_key, 1, 2014, sgc="000001")
    v = Vending.of(only_key)
    assert v.decoder_key == other
    with pytest.raises(ValueError, match="no key for another key revision"):
        v.key_change_tokens(2, roll=False)


@pytest.mark.parametrize(("change", "field"), [
    ({"pan": "60072700000000000"}, "pan"),
    ({"sgc": "12345"}, "sgc"),
    ({"krn": 0}, "krn"),
    ({"decoder_key": "00" * 8}, "exactly one of vending_key and decoder_key"),
    ({"vending_key": "abab"}, "vending_key"),
])
def test_bad_key_data_in_the_bench_file_is_refused_by_field(change: dict[str, object], field: str) -> None:
    data = KEYS.model_dump() | change
    with pytest.raises(ValidationError, match=field):
        StsKeys.model_validate(data)
