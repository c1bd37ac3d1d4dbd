"""The STS decoder of a simulated payment meter: token acceptance (IEC 62055-41 clause 6 "token validation" and the
key change of 6.1; facts and their status in docs/sts.md and docs/prepayment.md).

A token is taken through the checks a decoder makes, in this order, and the first that fails is the result:

1. format: 20 decimal digits, at most 66 bits (token_status 4, format failure);
2. authentication: decrypted with the meter's decoder key, the CRC must hold — a token for another meter, made
   with another vending key, supply group, tariff index or key revision, or with a mistyped digit fails here, and
   the decoder cannot tell which (status 5);
3. validation (status 6): a token type this meter takes (electricity credit, test/display, the meter-specific
   engineering tokens); a TID not past the key's expiry number (KEN); a TID not in the memory of the most recent
   TIDs ("used") and not older than the oldest it holds ("old"; U: whether a decoder whose memory is not yet full
   applies this is the maker's choice — ours does, so tokens are taken in the order they were issued);
4. execution (status 7): the credit register must hold the amount.

Key change: the two sections (class 2 subclasses 3 and 4) may come in either order (U); the new key takes effect
when both are in, with the new KRN, key type, tariff index and KEN, and — if the rollover bit is set — the next
base date, with the TID memory cleared (the old base date's TIDs mean nothing on the new one; U). Tokens of the
old key fail authentication from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

from instruments.sts import (
    BASE_DATES,
    Token,
    TokenError,
    decode_token,
    derive_decoder_key,
    make_pan,
)
from instruments.sts.amount import from_tenths


class TokenStatus(IntEnum):
    """Token gateway token_status.status_code (DLMS UA Blue Book, IC 115; U: from one implementation)."""

    FORMAT_OK = 0
    AUTHENTICATION_OK = 1
    VALIDATION_OK = 2
    EXECUTION_OK = 3
    FORMAT_FAILURE = 4
    AUTHENTICATION_FAILURE = 5
    VALIDATION_FAILURE = 6
    EXECUTION_FAILURE = 7
    NOT_YET_PROCESSED = 8


class Reason(Enum):
    """Why a token was refused, or what it did. ``bit``: its place in token_status.data_value (our numbering, U:
    the Blue Book leaves data_value to the token type), 0 when accepted."""

    ACCEPTED = ("accepted", TokenStatus.EXECUTION_OK, 0)
    KEY_SECTION_STORED = ("key change: section stored, waiting for the other", TokenStatus.EXECUTION_OK, 0)
    FORMAT = ("not a token: 20 digits of at most 66 bits", TokenStatus.FORMAT_FAILURE, 1)
    AUTHENTICATION = ("CRC mismatch under this meter's decoder key (another meter, key, supply group or a "
                      "mistyped digit)", TokenStatus.AUTHENTICATION_FAILURE, 2)
    TOKEN_TYPE = ("a token type this meter does not take", TokenStatus.VALIDATION_FAILURE, 3)
    KEY_EXPIRED = ("the TID is past the decoder key's expiry number", TokenStatus.VALIDATION_FAILURE, 4)
    USED = ("already used: the TID is in the decoder's memory", TokenStatus.VALIDATION_FAILURE, 5)
    OLD = ("older than every TID the decoder remembers", TokenStatus.VALIDATION_FAILURE, 6)
    OVERFLOW = ("the credit would exceed the meter's maximum", TokenStatus.EXECUTION_FAILURE, 7)

    def __init__(self, text: str, status: TokenStatus, bit: int) -> None:
        self.text = text
        self.status = status
        self.bit = bit

    @property
    def accepted(self) -> bool:
        return self.status is TokenStatus.EXECUTION_OK


#: the token types a payment meter for electricity takes: credit (0/0), test/display (1/0, 1/1), the
#: meter-specific engineering tokens (2/0 … 2/6); water, gas and time credit, and the water factor, are refused
ACCEPTED_TYPES = frozenset({(0, 0), (1, 0), (1, 1), *((2, s) for s in range(7))})


@dataclass(frozen=True)
class KeyData:
    """What the decoder key is derived from (and what a key change replaces)."""

    vending_key: bytes
    pan: str
    sgc: str
    ti: int
    krn: int
    key_type: int
    base_date: int
    ken: int

    def decoder_key(self) -> int:
        return derive_decoder_key(self.vending_key, self.pan, self.sgc, self.ti, self.krn, self.key_type,
                                  self.base_date)


def _refusal(exc: TokenError) -> Reason:
    """The codec's error as the decoder's check that failed."""
    if exc.field in ("class", "subclass"):
        return Reason.TOKEN_TYPE
    return Reason.AUTHENTICATION if exc.reason.startswith("CRC") else Reason.FORMAT


def pan_of(iin: str, drn: str | None, serial: str) -> str:
    """The 18-digit PAN: IIN ‖ DRN ‖ Luhn digit; a missing DRN is the serial's digits, zero-padded on the left."""
    if drn is None:
        width = 11 if iin == "600727" else 13
        drn = "".join(ch for ch in serial if ch.isdigit())[-width:].rjust(width, "0")
    return make_pan(iin, drn)


