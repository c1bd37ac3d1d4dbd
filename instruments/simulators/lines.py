"""Line-oriented ASCII protocols (the chamber controllers): framing, one session class, number parsing.

A device plugs in through :class:`LineDevice`; :class:`LineSession` is the sans-IO session
(:mod:`instruments.simulators.net`) that frames its input and writes one reply per request line.
"""

from __future__ import annotations

import math
import re
from typing import Protocol

from instruments.simulators.net import Output

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d{1,9}")


class LineFramer:
    """Splits a byte stream into lines ended by any byte of ``terminators``; empty lines are dropped.

    :meth:`feed` yields complete lines in arrival order and ``None`` once for every line that grew past
    ``max_line`` bytes: that line is discarded up to its terminator, so garbage never accumulates.
    """

    def __init__(self, max_line: int, terminators: bytes = b"\r\n") -> None:
        self.max_line = max_line
        self._split = re.compile(b"[" + re.escape(terminators) + b"]")
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes | None]:
        events: list[bytes | None] = []
        *complete, rest = self._split.split(data)
        for segment in complete:
            line = bytes(self._buf) + segment
            self._buf.clear()
            if self._discarding:  # the tail of a line already reported as too long
                self._discarding = False
            elif len(line) > self.max_line:
                events.append(None)
            elif line:
                events.append(line)
        if not self._discarding:
            self._buf += rest
            if len(self._buf) > self.max_line:
                self._buf.clear()
                self._discarding = True
                events.append(None)
        return events

    def reset(self) -> None:
        self._buf.clear()
        self._discarding = False


class LineDevice(Protocol):
    """A line-protocol server: one reply (with its terminator; ``b""`` for none) per request line."""

    #: longest request line; a longer one is answered once with ``overlong_reply`` and skipped
    max_line: int
    overlong_reply: bytes

    def handle(self, line: bytes) -> bytes: ...


class LineSession:
    """One client connection: CR, LF or CR LF terminated requests, one reply each, in order."""

    def __init__(self, device: LineDevice) -> None:
        self.device = device
        self._framer = LineFramer(device.max_line)

    def data_received(self, data: bytes, out: Output) -> None:
        for line in self._framer.feed(data):
            out.write(self.device.overlong_reply if line is None else self.device.handle(line))

    def eof_received(self, out: Output) -> None:
        self._framer.reset()  # an unterminated last request is never executed

    def connection_lost(self) -> None:
        self._framer.reset()


def parse_number(text: str) -> float | None:
    """A finite decimal number in plain or exponent notation, else None (no ``nan``, ``inf``, ``1_0``)."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def parse_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if _INTEGER.fullmatch(text) else None
