"""IEC 62056-21 mode C client: the meter's optical port, through a probe on a serial-to-TCP server.

IEC 62056-21:2002 §6.3/§6.4: sign-on ``/?<address>!`` CR LF → identification ``/XXXZ<ident>`` CR LF; option select
``ACK 0 Z Y`` CR LF (Y ``0`` data readout, ``1`` programming mode); a data readout is ``STX`` data lines ``!`` CR LF
``ETX BCC``; programming mode is password ``P1``, read ``R1``, write ``W1`` and break ``B0`` frames, each
``SOH <cmd> [STX <data set>] ETX BCC`` with BCC = XOR of the bytes after SOH/STX up to and including ETX.

Every operation is one complete dialogue from sign-on to the end of the readout or to the break, so nothing
depends on the meter's inactivity time-out. Byte framing is all here; the transport only carries bytes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from instruments.drivers.errors import BenchFault, ReplyError

SOH, STX, ETX, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x06", b"\x15"
CRLF = b"\r\n"
#: mode C baud-rate characters "0" (300 Bd) … "6" (19200 Bd) (IEC 62056-21:2002 §6.3.14)
BAUD_CHARS = "0123456"
_ADDRESS = re.compile(r"[0-9A-Za-z ]{0,32}")  # device address: up to 32 characters (§6.3.1)
_DATA_SET = re.compile(r"([^()]*)\(([^()]*)\)")
#: ``/XXXZ`` [``\W`` enhanced capability, e.g. ``\2`` mode E] identification (IEC 62056-21:2002, 6.3.14)
_IDENT = re.compile(r"/([A-Za-z]{3})(.)((?:\\\d)?)(.{1,16})")


def bcc(data: bytes) -> int:
    """Block check character: XOR of ``data`` (§6.3: the bytes after the first SOH or STX up to and including ETX)."""
    value = 0
    for byte in data:
        value ^= byte
    return value


def command_frame(command: str, data_set: str | None = None) -> bytes:
    """``SOH <command> [STX <data set>] ETX BCC`` (§6.3.7, programming command message)."""
    body = command.encode("ascii") + (STX + data_set.encode("ascii") if data_set is not None else b"") + ETX
    return SOH + body + bytes([bcc(body)])


class BccError(ReplyError):
    """A message whose block check character does not match its bytes."""


class MeterRefused(BenchFault):
    """The meter refused a request (NAK after the bounded retries, or an ``(ERROR)`` answer)."""


class PasswordRejected(MeterRefused):
    """The meter did not accept the password (not retried: repeated wrong passwords lock a meter)."""


@dataclass(frozen=True)
class Identification:
    """``/XXXZ<ident>``: manufacturer ID, proposed baud character, identification (§6.3.2)."""

    manufacturer: str
    baud_char: str
    ident: str
    enhanced: str = ""  # the escape sequence, e.g. "\\2": the meter also offers mode E (HDLC)

    @property
    def line(self) -> str:
        return f"/{self.manufacturer}{self.baud_char}{self.enhanced}{self.ident}"


def baud_of(char: str) -> int:
    """The baud rate of a mode C/E baud character: "0" 300 Bd … "5" 9600 Bd, "6" 19200 Bd (IEC 62056-21:2002,
    6.3.14); ValueError for another character."""
    if len(char) != 1 or char not in BAUD_CHARS:
        raise ValueError(f"baud character {char!r} is not one of {BAUD_CHARS}")
    return 300 << BAUD_CHARS.index(char)


def parse_identification(line: bytes, instrument: str = "meter") -> Identification:
    start = line.find(b"/")
    text = line[start:].rstrip(b"\r\n").decode("latin-1") if start >= 0 else ""
    m = _IDENT.fullmatch(text)
    if m is None:
        raise ReplyError(instrument, f"not an identification message: {line!r}")
    if m[2] not in BAUD_CHARS:
        raise ReplyError(instrument, f"{text!r} is not a mode C meter (baud character {m[2]!r})")
    return Identification(m[1], m[2], m[4], m[3])


def parse_data_sets(text: str) -> dict[str, str]:
    """``address(value)`` data sets → dict. A data set with an empty address continues the previous one, its
    value joined by ``)(``, so ``f"{address}({value})"`` gives back the text as sent (e.g. a value with its time)."""
    out: dict[str, str] = {}
    last: str | None = None
    for line in text.split("\r\n"):
        for m in _DATA_SET.finditer(line):
            address, value = m[1].strip(), m[2]
            if not address and last is not None:
                out[last] += ")(" + value
                continue
            out[address] = value
            last = address
    return out


def value_of(reading: object) -> str:
    """A data set's value without its unit: ``001234.567*kWh`` → ``001234.567`` (IEC 62056-21: ``*`` starts the
    unit)."""
    return str(reading).split("*")[0].strip()


def number_of(reading: object) -> float:
    """A data set's value as a number (``001234.567*kWh`` → 1234.567); ValueError when it is not one."""
    return float(value_of(reading))


