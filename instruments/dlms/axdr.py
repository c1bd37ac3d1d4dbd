"""COSEM data in A-XDR (IEC 62056-6-2 4.1.5 "Common data types"; DLMS UA Blue Book; encoding IEC 61334-6).

A value is a :class:`Data`: its type tag and a Python value (int, bool, bytes, str, float, a :class:`BitString`, or
a tuple of :class:`Data` for array and structure). The tag travels with the value so what is decoded encodes to the
same bytes, which is what a server answering a client no one here wrote must get right.

Decoding errors are :class:`AxdrError` naming the offset and the field, never an IndexError.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class AxdrError(ValueError):
    """A malformed A-XDR encoding: ``offset`` into the buffer, what was expected there."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"A-XDR at byte {offset}: {message}")
        self.offset = offset


class Tag(IntEnum):
    """Data type tags (IEC 62056-6-2:2021 4.1.5, "Data" CHOICE)."""

    NULL = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5  # Integer32
    DOUBLE_LONG_UNSIGNED = 6  # Unsigned32
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INTEGER = 15  # Integer8
    LONG = 16  # Integer16
    UNSIGNED = 17  # Unsigned8
    LONG_UNSIGNED = 18  # Unsigned16
    COMPACT_ARRAY = 19
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25  # octet-string(12)
    DATE = 26  # octet-string(5)
    TIME = 27  # octet-string(4)
    DONT_CARE = 255


#: fixed-size integers: struct format (big-endian, IEC 61334-6 A-XDR)
_INTS: dict[Tag, str] = {
    Tag.DOUBLE_LONG: ">i",
    Tag.DOUBLE_LONG_UNSIGNED: ">I",
    Tag.INTEGER: ">b",
    Tag.LONG: ">h",
    Tag.UNSIGNED: ">B",
    Tag.LONG_UNSIGNED: ">H",
    Tag.LONG64: ">q",
    Tag.LONG64_UNSIGNED: ">Q",
    Tag.ENUM: ">B",
}
_FLOATS: dict[Tag, str] = {Tag.FLOAT32: ">f", Tag.FLOAT64: ">d"}
_FIXED_OCTETS: dict[Tag, int] = {Tag.DATE_TIME: 12, Tag.DATE: 5, Tag.TIME: 4}
_STRINGS = (Tag.OCTET_STRING, Tag.VISIBLE_STRING, Tag.UTF8_STRING)


