"""The TCP/UDP wrapper (IEC 62056-47:2006 5.2; Green Book 7.3.3.4): version (2 octets, 0x0001), source wPort,
destination wPort, length of the APDU that follows (2 octets each, big-endian). Client wPort = client SAP
(public client 16, management 1), server wPort = logical device (management logical device 1)."""

from __future__ import annotations

from dataclasses import dataclass

VERSION = 1
HEADER = 8
MAX_APDU = 0xFFFF


class WrapperError(ValueError):
    """A wrapper header that cannot be right (version, length)."""


@dataclass(frozen=True)
class WrapperFrame:
    source: int
    destination: int
    apdu: bytes

    def encode(self) -> bytes:
        if len(self.apdu) > MAX_APDU:
            raise WrapperError(f"an APDU of {len(self.apdu)} octets does not fit the wrapper's 16-bit length")
        return (VERSION.to_bytes(2, "big") + self.source.to_bytes(2, "big") + self.destination.to_bytes(2, "big")
                + len(self.apdu).to_bytes(2, "big") + self.apdu)


class WrapperReader:
    """Splits a byte stream into wrapper frames; a header with another version is an error (the stream is lost:
    there is no way to resynchronise a length-prefixed stream, so the owner closes the connection)."""

    def __init__(self, max_apdu: int = MAX_APDU) -> None:
        self._buf = bytearray()
        self.max_apdu = max_apdu

    def feed(self, data: bytes) -> list[WrapperFrame]:
        self._buf += data
        frames: list[WrapperFrame] = []
        buf = self._buf
        while len(buf) >= HEADER:
            version = int.from_bytes(buf[0:2], "big")
            if version != VERSION:
                raise WrapperError(f"wrapper header version {version:#06x}, expected 0x0001"
                                   f" (header {bytes(buf[:HEADER]).hex(' ').upper()})")
            length = int.from_bytes(buf[6:8], "big")
            if length > self.max_apdu:
                raise WrapperError(f"wrapper length {length} exceeds the {self.max_apdu} octets accepted")
            if len(buf) < HEADER + length:
                break
            frames.append(WrapperFrame(int.from_bytes(buf[2:4], "big"), int.from_bytes(buf[4:6], "big"),
                                       bytes(buf[HEADER:HEADER + length])))
            del buf[:HEADER + length]
        return frames

    @property
    def pending(self) -> int:
        return len(self._buf)