def parse_readout(message: bytes, instrument: str = "meter") -> dict[str, str]:
    """A data readout ``STX <data block> ! CR LF ETX BCC`` → address → value (with unit: ``001234.567*kWh``)."""
    if not message.startswith(STX) or len(message) < 3 or message[-2:-1] != ETX:
        raise ReplyError(instrument, f"not a data readout: {message[:40]!r}…")
    body = message[1:-1]
    if bcc(body) != message[-1]:
        raise BccError(instrument, f"data readout with a wrong BCC (got 0x{message[-1]:02X}, computed "
                                     f"0x{bcc(body):02X})")
    text = body[:-1].decode("latin-1")
    if not text.endswith("!\r\n"):
        raise ReplyError(instrument, "data readout without its end line '!'")
    return parse_data_sets(text[:-3])


class ProgrammingSession:
    """Programming mode after the password was accepted: ``R1`` / ``W1``. Obtained from
    :meth:`Iec62056Port.programming`."""

    def __init__(self, port: Iec62056Port) -> None:
        self.port = port

    def read(self, address: str) -> str:
        """``R1``: the register's value as the meter shows it, with its unit (``001234.567*kWh``)."""
        reply = self.port.exchange(command_frame("R1", f"{address}()"))
        sets = parse_data_sets(reply[1:-2].decode("latin-1")) if reply[:1] == STX else {}
        if address not in sets:
            raise MeterRefused(self.port.name, f"R1 {address}: the meter answered {reply!r}")
        return sets[address]

    def write(self, address: str, value: str) -> None:
        """``W1``: ACK = accepted (a refusal is a NAK: retried, then :class:`MeterRefused`)."""
        reply = self.port.exchange(command_frame("W1", f"{address}({value})"))
        if reply != ACK:
            raise MeterRefused(self.port.name, f"W1 {address}({value}): the meter answered {reply!r}")


