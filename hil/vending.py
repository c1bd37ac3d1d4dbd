"""The lab's vending of STS tokens for one payment meter: its key data from the bench file, the decoder key, and
issue times that make every token's TID larger than the last (IEC 62055-41: a decoder refuses a TID it has seen
or one older than those it remembers, so a vending system never issues two tokens in one minute to a meter).

A key change the meter accepted moves the vending to the new key (:meth:`Vending.key_changed`) for the rest of
the run — as a vending system records the meter's new key revision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hil.benchfile import StsKeys
from instruments.sts import (
    BASE_DATES,
    TID_MAX,
    Token,
    TokenError,
    derive_decoder_key,
    encode_token,
    key_change,
    parse_decoder_key,
    rollover,
    tid_from_datetime,
)
from instruments.sts.amount import tenths


@dataclass
class Vending:
    keys: StsKeys
    decoder_key: int
    base_date: int
    krn: int
    ken: int
    #: the TID of the last token issued (−1: none yet)
    last_tid: int = -1

    @classmethod
    def of(cls, keys: StsKeys) -> Vending:
        return cls(keys, _decoder_key(keys, keys.krn, keys.base_date), keys.base_date, keys.krn, keys.ken)

    # -- TIDs --------------------------------------------------------------------------------------
    def tid(self, when: dt.datetime) -> int:
        """The TID of a token issued at ``when`` — or the next minute after the last one issued."""
        try:
            tid = tid_from_datetime(when, self.base_date)
        except TokenError as exc:
            raise TokenError("issued", f"{exc.reason}; the meter is on base date {self.base_date}"
                             + (" — run the key change to the next base date first" if when.replace(tzinfo=None)
                                >= rollover(self.base_date) else "")) from None
        tid = max(tid, self.last_tid + 1)
        if tid > TID_MAX:
            raise TokenError("issued", f"no TID left on base date {self.base_date}")
        return tid

    def _issue(self, token: Token, key: int | None = None, expiry: int | None = None,
               track: bool = True) -> str:
        """``track``: the TID counts as issued (False for a test token with a TID chosen by hand)."""
        text = encode_token(token, self.decoder_key if key is None else key,
                            key_expiry=self.ken if expiry is None else expiry)
        if "tid" in token.fields and track:
            self.last_tid = max(self.last_tid, token["tid"])
        return text

    def seen(self, token: str) -> None:
        """A token the meter took (its last one): later TIDs are issued past its TID, if it has one under the
        present key."""
        from instruments.sts import decode_token

        if not token:
            return
        try:
            t = decode_token(token, self.decoder_key)
        except TokenError:
            return  # another key's, or not a token: nothing to learn
        if "tid" in t.fields:
            self.last_tid = max(self.last_tid, t["tid"])

    # -- tokens ------------------------------------------------------------------------------------
    def credit(self, kwh: float | str, when: dt.datetime, random: int = 0, *, key: int | None = None,
               tid: int | None = None, expiry: int | None = None, subclass: int = 0) -> str:
        """A TransferCredit token of ``kwh`` (tenths of a kWh, rounded up as the codec does)."""
        amount = tenths(str(kwh))
        token = Token.of(0, subclass, random=random, tid=self.tid(when) if tid is None else tid, amount=amount)
        return self._issue(token, key, expiry, track=tid is None)

    def clear_credit(self, when: dt.datetime, random: int = 0) -> str:
        return self._issue(Token.of(2, 1, random=random, tid=self.tid(when), register=0xFFFF))

    def key_change_tokens(self, krn: int, roll: bool, ken: int | None = None) -> tuple[str, str, int, int]:
        """The two key change tokens to key revision ``krn`` (on the next base date when ``roll``), encrypted with
        the present key; with the new decoder key and its base date."""
        base = self.base_date
        if roll:
            later = [b for b in BASE_DATES if b > base]
            if not later:
                raise TokenError("base date", f"no base date after {base}")
            base = later[0]
        new_key = _decoder_key(self.keys, krn, base)
        first, second = key_change(new_key, krn=krn, key_type=self.keys.key_type, tariff_index=self.keys.ti,
                                   ken=self.ken if ken is None else ken, rollover=roll)
        return self._issue(first), self._issue(second), new_key, base

    def key_changed(self, new_key: int, krn: int, base_date: int, ken: int | None = None) -> None:
        """The meter took the key change: from now on tokens are made with the new key and base date."""
        if base_date != self.base_date:
            self.last_tid = -1  # TIDs start again on the new base date
        self.decoder_key, self.krn, self.base_date = new_key, krn, base_date
        if ken is not None:
            self.ken = ken


def _decoder_key(keys: StsKeys, krn: int, base_date: int) -> int:
    if keys.decoder_key is not None:
        if krn != keys.krn or base_date != keys.base_date:
            raise TokenError("decoder key", "the bench file gives the decoder key, not the vending key: no key for "
                                            f"another key revision or base date can be derived (KRN {krn})")
        return parse_decoder_key(keys.decoder_key)
    assert keys.vending_key is not None
    return derive_decoder_key(bytes.fromhex(keys.vending_key), keys.pan, keys.sgc, keys.ti, krn, keys.key_type,
                              base_date)


def other_meter_key(keys: StsKeys, krn: int, base_date: int, *, pan: str | None = None, sgc: str | None = None,
                    vending_key: str | None = None) -> int:
    """The decoder key of another meter, supply group or vending key (for tokens the meter must refuse)."""
    if keys.vending_key is None:
        raise TokenError("vending key", "tokens for another meter need the vending key in the bench file")
    other = keys.model_copy(update={k: v for k, v in (("pan", pan), ("sgc", sgc), ("vending_key", vending_key))
                                    if v is not None})
    return _decoder_key(other, krn, base_date)