@dataclass
class TokenRecord:
    """One token entry: what was entered, when (meter clock, UTC POSIX), how, and the result."""

    text: str
    posix: float
    method: str
    reason: Reason
    token: Token | None = None
    credit_kwh: float = 0.0

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"token": self.text, "posix": self.posix, "method": self.method,
                               "result": self.reason.name.lower(), "status": int(self.reason.status)}
        if self.token is not None:
            out.update({"class": self.token.token_class, "subclass": self.token.subclass})
            if "tid" in self.token.fields:
                out["tid"] = self.token["tid"]
        if self.credit_kwh:
            out["credit_kwh"] = self.credit_kwh
        return out


@dataclass
class Decoder:
    """Decoder key, TID memory and the half of a key change already entered. ``execute`` carries out an accepted
    token (credit, clear credit, power limit, …) and says whether it could (False: overflow)."""

    keys: KeyData
    memory_depth: int
    execute: Callable[[Token], Reason]
    accepts_replays: bool = False
    ignores_rollover: bool = False
    tids: list[int] = field(default_factory=list)
    #: the first or second key change section, decrypted, waiting for its other half
    pending: dict[int, Token] = field(default_factory=dict)
    history: list[TokenRecord] = field(default_factory=list)
    key_changes: int = 0

    def __post_init__(self) -> None:
        self._key = self.keys.decoder_key()

    @property
    def decoder_key(self) -> int:
        return self._key

    @property
    def last(self) -> TokenRecord | None:
        return self.history[-1] if self.history else None

    def enter(self, text: str, posix: float, method: str) -> TokenRecord:
        """Take one token; the record of what happened is also the last entry of :attr:`history`."""
        record = TokenRecord(text, posix, method, Reason.FORMAT)
        self.history.append(record)
        del self.history[:-200]  # a bounded history: the latest 200 entries
        try:
            token = decode_token(text, self._key)
        except TokenError as exc:
            record.reason = _refusal(exc)
            return record
        record.token = token
        record.reason = self._validate(token)
        if record.reason is not Reason.ACCEPTED:
            return record
        if (token.token_class, token.subclass) in {(2, 3), (2, 4)}:
            record.reason = self._key_section(token)
            return record
        record.reason = self.execute(token)
        if record.reason.accepted and "tid" in token.fields:
            self._remember(token["tid"])
        if record.reason.accepted and token.token_class == 0:
            record.credit_kwh = float(from_tenths(token["amount"]))
        return record

    # -- validation --------------------------------------------------------------------------------
    def _validate(self, token: Token) -> Reason:
        if (token.token_class, token.subclass) not in ACCEPTED_TYPES:
            return Reason.TOKEN_TYPE
        if "tid" not in token.fields:
            return Reason.ACCEPTED
        tid = token["tid"]
        if tid >> 16 > self.keys.ken:
            return Reason.KEY_EXPIRED
        if self.accepts_replays:
            return Reason.ACCEPTED
        if tid in self.tids:
            return Reason.USED
        if self.tids and tid < self.tids[0]:
            return Reason.OLD
        return Reason.ACCEPTED

    def _remember(self, tid: int) -> None:
        if tid in self.tids:
            return
        self.tids.append(tid)
        self.tids.sort()
        del self.tids[:-self.memory_depth]  # the most recent (largest) TIDs stay

    # -- key change --------------------------------------------------------------------------------
    def _key_section(self, token: Token) -> Reason:
        self.pending[token.subclass] = token
        if set(self.pending) != {3, 4}:
            return Reason.KEY_SECTION_STORED
        first, second = self.pending.pop(3), self.pending.pop(4)
        new_key = first["new_key_high"] << 32 | second["new_key_low"]
        base = self.keys.base_date
        if first["rollover"] and not self.ignores_rollover:
            later = [b for b in BASE_DATES if b > base]
            if later:
                base = later[0]
                self.tids.clear()
        self.keys = KeyData(self.keys.vending_key, self.keys.pan, self.keys.sgc, second["tariff_index"],
                            first["krn"], first["key_type"], base, first["ken_high"] << 4 | second["ken_low"])
        self._key = new_key
        self.key_changes += 1
        return Reason.ACCEPTED

    def truth(self) -> dict[str, Any]:
        k = self.keys
        return {"decoder_key": f"{self._key:016x}", "pan": k.pan, "sgc": k.sgc, "ti": k.ti, "krn": k.krn,
                "key_type": k.key_type, "base_date": k.base_date, "ken": k.ken, "tids": list(self.tids[-10:]),
                "tid_count": len(self.tids), "key_changes": self.key_changes,
                "pending_key_sections": sorted(self.pending),
                "last_tokens": [r.describe() for r in self.history[-10:]]}