@dataclass(frozen=True)
class BitString:
    """``bits`` significant bits, first bit = most significant bit of the first octet (ASN.1 BIT STRING)."""

    value: bytes
    bits: int

    def __post_init__(self) -> None:
        if not 0 <= self.bits <= 8 * len(self.value) or (self.bits + 7) // 8 != len(self.value):
            raise ValueError(f"a bit string of {self.bits} bits needs {(self.bits + 7) // 8} octets")

    def bit(self, n: int) -> bool:
        return bool(self.value[n // 8] & (0x80 >> (n % 8)))

    @classmethod
    def from_bits(cls, flags: Sequence[bool]) -> BitString:
        out = bytearray((len(flags) + 7) // 8)
        for i, flag in enumerate(flags):
            if flag:
                out[i // 8] |= 0x80 >> (i % 8)
        return cls(bytes(out), len(flags))


@dataclass(frozen=True)
class Data:
    """One COSEM value with its type."""

    tag: Tag
    value: Any = None

    # -- constructors named like the Blue Book types ------------------------------------------
    @classmethod
    def null(cls) -> Data:
        return cls(Tag.NULL)

    @classmethod
    def array(cls, items: Iterable[Data]) -> Data:
        return cls(Tag.ARRAY, tuple(items))

    @classmethod
    def structure(cls, items: Iterable[Data]) -> Data:
        return cls(Tag.STRUCTURE, tuple(items))

    @classmethod
    def boolean(cls, v: bool) -> Data:
        return cls(Tag.BOOLEAN, bool(v))

    @classmethod
    def octets(cls, v: bytes) -> Data:
        return cls(Tag.OCTET_STRING, bytes(v))

    @classmethod
    def visible(cls, v: str) -> Data:
        return cls(Tag.VISIBLE_STRING, v)

    @classmethod
    def int8(cls, v: int) -> Data:
        return cls(Tag.INTEGER, v)

    @classmethod
    def int16(cls, v: int) -> Data:
        return cls(Tag.LONG, v)

    @classmethod
    def int32(cls, v: int) -> Data:
        return cls(Tag.DOUBLE_LONG, v)

    @classmethod
    def int64(cls, v: int) -> Data:
        return cls(Tag.LONG64, v)

    @classmethod
    def uint8(cls, v: int) -> Data:
        return cls(Tag.UNSIGNED, v)

    @classmethod
    def uint16(cls, v: int) -> Data:
        return cls(Tag.LONG_UNSIGNED, v)

    @classmethod
    def uint32(cls, v: int) -> Data:
        return cls(Tag.DOUBLE_LONG_UNSIGNED, v)

    @classmethod
    def uint64(cls, v: int) -> Data:
        return cls(Tag.LONG64_UNSIGNED, v)

    @classmethod
    def enum(cls, v: int) -> Data:
        return cls(Tag.ENUM, v)

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def _decoded(cls, tag: Tag, value: Any = None) -> Data:
        """A value the decoder read: its type fits by construction, so the constructor's checks are skipped (they
        cost more than the decoding)."""
        d = object.__new__(cls)
        object.__setattr__(d, "tag", tag)
        object.__setattr__(d, "value", value)
        return d

    # -- access --------------------------------------------------------------------------------
    @property
    def items(self) -> tuple[Data, ...]:
        if self.tag not in (Tag.ARRAY, Tag.STRUCTURE):
            raise TypeError(f"{self.tag.name.lower()} has no items")
        return tuple(self.value)

    def __getitem__(self, i: int) -> Data:
        return self.items[i]

    def __len__(self) -> int:
        return len(self.items)

    def plain(self) -> Any:
        """The value without types: lists for array and structure, bytes for octet strings."""
        if self.tag in (Tag.ARRAY, Tag.STRUCTURE):
            return [d.plain() for d in self.value]
        return self.value

    def encode(self) -> bytes:
        out = bytearray()
        _encode(self, out)
        return bytes(out)


def _check(d: Data) -> None:
    tag, v = d.tag, d.value
    if tag in _INTS:
        fmt = _INTS[tag]
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{tag.name.lower()} needs an int, got {v!r}")
        try:
            struct.pack(fmt, v)
        except struct.error:
            raise ValueError(f"{v} does not fit {tag.name.lower()}") from None
    elif tag in _FIXED_OCTETS and not (isinstance(v, bytes) and len(v) == _FIXED_OCTETS[tag]):
        raise ValueError(f"{tag.name.lower()} is {_FIXED_OCTETS[tag]} octets, got {v!r}")
    elif tag in (Tag.ARRAY, Tag.STRUCTURE) and not all(isinstance(x, Data) for x in v):
        raise TypeError(f"{tag.name.lower()} items must be Data")
    elif tag is Tag.BIT_STRING and not isinstance(v, BitString):
        raise TypeError("bit-string needs a BitString")
    elif tag is Tag.OCTET_STRING and not isinstance(v, bytes):
        raise TypeError(f"octet-string needs bytes, got {v!r}")
    elif tag in (Tag.VISIBLE_STRING, Tag.UTF8_STRING) and not isinstance(v, str):
        raise TypeError(f"{tag.name.lower()} needs a str, got {v!r}")


# -- length (A-XDR variable-length integer, as BER definite length) -------------------------------
def encode_length(n: int) -> bytes:
    """Length of a SEQUENCE OF or a string: one byte below 128, else 0x80 | k followed by k bytes."""
    if n < 0:
        raise ValueError("length < 0")
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


class Reader:
    """A cursor over received bytes; every read names what it wanted when the bytes run out."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise AxdrError(self.pos, f"{what}: needs {n} bytes, {self.remaining()} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def length(self, what: str, of_bytes: bool = True) -> int:
        first = self.byte(what)
        if first < 0x80:
            return first
        k = first & 0x7F
        if k == 0 or k > 4:
            raise AxdrError(self.pos - 1, f"{what}: length of {k} bytes is not supported")
        n = self.uint(k, what)
        if of_bytes and n > self.remaining():
            raise AxdrError(self.pos, f"{what}: length {n} beyond the {self.remaining()} bytes left")
        return n

    def optional(self, what: str) -> bool:
        """A-XDR OPTIONAL / DEFAULT presence flag: 0x00 absent, 0x01 present."""
        flag = self.byte(what)
        if flag > 1:
            raise AxdrError(self.pos - 1, f"{what}: presence flag {flag:#04x} is neither 0 nor 1")
        return flag == 1

    def expect_end(self, what: str) -> None:
        if self.remaining():
            raise AxdrError(self.pos, f"{what}: {self.remaining()} unexpected bytes after the end")


def _encode(d: Data, out: bytearray) -> None:
    tag, v = d.tag, d.value
    out.append(tag)
    if tag in (Tag.NULL, Tag.DONT_CARE):
        return
    if tag in (Tag.ARRAY, Tag.STRUCTURE):
        out += encode_length(len(v))
        for item in v:
            _encode(item, out)
    elif tag is Tag.BOOLEAN:
        out.append(0xFF if v else 0x00)
    elif tag in _INTS:
        out += struct.pack(_INTS[tag], v)
    elif tag in _FLOATS:
        out += struct.pack(_FLOATS[tag], v)
    elif tag in _FIXED_OCTETS:
        out += v
    elif tag in _STRINGS:
        raw = v if isinstance(v, bytes) else v.encode("ascii" if tag is Tag.VISIBLE_STRING else "utf-8")
        out += encode_length(len(raw)) + raw
    elif tag is Tag.BIT_STRING:
        out += encode_length(v.bits) + v.value
    elif tag is Tag.BCD:
        out += struct.pack(">b", v)
    else:  # compact-array is decoded for completeness but never sent by MeterHIL
        raise ValueError(f"encoding {tag.name.lower()} is not supported")


def decode(data: bytes) -> Data:
    """Exactly one value filling ``data``."""
    r = Reader(data)
    value = read_data(r)
    r.expect_end("Data")
    return value


#: nesting bound: a hostile frame of nested arrays must not exhaust the stack
MAX_DEPTH = 16


def read_data(r: Reader, depth: int = 0) -> Data:
    start = r.pos
    code = r.byte("Data tag")
    try:
        tag = Tag(code)
    except ValueError:
        raise AxdrError(start, f"unknown data type tag {code}") from None
    if tag in (Tag.NULL, Tag.DONT_CARE):
        return Data._decoded(tag)
    if tag in (Tag.ARRAY, Tag.STRUCTURE):
        if depth >= MAX_DEPTH:
            raise AxdrError(start, f"{tag.name.lower()} nested deeper than {MAX_DEPTH}")
        n = r.length(f"{tag.name.lower()} count")
        return Data._decoded(tag, tuple(read_data(r, depth + 1) for _ in range(n)))
    if tag is Tag.BOOLEAN:
        return Data._decoded(tag, r.byte("boolean") != 0)
    if tag in _INTS:
        fmt = _INTS[tag]
        return Data._decoded(tag, struct.unpack(fmt, r.take(struct.calcsize(fmt), tag.name.lower()))[0])
    if tag in _FLOATS:
        fmt = _FLOATS[tag]
        return Data._decoded(tag, struct.unpack(fmt, r.take(struct.calcsize(fmt), tag.name.lower()))[0])
    if tag in _FIXED_OCTETS:
        return Data._decoded(tag, r.take(_FIXED_OCTETS[tag], tag.name.lower()))
    if tag in _STRINGS:
        text = r.take(r.length(f"{tag.name.lower()} length"), tag.name.lower())
        if tag is Tag.OCTET_STRING:
            return Data._decoded(tag, text)
        try:
            return Data._decoded(tag, text.decode("ascii" if tag is Tag.VISIBLE_STRING else "utf-8"))
        except UnicodeDecodeError as exc:
            raise AxdrError(start, f"{tag.name.lower()} is not valid text: {exc.reason}") from None
    if tag is Tag.BIT_STRING:
        bits = r.length("bit-string length", of_bytes=False)
        return Data._decoded(tag, BitString(r.take((bits + 7) // 8, "bit-string"), bits))
    if tag is Tag.BCD:
        return Data._decoded(tag, struct.unpack(">b", r.take(1, "bcd"))[0])
    raise AxdrError(start, f"{tag.name.lower()} is not supported")
