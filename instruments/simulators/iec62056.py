"""IEC 62056-21 (ex IEC 1107) mode C optical port of one simulated meter, served over TCP.

A serial-to-TCP server in front of an optical probe carries the bytes unchanged, so the session speaks the
protocol exactly as on the wire (7E1 framing and baud rate switching have no meaning over TCP and are not
simulated; the baud character is checked only for validity). Sign-on, data readout, programming mode
(password, read, write, break) and the byte-level replies are listed in docs/meter-port.md.

Register values are read from the physics :class:`Meter` at the moment the request arrives (virtual
time), and W1 writes go to it (clock, energy register presets, serial number); the port is silent whenever
``meter.port_alive`` is false, as a dead meter is. Garbage costs work linear in its length: the pending input is
never longer than the longest valid request or frame.
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import Protocol

from instruments.simulators.net import Output, Session

SOH, STX, ETX, ACK, NAK = 0x01, 0x02, 0x03, 0x06, 0x15
CRLF = b"\r\n"

#: baud-rate characters of mode C (IEC 62056-21:2002, 6.3): "0" 300 Bd … "5" 9600 Bd … "6" 19200 Bd
BAUD_CHARS = "0123456"
#: a payment meter's token entry (W1; R1 gives the last token's result) and available credit (R1), by their OBIS
#: codes without the A and F groups (Token Gateway 0.0.19.40.0.255, Account 0.0.19.0.0.255; the addresses are ours)
TOKEN_ADDRESS = "19.40.0"
CREDIT_ADDRESS = "19.0.0"
#: ``/?`` + a device address of up to 32 characters + ``!`` CR LF (IEC 62056-21:2002, 6.3)
_MAX_REQUEST = 2 + 32 + 3
#: longest programming command frame accepted before the input is dropped and a NAK sent
MAX_FRAME = 256
PASSWORD_ATTEMPTS = 3

ENERGY_REGISTERS = ("1.8.0", "1.8.1", "1.8.2", "2.8.0")
ERROR_REPLY = "(ERROR)"
#: bytes that can start a message in programming mode: SOH (command), NAK (repeat), "/" (new sign-on)
_PROGRAMMING_START = re.compile(rb"[\x01\x15/]")
#: W1 value of an energy register: 6+3 digits as the register shows them, unit optional
_ENERGY_VALUE = re.compile(r"(\d{1,6})(?:\.(\d{1,3}))?(?:\*kWh)?")

_ADDRESS = re.compile(r"[0-9A-Za-z ]{0,32}")
_DATA_SET = re.compile(r"([^()]*)\(([^()]*)\)")
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})")
_DATE = re.compile(r"(\d{2})-(\d{2})-(\d{2})")


class MeterModel(Protocol):
    """What the port needs from the world's ``Meter`` (docs/simulator-design.md)."""

    @property
    def serial(self) -> str: ...
    @property
    def registers(self) -> Mapping[str, float]: ...
    @property
    def password(self) -> str: ...
    @property
    def port_alive(self) -> bool: ...
    @property
    def pulsing(self) -> bool: ...
    @property
    def alive(self) -> bool: ...
    @property
    def failure_mode(self) -> str | None: ...

    def clock_datetime(self) -> datetime: ...
    def set_clock(self, dt: datetime) -> None: ...
    def preset_register(self, address: str, kwh: float) -> None: ...
    def set_serial(self, serial: str) -> None: ...
    def power_interruption(self) -> None: ...


def bcc(data: bytes) -> int:
    """Block check character: XOR of ``data`` (IEC 62056-21:2002, 6.3: the bytes after the first
    SOH or STX up to and including ETX)."""
    value = 0
    for byte in data:
        value ^= byte
    return value


def block(first: int, body: bytes) -> bytes:
    """``first`` (SOH or STX) + ``body`` (which ends in ETX) + BCC."""
    return bytes([first]) + body + bytes([bcc(body)])