class Iec62056Port:
    """Mode C optical port; plays the ``meter_port`` role (:class:`instruments.roles.MeterPort`).

    Options (bench file): ``address`` (device address; empty reaches whichever meter is on the probe),
    ``password`` (programming mode), ``nak_retries`` (a NAKed frame is sent again at most this often).
    """

    model = "IEC 62056-21 mode C"

    def __init__(self, transport: Any, *, address: str = "", password: str | None = None,
                 nak_retries: int = 2) -> None:
        if not _ADDRESS.fullmatch(address):
            raise ValueError(f"IEC 62056-21 device address must be ≤ 32 letters, digits or spaces: {address!r}")
        self.transport = transport
        self.name: str = transport.name
        self.address = address
        self.password = password
        self.nak_retries = nak_retries
        self.last_readout: dict[str, str] = {}

    # -- messages ----------------------------------------------------------------------------------
    def _read_block(self) -> bytes:
        """``STX|SOH … ETX BCC``, ``ACK`` or ``NAK``; a block's BCC is checked."""
        first = self.transport.read_bytes(1)
        if first in (ACK, NAK):
            return bytes(first)
        if first not in (STX, SOH):
            raise ReplyError(self.name, f"unexpected byte {first!r} where a message should start")
        message = first + self.transport.read_until(ETX, 1)
        if bcc(message[1:-1]) != message[-1]:
            raise BccError(self.name, f"wrong BCC in {message!r} (computed 0x{bcc(message[1:-1]):02X})")
        return bytes(message)

    def _reply(self) -> bytes:
        """The meter's answer; one with a wrong BCC is asked for again with NAK (§6.3), at most ``nak_retries``
        times, then :class:`BccError`."""
        for _ in range(self.nak_retries):
            try:
                return self._read_block()
            except BccError:
                self.transport.write_raw(NAK)
        return self._read_block()

    def exchange(self, frame: bytes) -> bytes:
        """Send a programming frame and return the answer; a NAK (the meter's repeat request) sends the frame
        again, at most ``nak_retries`` times, then :class:`MeterRefused`."""
        for _ in range(self.nak_retries + 1):
            self.transport.write_raw(frame)
            reply = self._reply()
            if reply != NAK:
                return reply
        raise MeterRefused(self.name, f"NAK to {frame!r} {self.nak_retries + 1} times")

    def sign_on(self, mode: Literal["0", "1"]) -> Identification:
        """Request and option select at the baud rate the meter proposes (no switch-over exists over TCP)."""
        switch = getattr(self.transport, "switch_baud", None)  # a serial line: 300 Bd, then the meter's rate
        if switch is not None:
            switch(None)
        self.transport.write_raw(b"/?" + self.address.encode("ascii") + b"!" + CRLF)
        ident = parse_identification(self.transport.read_until(CRLF), self.name)
        self.transport.write_raw(ACK + b"0" + ident.baud_char.encode("ascii") + mode.encode("ascii") + CRLF)
        if switch is not None:
            switch(baud_of(ident.baud_char))  # once the ACK has left the wire
        return ident

    # -- the MeterPort role ------------------------------------------------------------------------
    def identify(self) -> str:
        """The identification line (``/MHS5B3DC60``), from a complete data-readout dialogue (kept as
        :attr:`last_readout`), so the meter is back at its start afterwards."""
        ident = self.sign_on("0")
        self.last_readout = self._readout_message()
        return ident.line

    def readout(self) -> dict[str, str]:
        """Every register of a data readout, BCC checked."""
        self.sign_on("0")
        self.last_readout = self._readout_message()
        return self.last_readout

    def _readout_message(self) -> dict[str, str]:
        first = self.transport.read_bytes(1)
        if first != STX:
            raise ReplyError(self.name, f"data readout starts with {first!r}, not STX")
        return parse_readout(first + self.transport.read_until(ETX, 1), self.name)

    @contextlib.contextmanager
    def programming(self) -> Iterator[ProgrammingSession]:
        """Sign on in programming mode, send the password; always ends with a break (B0)."""
        if self.password is None:
            raise ValueError(f"{self.name}: no password for programming mode (bench file: the position's "
                             "port.password); nothing was sent")
        self.sign_on("1")
        operand = self._reply()
        if not operand.startswith(SOH + b"P0"):
            raise ReplyError(self.name, f"expected the password request P0, got {operand!r}")
        try:
            self.transport.write_raw(command_frame("P1", f"({self.password})"))
            reply = self._reply()
            if reply != ACK:  # NAK, or B0 after too many wrong ones: never retried, it would lock the meter
                raise PasswordRejected(self.name, f"password refused (meter answered {reply!r})")
            yield ProgrammingSession(self)
        except BaseException:
            with contextlib.suppress(BenchFault):  # the original error matters more than a failed goodbye
                self.transport.write_raw(command_frame("B0"))
            raise
        self.transport.write_raw(command_frame("B0"))

    def read(self, address: str) -> str:
        with self.programming() as session:
            return session.read(address)

    def write(self, address: str, value: str) -> None:
        with self.programming() as session:
            session.write(address, value)
