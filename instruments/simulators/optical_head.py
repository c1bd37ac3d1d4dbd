"""Simulated optical head: a meter's optical port served as an RFC 2217 serial server, enforcing the line.

A lab reaches an optical probe through a serial server (RFC 2217, e.g. a Moxa NPort or ``ser2net``); this is that
server with the probe and the meter's UART behind it, modelled closely enough that serial client code is tested end
to end as on hardware:

* the client sets baud rate and byte format with RFC 2217 SET-BAUDRATE / SET-DATASIZE / SET-PARITY / SET-STOPSIZE
  (pyserial's own :class:`serial.rfc2217.PortManager` does the Telnet negotiation; this module gives it the line);
* every byte travels at the client's setting at the time it is on the wire (10 bits / baud for 7E1 and 8N1) and is
  received with the meter's setting: a byte at another baud rate is lost (framing error), a byte at another byte
  format is re-framed bit by bit as a UART would (7E1 read as 8N1 sets bit 7 on odd characters; 8N1 read as 7E1
  fails its parity check on half of them);
* the meter starts every dialogue at 300 Bd 7E1, switches to the baud rate Z of the acknowledgement ``ACK V Z Y``
  once that has fully arrived (IEC 62056-21:2002, 6.3.14), to 8N1 as well for mode E (HDLC), and back to 300 Bd 7E1
  at the end of the dialogue; a client that switches its own side while its acknowledgement is still on the wire
  garbles the acknowledgement's last bytes, exactly like a serial server applying the new setting at once;
* the meter answers a mode C message after its reaction time (200 ms; 20 ms when the manufacturer ID's third
  letter is lower case) and its replies take their line time.

Line errors are reported to the client as RFC 2217 NOTIFY-LINESTATE (framing error 0x08, parity error 0x04) -- for
the bytes the client receives, as a real serial server does, and also for the bytes the *meter* could not receive
(a diagnostic a real head cannot give) -- and kept, in words, in :attr:`OpticalHeadSession.violations` and
:attr:`OpticalHead.violations`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import Any

from serial import rfc2217  # type: ignore[import-untyped]

from instruments.simulators.iec62056 import ACK, BAUD_CHARS, MeterPort, MeterPortSession, PortState
from instruments.simulators.net import Output

#: mode C baud rate of each baud character (IEC 62056-21:2002, 6.3.14)
BAUD_RATES = {c: 300 * 2**i for i, c in enumerate(BAUD_CHARS)}
#: keep at most this many violations (a client hammering a wrong setting would fill memory otherwise)
MAX_VIOLATIONS = 50
#: replies go out in pieces of about this line time, so a client sees them arrive at the line rate
_PIECE_S = 0.01
LINESTATE_FRAMING = rfc2217.LINESTATE_MASK_FRAMING_ERROR
LINESTATE_PARITY = rfc2217.LINESTATE_MASK_PARTIY_ERROR


@dataclass(frozen=True)
class Line:
    """One end's UART setting."""

    baud: int = 300
    bits: int = 7
    parity: str = "E"  # N, E, O
    stop: int = 1

    def __str__(self) -> str:
        return f"{self.baud} Bd {self.bits}{self.parity}{self.stop}"

    @property
    def frame_bits(self) -> int:
        return 1 + self.bits + (self.parity != "N") + self.stop

    def char_time(self) -> float:
        return self.frame_bits / self.baud


INITIAL = Line(300, 7, "E", 1)


def _parity_bit(value: int, parity: str) -> int:
    ones = bin(value).count("1")
    return ones % 2 if parity == "E" else 1 - ones % 2


def uart(byte: int, tx: Line, rx: Line) -> tuple[int | None, int]:
    """The character a UART set to ``rx`` receives when ``byte`` is sent with ``tx``: (value or None, linestate
    error bits). Another baud rate loses the character (framing error); another byte format re-frames its bits."""
    if tx.baud != rx.baud:
        return None, LINESTATE_FRAMING
    if (tx.bits, tx.parity, tx.stop) == (rx.bits, rx.parity, rx.stop):
        return byte & ((1 << tx.bits) - 1), 0
    data = byte & ((1 << tx.bits) - 1)
    bits = [(data >> i) & 1 for i in range(tx.bits)]
    if tx.parity != "N":
        bits.append(_parity_bit(data, tx.parity))
    bits += [1] * 12  # stop bits, then the idle line
    value = sum(b << i for i, b in enumerate(bits[: rx.bits]))
    pos = rx.bits
    if rx.parity != "N":
        if bits[pos] != _parity_bit(value, rx.parity):
            return None, LINESTATE_PARITY
        pos += 1
    if bits[pos] != 1:
        return None, LINESTATE_FRAMING
    return value, 0