def energy_text(kwh: float) -> str:
    """Energy as a 6+3 digit register: truncated to whole Wh (a register never shows energy it has not
    counted yet; rounding to 1 µWh first, so a preset of ``x.yyy`` kWh reads back as written) and rolled over
    at 1 000 000 kWh like a 9-digit counter."""
    wh = math.floor(round(kwh * 1000.0, 6)) % 1_000_000_000
    return f"{wh // 1000:06d}.{wh % 1000:03d}"


class PortState(Enum):
    IDLE = "idle"  # waiting for a request message /?…!
    OPTION = "option"  # identification sent, waiting for ACK V Z Y
    PASSWORD = "password"  # programming mode, password request P0 sent
    PROGRAMMING = "programming"  # password accepted
    HDLC = "hdlc"  # mode E: switched over to HDLC (IEC 62056-46), the bytes belong to the DLMS server


class MeterPort:
    """Mode C port of one meter position.

    ``manufacturer`` is the 3-letter ID (upper-case third letter: 200 ms reaction time), by default the
    meter's own (its type's ``manufacturer``) or ``MHL``; ``ident`` is the identification after the baud
    character (≤ 16 characters), by default the meter's model name or ``MHLSIM-<connection>``.
    ``on_serial_change`` is called with the new serial after a W1 of C.1.0 (the bench updates its endpoint list).
    """

    def __init__(
        self,
        meter: MeterModel,
        manufacturer: str | None = None,
        ident: str | None = None,
        baud_char: str = "5",
    ) -> None:
        if manufacturer is None:
            manufacturer = str(getattr(meter, "manufacturer", None) or "MHL")
        if not re.fullmatch(r"[A-Za-z]{3}", manufacturer):
            raise ValueError(f"manufacturer ID must be 3 letters, got {manufacturer!r}")
        if ident is None:
            model = str(getattr(meter, "model", "") or "MHLSIM-" + str(getattr(meter, "connection", "")))
            ident = "".join(c for c in model if c.isascii() and c.isprintable() and c not in "/!")[:16]
        if len(ident) > 16 or any(c in "/!" or not (c.isascii() and c.isprintable()) for c in ident):
            raise ValueError(f"identification must be ≤ 16 printable ASCII characters, no / or !: {ident!r}")
        if baud_char not in BAUD_CHARS:
            raise ValueError(f"baud character must be one of {BAUD_CHARS}, got {baud_char!r}")
        self.meter = meter
        self.manufacturer = manufacturer
        self.ident = ident
        self.baud_char = baud_char
        self._sessions: weakref.WeakSet[MeterPortSession] = weakref.WeakSet()
        self.on_serial_change: Callable[[str], None] | None = None
        #: mode E: the meter's HDLC session factory (its DLMS server); None: mode C only
        self.hdlc: Callable[[], Session] | None = None

    def new_session(self) -> MeterPortSession:
        session = MeterPortSession(self)
        self._sessions.add(session)
        return session

    def power_loss(self) -> None:
        """RESET of a meter port is a short power failure of the meter: C.7.0 counts one (if it was powered),
        and the port electronics restart, every session back at the sign-on stage with nothing half-received."""
        self.meter.power_interruption()
        for session in list(self._sessions):
            session.reset()

    # -- messages ------------------------------------------------------------------------------
    def identification(self) -> bytes:
        """``/XXXZ\\2Ident``: the escape ``\\2`` after the baud character announces mode E, HDLC on request
        (IEC 62056-21:2002, 6.3.14 enhanced capability) when the meter speaks DLMS."""
        enhanced = "\\2" if self.hdlc is not None else ""
        return f"/{self.manufacturer}{self.baud_char}{enhanced}{self.ident}".encode("ascii") + CRLF

    def addressed(self, address: str) -> bool:
        """An empty address reaches any meter (one probe, one meter); otherwise it must be the serial."""
        return address in ("", self.meter.serial)

    def registers(self) -> dict[str, Callable[[], str]]:
        """Address → formatter of the value in brackets (unit included), evaluated at request time."""
        m = self.meter
        regs: dict[str, Callable[[], str]] = {
            "C.1.0": lambda: m.serial,
            "0.9.1": lambda: m.clock_datetime().strftime("%H:%M:%S"),
            "0.9.2": lambda: m.clock_datetime().strftime("%y-%m-%d"),
        }
        for address in ENERGY_REGISTERS:
            regs[address] = self._energy(address)
        regs["C.7.0"] = lambda: f"{int(getattr(m, 'power_failures', 0)):04d}"
        regs["F.F"] = lambda: f"{self.error_register():08X}"
        payment = getattr(m, "payment", None)
        if payment is not None:  # a payment meter: available credit, the last token's result (keypad entry)
            regs[CREDIT_ADDRESS] = lambda: energy_text(max(payment.available, 0.0)) + "*kWh"
            regs[TOKEN_ADDRESS] = lambda: (payment.decoder.last.reason.name.lower()
                                           if payment.decoder.last is not None else "none")
        return regs

    def _energy(self, address: str) -> Callable[[], str]:
        return lambda: energy_text(self.meter.registers.get(address, 0.0)) + "*kWh"

    def error_register(self) -> int:
        """F.F: bit 0 a failure the meter's self-check can see (any ``failure_mode`` except ``drift``: an
        accuracy drift is only found by testing), bit 1 the pulse output is off."""
        m = self.meter
        code = 0
        if m.failure_mode not in (None, "drift"):
            code |= 0x01
        if not m.pulsing:
            code |= 0x02
        return code

    def readout(self) -> bytes:
        """Data readout: STX data lines ``!`` CR LF ETX BCC (IEC 62056-21:2002, 6.3 and 6.4, mode C)."""
        order = ("C.1.0", "0.9.1", "0.9.2", *ENERGY_REGISTERS, "C.7.0", "F.F")
        regs = self.registers()
        lines = "".join(f"{a}({regs[a]()})\r\n" for a in order)
        return block(STX, (lines + "!\r\n").encode("ascii") + bytes([ETX]))

    def read(self, address: str) -> bytes:
        """Answer to R1: ``STX addr(value) ETX BCC``, or ``STX (ERROR) ETX BCC`` for an unknown address."""
        fmt = self.registers().get(address)
        text = ERROR_REPLY if fmt is None else f"{address}({fmt()})"
        return block(STX, text.encode("ascii") + bytes([ETX]))

    def write(self, address: str, value: str) -> bool:
        """W1 (False: refused). Writable: the clock (0.9.1 time ``hh:mm:ss``, 0.9.2 date ``YY-MM-DD``), the
        energy registers (a preset ``dddddd[.ddd]`` kWh, ``*kWh`` optional; the consistency rule is the meter's
        ``preset_register``) and the serial number C.1.0 (1 to 32 letters and digits), which is also the device
        address: from then on the port answers ``/?<new serial>!`` and no longer the old one."""
        if address in ENERGY_REGISTERS:
            return self._preset(address, value)
        payment = getattr(self.meter, "payment", None)
        if address == TOKEN_ADDRESS and payment is not None:
            # the port accepts the entry; whether the decoder takes the token, R1 of the same address tells
            payment.enter(value, "local")
            return True
        if address == "C.1.0":
            try:
                self.meter.set_serial(value)
            except ValueError:
                return False
            if self.on_serial_change is not None:
                self.on_serial_change(value)
            return True
        now = self.meter.clock_datetime()
        try:
            if address == "0.9.1" and (t := _TIME.fullmatch(value)):
                new = now.replace(hour=int(t[1]), minute=int(t[2]), second=int(t[3]), microsecond=0)
            elif address == "0.9.2" and (d := _DATE.fullmatch(value)):
                new = now.replace(year=2000 + int(d[1]), month=int(d[2]), day=int(d[3]))
            else:
                return False
        except ValueError:  # 25:00:00, 24-02-30, …
            return False
        self.meter.set_clock(new)
        return True

    def _preset(self, address: str, value: str) -> bool:
        m = _ENERGY_VALUE.fullmatch(value)
        if m is None:
            return False
        wh = int(m[1]) * 1000 + int((m[2] or "").ljust(3, "0"))  # exact: no decimal-to-binary surprise
        self.meter.preset_register(address, wh / 1000.0)
        return True


