"""STS tokens (IEC 62055-41): classes and subclasses, their fields, the 64-bit data block, the class bits in the
66-bit token and the 20-digit token number.

Data block (64 bits, most significant first): subclass (4) | the subclass's fields (44) | CRC (16). The CRC covers
class | subclass | fields (50 bits, the ``crc`` module). Classes 0 and 2 are encrypted with the decoder key (STA, the
``sta`` module), class 1 is not. The 2 class bits then take the place of bits 28 and 27 of the (encrypted) block,
whose own bits 28 and 27 become bits 65 and 64 of the 66-bit token; the token number is that 66-bit number in
decimal, 20 digits with leading zeros (at most 73786976294838206463).

Fields are integers in the field's unit: ``amount`` in tenths of the unit (0.1 kWh for electricity), the power limits
in watts (both coded by the ``amount`` module, rounded up), ``tid`` in minutes since the base date, the rest as the
bits the token carries.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from instruments.sts.amount import MAX_VALUE, decode_amount, encode_amount, from_tenths
from instruments.sts.crc import crc16
from instruments.sts.errors import TokenError
from instruments.sts.sta import decrypt, encrypt
from instruments.sts.tid import TID_BITS, datetime_from_tid

TOKEN_DIGITS = 20
TOKEN_BITS = 66
MAX_TOKEN = (1 << TOKEN_BITS) - 1
MASK64 = (1 << 64) - 1
FIELD_BITS = 44  # between the subclass and the CRC
CLASS_BIT_HIGH, CLASS_BIT_LOW = 28, 27  # where the 2 class bits go in the 64-bit block
KEN_NO_EXPIRY = 255

CLASS_NAMES: dict[int, str] = {
    0: "TransferCredit",
    1: "NonMeterSpecificEngineering",
    2: "MeterSpecificEngineering",
    3: "Reserved",
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    bits: int
    description: str
    amount: bool = False  #: coded with the exponent/mantissa amount scheme
    unit: str = ""
    lowest: int = 0
    highest: int | None = None  #: the largest value a vending system may put in (None: all the bits allow)

    @property
    def maximum(self) -> int:
        if self.amount:
            return MAX_VALUE
        return (1 << self.bits) - 1 if self.highest is None else self.highest


@dataclass(frozen=True)
class TokenType:
    token_class: int
    subclass: int
    name: str
    fields: tuple[FieldSpec, ...]
    #: what an amount field counts (class 0), for people
    unit: str = ""

    @property
    def encrypted(self) -> bool:
        return self.token_class != 1

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def has_tid(self) -> bool:
        return "tid" in self.field_names

    def spec(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


_RANDOM = FieldSpec("random", 4, "random number")
_TID = FieldSpec("tid", TID_BITS, "token identifier: minutes since the base date", unit="min")


def _tid_type(token_class: int, subclass: int, name: str, last: FieldSpec, unit: str = "") -> TokenType:
    return TokenType(token_class, subclass, name, (_RANDOM, _TID, last), unit)


def _credit(subclass: int, service: str, unit: str) -> TokenType:
    amount = FieldSpec("amount", 16, f"credit in tenths of a {unit}", amount=True, unit=f"× 0.1 {unit}")
    return _tid_type(0, subclass, f"TransferCredit {service}", amount, unit)


_TYPES: tuple[TokenType, ...] = (
    _credit(0, "Electricity", "kWh"),
    _credit(1, "Water", "unit"),  # service units of water, gas, time: U (IEC 62055-41 Table 17)
    _credit(2, "Gas", "unit"),
    _credit(3, "Time", "unit"),
    TokenType(1, 0, "InitiateMeterTest/Display (36-bit control, 2-digit manufacturer code)", (
        FieldSpec("control", 36, "test/display control bits"),
        FieldSpec("manufacturer_code", 8, "manufacturer code (2 digits)", highest=99))),
    TokenType(1, 1, "InitiateMeterTest/Display (28-bit control, 4-digit manufacturer code)", (
        FieldSpec("control", 28, "test/display control bits"),
        FieldSpec("manufacturer_code", 16, "manufacturer code (4 digits)", highest=9999))),
    _tid_type(2, 0, "SetMaximumPowerLimit",
              FieldSpec("max_power", 16, "maximum power limit", amount=True, unit="W")),
    _tid_type(2, 1, "ClearCredit", FieldSpec("register", 16, "register to clear (FFFF: all)")),
    _tid_type(2, 2, "SetTariffRate", FieldSpec("rate", 16, "tariff rate (reserved by the STS Association)")),
    TokenType(2, 3, "Set1stSectionDecoderKey", (
        FieldSpec("ken_high", 4, "key expiry number, high nibble"),
        FieldSpec("krn", 4, "key revision number of the new key", lowest=1, highest=9),
        FieldSpec("rollover", 1, "rollover key change (the new key has a new base date)"),
        FieldSpec("reserved", 1, "reserved, 0", highest=0),
        FieldSpec("key_type", 2, "key type of the new key"),
        FieldSpec("new_key_high", 32, "high 32 bits of the new decoder key"))),
    TokenType(2, 4, "Set2ndSectionDecoderKey", (
        FieldSpec("ken_low", 4, "key expiry number, low nibble"),
        FieldSpec("tariff_index", 8, "tariff index of the new key", highest=99),
        FieldSpec("new_key_low", 32, "low 32 bits of the new decoder key"))),
    _tid_type(2, 5, "ClearTamperCondition", FieldSpec("pad", 16, "pad, 0")),
    _tid_type(2, 6, "SetMaximumPhasePowerUnbalanceLimit",
              FieldSpec("max_phase_unbalance", 16, "maximum phase power unbalance", amount=True, unit="W")),
    _tid_type(2, 7, "SetWaterMeterFactor", FieldSpec("water_factor", 16, "water meter factor (reserved)")),
)
#: (class, subclass) → its format, for every token this codec codes
TOKEN_TYPES: dict[tuple[int, int], TokenType] = {(t.token_class, t.subclass): t for t in _TYPES}

#: names of the subclasses this codec knows of but does not code
UNSUPPORTED: dict[tuple[int, int], str] = {
    **{(0, s): f"TransferCredit {n} currency (its amount format differs)"
       for s, n in ((4, "Electricity"), (5, "Water"), (6, "Gas"), (7, "Time"))},
    (2, 8): "Set3rdSectionDecoderKey (128-bit keys, EA11)",
    (2, 9): "Set4thSectionDecoderKey (128-bit keys, EA11)",
}


def token_type(token_class: int, subclass: int) -> TokenType:
    if token_class not in CLASS_NAMES:
        raise TokenError("class", f"{token_class} is not a token class (0 … 3)")
    if token_class == 3:
        raise TokenError("class", "class 3 is reserved for the STS Association: no format to code")
    try:
        return TOKEN_TYPES[(token_class, subclass)]
    except KeyError:
        pass
    if (token_class, subclass) in UNSUPPORTED:
        raise TokenError("subclass", f"class {token_class} subclass {subclass}, "
                                     f"{UNSUPPORTED[(token_class, subclass)]}, is not supported by this codec")
    known = ", ".join(str(s) for c, s in TOKEN_TYPES if c == token_class)
    raise TokenError("subclass", f"class {token_class} has no subclass {subclass} "
                                 f"(known here: {known}; others are reserved)")


@dataclass(frozen=True)
class Token:
    """A token's content: class, subclass and the subclass's fields (see :data:`TOKEN_TYPES`)."""

    token_class: int
    subclass: int
    fields: Mapping[str, int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))  # read-only, like the rest

    @classmethod
    def of(cls, token_class: int, subclass: int, **fields: int) -> Token:
        return cls(token_class, subclass, dict(fields))

    @property
    def type(self) -> TokenType:
        return token_type(self.token_class, self.subclass)

    def __getitem__(self, name: str) -> int:
        return self.fields[name]


def _check_fields(token: Token, t: TokenType) -> list[int]:
    extra = sorted(set(token.fields) - set(t.field_names))
    if extra:
        raise TokenError(extra[0], f"is not a field of {t.name} tokens (class {t.token_class} subclass "
                                   f"{t.subclass}: {', '.join(t.field_names)})")
    values = []
    for f in t.fields:
        if f.name not in token.fields:
            raise TokenError(f.name, f"missing: {t.name} tokens need {', '.join(t.field_names)}")
        v = token.fields[f.name]
        if isinstance(v, bool) or not isinstance(v, int):
            raise TokenError(f.name, f"must be a whole number, got {v!r}")
        if not f.lowest <= v <= f.maximum:
            unit = f" {f.unit}" if f.unit else ""
            raise TokenError(f.name, f"{v}{unit} is beyond the range {f.lowest} … {f.maximum}{unit} of {t.name} "
                                     "tokens")
        values.append(encode_amount(v, f.name) if f.amount else v)
    return values


def data_block(token: Token) -> int:
    """The 64-bit data block before encryption: subclass | fields | CRC."""
    t = token.type
    data = token.subclass
    for f, v in zip(t.fields, _check_fields(token, t), strict=True):
        data = data << f.bits | v
    return data << 16 | crc16(token.token_class << 48 | data)


def to_66_bits(token_class: int, block: int) -> int:
    """The 66-bit token: the class bits in place of block bits 28 and 27, which move to bits 65 and 64."""
    moved = block >> CLASS_BIT_LOW & 3
    return moved << 64 | (block & ~(3 << CLASS_BIT_LOW)) | token_class << CLASS_BIT_LOW


def from_66_bits(number: int) -> tuple[int, int]:
    """(class, 64-bit block) of a 66-bit token number."""
    if not 0 <= number <= MAX_TOKEN:
        raise TokenError("token", f"{number} is beyond 66 bits (the largest token is {MAX_TOKEN})")
    token_class = number >> CLASS_BIT_LOW & 3
    block = (number & MASK64 & ~(3 << CLASS_BIT_LOW)) | (number >> 64) << CLASS_BIT_LOW
    return token_class, block


def format_token(number: int) -> str:
    return f"{number:0{TOKEN_DIGITS}d}"


def group(token: str) -> str:
    """``12345678901234567890`` → ``1234-5678-9012-3456-7890`` (how meters and receipts show it)."""
    return "-".join(token[i:i + 4] for i in range(0, len(token), 4))


def parse_token(text: str) -> int:
    """The 66-bit number of a 20-digit token (groups separated by spaces or ``-`` are accepted)."""
    digits = re.sub(r"[\s-]", "", text)
    if not digits:
        raise TokenError("token", "empty")
    if not (digits.isascii() and digits.isdigit()):
        bad = next(ch for ch in digits if not (ch.isascii() and ch.isdigit()))
        raise TokenError("token", f"{text!r} has a non-digit {bad!r}: a token is 20 decimal digits")
    if len(digits) != TOKEN_DIGITS:
        raise TokenError("token", f"{len(digits)} digits, a token has {TOKEN_DIGITS}")
    number = int(digits)
    if number > MAX_TOKEN:
        raise TokenError("token", f"{digits} is beyond 66 bits (the largest token is {MAX_TOKEN})")
    return number


def _need_key(key: int | None, t: int) -> int:
    if key is None:
        raise TokenError("decoder key", f"class {t} tokens are encrypted: give the decoder key (or the vending key "
                                        "and the meter's key data to derive it)")
    return key


def encode_token(token: Token, key: int | None = None, *, key_expiry: int = KEN_NO_EXPIRY) -> str:
    """The 20 digits of ``token``, encrypted with the decoder ``key`` (classes 0 and 2).

    ``key_expiry`` is the KEN of the key: a TID whose top 8 bits exceed it is refused (255: never)."""
    t = token.type
    block = data_block(token)
    if t.has_tid and token.fields["tid"] >> 16 > key_expiry:
        raise TokenError("tid", f"TID {token.fields['tid']} is past the key's expiry: its top 8 bits "
                                f"{token.fields['tid'] >> 16} exceed the key expiry number {key_expiry}")
    if t.encrypted:
        block = encrypt(block, _need_key(key, token.token_class))
    return format_token(to_66_bits(token.token_class, block))


def decode_token(text: str | int, key: int | None = None) -> Token:
    """The content of a 20-digit token; classes 0 and 2 are decrypted with the decoder ``key``."""
    number = parse_token(text) if isinstance(text, str) else text
    token_class, block = from_66_bits(number)
    if token_class == 3:
        raise TokenError("class", "class 3 (reserved for the STS Association): this codec cannot decode it")
    if token_class != 1:
        block = decrypt(block, _need_key(key, token_class))
    data = block >> 16
    if crc16(token_class << 48 | data) != block & 0xFFFF:
        why = "a wrong decoder key or a mistyped digit" if token_class != 1 else "a mistyped digit"
        raise TokenError("token", f"CRC mismatch: not a valid class {token_class} token"
                                  + (" for this decoder key" if token_class != 1 else "") + f" ({why})")
    subclass = data >> FIELD_BITS
    t = token_type(token_class, subclass)
    fields: dict[str, int] = {}
    shift = FIELD_BITS
    for f in t.fields:
        shift -= f.bits
        raw = data >> shift & ((1 << f.bits) - 1)
        fields[f.name] = decode_amount(raw) if f.amount else raw
    return Token(token_class, subclass, fields)


def describe(token: Token, base_date: int) -> dict[str, Any]:
    """The token's content for people and for JSON: names, fields, the issue minute on ``base_date``, the amount
    in its unit."""
    t = token.type
    out: dict[str, Any] = {"class": token.token_class, "class_name": CLASS_NAMES[token.token_class],
                           "subclass": token.subclass, "type": t.name, "fields": dict(token.fields)}
    if t.has_tid:
        issued: dt.datetime = datetime_from_tid(token.fields["tid"], base_date)
        out["issued"] = issued.isoformat(timespec="minutes")
        out["base_date"] = base_date
    if token.token_class == 0:
        out["amount"] = float(from_tenths(token.fields["amount"]))
        out["unit"] = t.unit
    for name in ("max_power", "max_phase_unbalance"):
        if name in token.fields:
            out[f"{name}_w"] = token.fields[name]
    if token.subclass in (3, 4) and token.token_class == 2:
        out["fields"] = {k: (f"{v:08x}" if k.startswith("new_key") else v) for k, v in token.fields.items()}
    return out


def key_change(new_key: int, *, krn: int, key_type: int, tariff_index: int, ken: int = KEN_NO_EXPIRY,
               rollover: bool = False) -> tuple[Token, Token]:
    """The two key change tokens (Set1stSectionDecoderKey, Set2ndSectionDecoderKey) that load the 64-bit
    ``new_key`` with its KRN, key type, tariff index and key expiry number; encrypt both with the meter's current
    decoder key."""
    if not 0 <= new_key <= MASK64:
        raise TokenError("new decoder key", f"must be 64 bits, got {new_key:#x}")
    if not 0 <= ken <= KEN_NO_EXPIRY:
        raise TokenError("ken", f"{ken} is not a key expiry number 0 … 255")
    first = Token.of(2, 3, ken_high=ken >> 4, krn=krn, rollover=int(rollover), reserved=0, key_type=key_type,
                     new_key_high=new_key >> 32)
    second = Token.of(2, 4, ken_low=ken & 15, tariff_index=tariff_index, new_key_low=new_key & 0xFFFFFFFF)
    return first, second