class _ProbeUart:
    """The 'serial port' that pyserial's :class:`PortManager` configures: the client's side of the line."""

    def __init__(self, head: OpticalHeadSession) -> None:
        self._head = head
        self.line = INITIAL
        self.xonxoff = False
        self.rtscts = False
        self.dtr = True
        self.rts = True
        self.break_condition = False
        self.cts = self.dsr = self.cd = True
        self.ri = False

    def _set(self, **change: Any) -> None:
        old, self.line = self.line, Line(**{**self.line.__dict__, **change})
        if old != self.line:
            self._head.client_line_changed(old)

    @property
    def baudrate(self) -> int:
        return self.line.baud

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        if not 50 <= value <= 115200:
            raise ValueError(f"baud rate {value} not supported")
        self._set(baud=int(value))

    @property
    def bytesize(self) -> int:
        return self.line.bits

    @bytesize.setter
    def bytesize(self, value: int) -> None:
        if value not in (5, 6, 7, 8):
            raise ValueError(f"data size {value} not supported")
        self._set(bits=int(value))

    @property
    def parity(self) -> str:
        return self.line.parity

    @parity.setter
    def parity(self, value: str) -> None:
        if value not in ("N", "E", "O"):
            raise ValueError(f"parity {value!r} not supported")
        self._set(parity=value)

    @property
    def stopbits(self) -> float:
        return self.line.stop

    @stopbits.setter
    def stopbits(self, value: float) -> None:
        if value not in (1, 2):
            raise ValueError(f"stop bits {value} not supported")
        self._set(stop=int(value))

    def reset_input_buffer(self) -> None:
        self._head.purge_to_meter()

    def reset_output_buffer(self) -> None:
        self._head.purge_to_client()


class _Capture:
    """The meter session's :class:`Output`: its replies are collected, then sent at the line rate."""

    def __init__(self, head: OpticalHeadSession) -> None:
        self.head = head
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def pending(self) -> bool:
        return bool(self.head._to_client)

    def discard(self) -> None:
        self.head.purge_to_client()

    def close(self) -> None:
        if self.head._out is not None:
            self.head._out.close()


class OpticalHead:
    """The RFC 2217 endpoint of one meter's optical port (a :class:`~instruments.simulators.net.Device`)."""

    def __init__(self, port: MeterPort) -> None:
        self.port = port
        self.violations: deque[str] = deque(maxlen=MAX_VIOLATIONS)
        self.meter: Any = port.meter
        manufacturer = port.manufacturer
        #: the meter's reaction time (IEC 62056-21:2002, 6.3.14 / Annex: 20 ms for a lower-case third letter)
        self.reaction_s = 0.02 if manufacturer[2].islower() else 0.2

    def new_session(self) -> OpticalHeadSession:
        return OpticalHeadSession(self)

    def power_loss(self) -> None:
        self.port.power_loss()


