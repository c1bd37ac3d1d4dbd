"""CRC-16 of an STS token (IEC 62055-41): generator polynomial x¹⁶ + x¹⁵ + x² + 1, preset FFFF.

The CRC covers the 50 bits class | subclass | data fields (everything of the 66-bit token except the CRC), taken as
a 56-bit big-endian number (7 bytes, the top 6 bits zero) and processed least significant bit first (the reflected
form of the polynomial, A001); the two result bytes are stored swapped. This arrangement reproduces the published
compliance vectors and the worked example on the STS Association's KEN page (CRC 1970 hex).
"""

from __future__ import annotations

from instruments.sts.errors import TokenError

_POLY_REFLECTED = 0xA001
CRC_BITS = 16
COVERED_BITS = 50


def _table() -> tuple[int, ...]:
    out = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY_REFLECTED if crc & 1 else crc >> 1
        out.append(crc)
    return tuple(out)


_TABLE = _table()


def crc16(covered: int) -> int:
    """The 16-bit CRC field for the 50 bits ``covered`` (class in bits 49–48, subclass 47–44, data 43–0)."""
    if not 0 <= covered < 1 << COVERED_BITS:
        raise TokenError("crc", f"the covered data must be {COVERED_BITS} bits, got {covered:#x}")
    crc = 0xFFFF
    table = _TABLE
    for shift in (48, 40, 32, 24, 16, 8, 0):
        crc = (crc >> 8) ^ table[(crc ^ (covered >> shift)) & 0xFF]
    return ((crc & 0xFF) << 8) | (crc >> 8)