class MeterPortSession:
    """One connection to the port: the mode C state machine over a byte buffer."""

    def __init__(self, port: MeterPort) -> None:
        self.port = port
        self.state = PortState.IDLE
        self._buf = bytearray()
        self._last: bytes | None = None  # repeated on NAK from the client
        self._bad_passwords = 0
        self._hdlc: Session | None = None

    def reset(self) -> None:
        """Power-on state: idle, nothing half-received, no HDLC link."""
        self._buf.clear()
        if self._hdlc is not None:
            self._hdlc.connection_lost()
            self._hdlc = None
        self._to_idle()

    def _to_idle(self) -> None:
        """End of a dialogue; bytes already received after it are still parsed."""
        self.state = PortState.IDLE
        self._last = None
        self._bad_passwords = 0

    # -- Session protocol ----------------------------------------------------------------------
    def data_received(self, data: bytes, out: Output) -> None:
        if not self.port.meter.port_alive:
            self.reset()  # a dead meter hears nothing and keeps no half-received state
            return
        self._buf += data
        while self._buf and self._step(out):
            pass

    def eof_received(self, out: Output) -> None:
        pass

    def connection_lost(self) -> None:
        self.reset()

    # -- state machine -------------------------------------------------------------------------
    def _step(self, out: Output) -> bool:
        """Consume what the current state can; False when more bytes are needed."""
        if self.state is PortState.HDLC:
            assert self._hdlc is not None
            data = bytes(self._buf)
            self._buf.clear()
            self._hdlc.data_received(data, out)
            return False
        if self.state is PortState.IDLE:
            return self._idle(out)
        if self.state is PortState.OPTION:
            return self._option(out)
        return self._programming(out)

    def _send(self, out: Output, data: bytes) -> None:
        self._last = data
        out.write(data)

    def _idle(self, out: Output) -> bool:
        buf = self._buf
        start = buf.find(b"/")
        if start < 0:
            buf.clear()  # noise (wake-up NULs, line garbage) before a request is ignored
            return False
        del buf[:start]
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) > _MAX_REQUEST:
                # what is pending cannot be one request: a request still to complete starts at a "/" among
                # the last _MAX_REQUEST bytes, so everything before the first such "/" goes (linear work)
                start = buf.find(b"/", len(buf) - _MAX_REQUEST)
                if start < 0:
                    buf.clear()
                else:
                    del buf[:start]
            return False
        line = bytes(buf[: end + 1])
        del buf[: end + 1]
        if len(line) > _MAX_REQUEST or not (line.startswith(b"/?") and line.endswith(b"!\r\n")):
            return True
        address = line[2:-3].decode("latin-1")
        if _ADDRESS.fullmatch(address) and self.port.addressed(address):
            self._send(out, self.port.identification())
            self.state = PortState.OPTION
        return True  # another address: this meter stays silent

    def _option(self, out: Output) -> bool:
        """ACK V Z Y CR LF (IEC 62056-21:2002, 6.3): V "0" normal protocol, Z baud ≤ the proposed one,
        Y "0" data readout, "1" programming mode."""
        buf = self._buf
        if buf[0] != ACK:
            self.state = PortState.IDLE  # anything else ends the sign-on; a new "/" starts over
            return True
        if len(buf) < 6:
            return False
        msg = bytes(buf[:6])
        del buf[:6]
        self.state = PortState.IDLE
        protocol, baud, mode = chr(msg[1]), chr(msg[2]), chr(msg[3])
        offered = BAUD_CHARS[: BAUD_CHARS.index(self.port.baud_char) + 1]
        if msg[4:] == CRLF and protocol == "2" and mode == "2" and baud in offered and self.port.hdlc is not None:
            # mode E, HDLC (IEC 62056-21:2002, 6.4.5 / Annex E): no answer, both sides switch to HDLC at baud Z
            self.state = PortState.HDLC
            self._hdlc = self.port.hdlc()
            return True
        if msg[4:] != CRLF or protocol != "0" or baud not in offered:
            return True
        if mode == "0":
            self._send(out, self.port.readout())
        elif mode == "1":
            operand = f"({self.port.meter.serial})".encode("ascii")
            self._send(out, block(SOH, b"P0" + bytes([STX]) + operand + bytes([ETX])))
            self.state = PortState.PASSWORD
            self._bad_passwords = 0
        return True  # other modes (binary / manufacturer specific) are not offered: back to idle

    def _programming(self, out: Output) -> bool:
        buf = self._buf
        first = buf[0]
        if first == NAK:  # the client asks for the last message again
            del buf[:1]
            if self._last is not None:
                out.write(self._last)
            return True
        if first == ord("/"):  # a new sign-on ends programming mode (as the inactivity time-out would)
            self._to_idle()
            return True
        if first != SOH:  # noise: skip to the next byte that can start a message, in one go
            m = _PROGRAMMING_START.search(buf)
            if m is None:
                buf.clear()
                return False
            del buf[: m.start()]
            return True
        etx = buf.find(bytes([ETX]))
        if etx < 0 or etx + 1 >= len(buf):
            if len(buf) > MAX_FRAME:
                buf.clear()
                out.write(bytes([NAK]))
            return False
        frame = bytes(buf[: etx + 2])
        del buf[: etx + 2]
        body = frame[1:-1]
        if bcc(body) != frame[-1] or len(frame) > MAX_FRAME:
            out.write(bytes([NAK]))  # repeat request (IEC 62056-21:2002, 6.3): the client sends it again
            return True
        self._command(out, body)
        return True

    def _command(self, out: Output, body: bytes) -> None:
        """``body`` = command, type, then STX data set ETX, or ETX alone (break)."""
        cmd = body[:2].decode("latin-1")
        if cmd[:1] == "B":
            self._to_idle()  # break (B0): back to idle, no answer
            return
        if len(body) < 5 or body[2] != STX:
            out.write(bytes([NAK]))
            return
        m = _DATA_SET.fullmatch(body[3:-1].decode("latin-1"))
        if m is None:
            out.write(bytes([NAK]))
            return
        address, value = m[1], m[2]
        authorised = self.state is PortState.PROGRAMMING
        if cmd == "P1":
            self._password(out, value)
        elif cmd == "R1":
            self._send(out, self.port.read(address) if authorised else _error_message())
        elif cmd == "W1" and authorised and self.port.write(address, value):
            self._send(out, bytes([ACK]))
        else:
            out.write(bytes([NAK]))  # write refused, or a command we do not implement

    def _password(self, out: Output, password: str) -> None:
        if password == self.port.meter.password:
            self.state = PortState.PROGRAMMING
            self._bad_passwords = 0
            self._send(out, bytes([ACK]))
            return
        self._bad_passwords += 1
        if self._bad_passwords >= PASSWORD_ATTEMPTS:
            out.write(block(SOH, b"B0" + bytes([ETX])))  # too many wrong passwords: the meter hangs up
            self._to_idle()
        else:
            out.write(bytes([NAK]))


def _error_message() -> bytes:
    return block(STX, ERROR_REPLY.encode("ascii") + bytes([ETX]))