class OpticalHeadSession:
    """One client of the head: Telnet/RFC 2217 in, the modelled line, the meter's mode C session behind it."""

    def __init__(self, head: OpticalHead) -> None:
        self.head = head
        self.meter_session: MeterPortSession = head.port.new_session()
        self.meter_line = INITIAL
        self.uart = _ProbeUart(self)
        self._out: Output | None = None
        self._manager: Any = None
        self.violations: list[str] = []
        self._to_meter: deque[int] = deque()
        self._to_client: deque[tuple[bytes, Line, float]] = deque()  # (bytes, meter line, not before)
        self._wake_in = asyncio.Event()
        self._wake_out = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._recent = bytearray()  # the last bytes the meter received (its option message)
        self._client_changed_at = -1.0
        self._meter_busy_until = 0.0  # end of the character on the wire towards the meter

    # -- Session protocol -----------------------------------------------------------------------
    def data_received(self, data: bytes, out: Output) -> None:
        if self._manager is None:
            self._start(out)
        for byte in self._manager.filter(data):
            self._to_meter.append(byte[0])
        if self._to_meter:
            self._wake_in.set()

    def eof_received(self, out: Output) -> None:
        pass

    def connection_lost(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._out = None
        self.meter_session.connection_lost()

    def _start(self, out: Output) -> None:
        self._out = out
        self._manager = rfc2217.PortManager(self.uart, out)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump_to_meter()), loop.create_task(self._pump_to_client())]

    # -- line events ----------------------------------------------------------------------------
    def _violation(self, text: str, linestate: int) -> None:
        if len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(text)
        self.head.violations.append(text)
        if self._manager is not None and self._out is not None:
            self._manager.rfc2217_send_subnegotiation(rfc2217.SERVER_NOTIFY_LINESTATE, bytes([linestate]))

    def client_line_changed(self, old: Line) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._client_changed_at = now
        if self._meter_busy_until > now or self._to_meter:
            left = len(self._to_meter) + (self._meter_busy_until > now)
            self._violation(
                f"the client switched its line from {old} to {self.uart.line} while {left} byte(s) were still on "
                f"the wire at {old}: switched too early (switch only after the last byte has left the wire)",
                LINESTATE_FRAMING,
            )

    def purge_to_meter(self) -> None:
        self._to_meter.clear()

    def purge_to_client(self) -> None:
        self._to_client.clear()

    # -- client → meter -------------------------------------------------------------------------
    async def _pump_to_meter(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake_in.wait()
            self._wake_in.clear()
            while self._to_meter:
                byte = self._to_meter.popleft()
                tx = self.uart.line
                start = max(loop.time(), self._meter_busy_until)
                end = self._meter_busy_until = start + tx.char_time()
                if end > loop.time():
                    await asyncio.sleep(end - loop.time())
                if self._client_changed_at > start:  # the setting changed under the character
                    self._receive(None, 0, tx)
                    continue
                value, error = uart(byte, tx, self.meter_line)
                self._receive(value, error, tx)

    def _receive(self, value: int | None, error: int, tx: Line) -> None:
        if value is None:
            state = self.meter_session.state.value
            self._violation(f"the meter ({self.meter_line}, {state}) could not receive a byte sent at {tx}"
                            f" ({'parity' if error == LINESTATE_PARITY else 'framing'} error)",
                            error or LINESTATE_FRAMING)
            return
        before = self.meter_session.state
        capture = _Capture(self)
        self.meter_session.data_received(bytes([value]), capture)
        self._recent = (self._recent + bytes([value]))[-6:]
        after = self.meter_session.state
        if before is PortState.OPTION and self._accepted_option(after, bool(capture.data)):
            z = chr(self._recent[2])
            hdlc = after is PortState.HDLC
            self.meter_line = Line(BAUD_RATES[z], 8 if hdlc else 7, "N" if hdlc else "E", 1)
        if capture.data:
            delay = 0.0 if after is PortState.HDLC else self.head.reaction_s
            loop = asyncio.get_running_loop()
            self._to_client.append((bytes(capture.data), self.meter_line, loop.time() + delay))
            self._wake_out.set()
        if after is PortState.IDLE:
            self.meter_line = INITIAL  # end of the dialogue: the meter listens at 300 Bd 7E1 again

    def _accepted_option(self, after: PortState, answered: bool) -> bool:
        r = self._recent
        if len(r) < 6 or r[0] != ACK or r[4:] != b"\r\n" or chr(r[2]) not in BAUD_RATES:
            return False
        return after in (PortState.PASSWORD, PortState.HDLC) or answered

    # -- meter → client -------------------------------------------------------------------------
    async def _pump_to_client(self) -> None:
        loop = asyncio.get_running_loop()
        busy_until = 0.0
        while True:
            await self._wake_out.wait()
            self._wake_out.clear()
            while self._to_client:
                data, tx, not_before = self._to_client.popleft()
                t = max(loop.time(), not_before, busy_until)
                if t > loop.time():
                    await asyncio.sleep(t - loop.time())
                per_piece = max(1, int(_PIECE_S / tx.char_time()))
                for i in range(0, len(data), per_piece):
                    piece = data[i : i + per_piece]
                    t += len(piece) * tx.char_time()
                    if t > loop.time():
                        await asyncio.sleep(t - loop.time())
                    self._to_client_piece(piece, tx)
                busy_until = t

    def _to_client_piece(self, piece: bytes, tx: Line) -> None:
        if self._out is None:
            return
        rx = self.uart.line
        good = bytearray()
        errors = 0
        for byte in piece:
            value, error = uart(byte, tx, rx)
            errors |= error
            if value is not None:
                good.append(value)
        if errors:
            cause = "did the client switch baud after the acknowledgement?" if tx.baud != rx.baud else "byte format"
            self._violation(f"the meter answered at {tx} but the client listens at {rx}: {cause}", errors)
        if good:
            with contextlib.suppress(Exception):
                self._out.write(bytes(good).replace(rfc2217.IAC, rfc2217.IAC_DOUBLED))
