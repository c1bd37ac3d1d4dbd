"""Serial lines to meter ports (optical probes, RS-485) on pyserial: the VisaTransport interface over
``serial.serial_for_url`` -- a local device (``/dev/ttyUSB0``, ``COM3``), ``rfc2217://host:port`` (a serial
server), ``socket://host:port`` (a raw TCP serial server) or ``loop://``.

Beyond the byte I/O the drivers already use (``write_raw``, ``read_bytes``, ``read_until``, transcript, timeouts,
reconnect) it offers :meth:`SerialTransport.switch_baud`, the hook the IEC 62056-21 and DLMS mode E openings call:
it waits until every byte written so far has left the wire (bytes × bits per character / baud, plus a margin:
neither a serial server nor a USB adapter tells when its FIFO is empty) and then changes baud rate and byte format.

Line errors a serial server reports (RFC 2217 NOTIFY-LINESTATE: framing, parity) turn a silent line into a
:class:`LineError` that names the likely cause: the two ends are at another baud rate or byte format.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from typing import Any

import serial  # type: ignore[import-untyped]
import serial.rs485  # type: ignore[import-untyped]

from instruments.drivers.errors import InstrumentConnectionError, InstrumentTimeout
from instruments.drivers.transcript import Transcript
from instruments.drivers.transport import reopen

#: resources that select this transport in a bench file (anything else is a VISA resource)
URL_SCHEMES = ("rfc2217://", "socket://", "loop://")
_DEVICE = re.compile(r"(/dev/.+|COM\d+|\\\\\.\\COM\d+)")
_FORMAT = re.compile(r"([5-8])([NEO])([12])")
#: the bench-file options this transport takes (the driver gets the others)
OPTIONS = ("initial_baud", "byte_format", "switch_margin_s", "rs485", "exclusive")
_FRAMING, _PARITY = 0x08, 0x04


def is_serial_resource(resource: str) -> bool:
    """A bench-file resource naming a serial line rather than a VISA resource."""
    return resource.startswith(URL_SCHEMES) or _DEVICE.fullmatch(resource) is not None


def parse_byte_format(text: str) -> tuple[int, str, int]:
    """``7E1`` → (7, "E", 1); ValueError naming the accepted form."""
    m = _FORMAT.fullmatch(str(text).strip().upper())
    if m is None:
        raise ValueError(f"byte format {text!r} is not <data bits 5-8><parity N/E/O><stop bits 1/2>, e.g. 7E1 or 8N1")
    return int(m[1]), m[2], int(m[3])


class LineError(InstrumentTimeout):
    """The line carried characters the receiving UART could not frame: baud rate or byte format mismatch."""


class SerialTransport:
    """Byte I/O with one meter port over a serial line (pyserial). Same interface as
    :class:`~instruments.drivers.transport.VisaTransport` for the byte-level drivers."""

    def __init__(
        self,
        name: str,
        resource: str,
        *,
        timeout_s: float = 5.0,
        initial_baud: int = 300,
        byte_format: str = "7E1",
        switch_margin_s: float = 0.02,
        rs485: bool = False,
        exclusive: bool = True,
        reconnects: int = 1,
        reconnect_delay_s: float = 0.2,
        transcript: Transcript | None = None,
        encoding: str = "latin-1",
        read_termination: str | None = None,
        write_termination: str = "",
    ) -> None:
        self.name = name
        self.resource = resource
        self.timeout_s = timeout_s
        try:
            self.initial_format = parse_byte_format(byte_format)
        except ValueError as exc:
            raise ValueError(f"{name} at {resource}: {exc}") from None
        if int(initial_baud) not in serial.SerialBase.BAUDRATES:
            raise ValueError(f"{name} at {resource}: initial_baud {initial_baud!r} is not a standard baud rate")
        self.initial_baud = int(initial_baud)
        self.switch_margin_s = switch_margin_s
        self.rs485 = rs485
        self.exclusive = exclusive
        self.reconnects = reconnects
        self.reconnect_delay_s = reconnect_delay_s
        self.transcript = transcript if transcript is not None else Transcript()
        self.encoding = encoding
        self.read_termination = read_termination
        self.write_termination = write_termination
        self.on_reconnect: list[Callable[[], None]] = []
        self._ser: Any = None
        self._buf = bytearray()
        self._baud = self.initial_baud
        self._format = self.initial_format
        self._tx_done_at = 0.0  # when the last written byte has left the wire (monotonic)

    # -- session ----------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._ser is not None

    @property
    def baud(self) -> int:
        return self._baud

    def _fail(self, message: str) -> InstrumentConnectionError:
        return InstrumentConnectionError(self.name, f"serial port {self.resource}: {message}")

    def open(self) -> None:
        if self._ser is not None:
            return
        bits, parity, stop = self.initial_format
        kwargs: dict[str, Any] = {"baudrate": self.initial_baud, "bytesize": bits, "parity": parity,
                                  "stopbits": stop, "timeout": self.timeout_s, "do_not_open": True}
        try:
            ser = serial.serial_for_url(self.resource, **kwargs)
            if _DEVICE.fullmatch(self.resource) and self.exclusive:
                ser.exclusive = True
            if self.rs485:
                ser.rs485_mode = serial.rs485.RS485Settings()
            ser.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            text = str(exc)
            if "exclusively lock" in text or "Device or resource busy" in text or "[Errno 16]" in text:
                raise self._fail(f"in use by another program or bench position ({text})") from exc
            if "No such file" in text or "[Errno 2]" in text or "could not open port" in text.lower():
                raise self._fail(f"cannot open: {text}") from exc
            raise self._fail(text) from exc
        self._ser = ser
        self._buf.clear()
        self._baud, self._format = self.initial_baud, self.initial_format
        self._tx_done_at = 0.0
        self.transcript.add(self.name, "event", f"open {self.resource} {self.initial_baud} Bd "
                                                f"{bits}{parity}{stop}")

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            with contextlib.suppress(Exception):
                ser.close()
            self.transcript.add(self.name, "event", "close")

    def reconnect(self) -> None:
        reopen(self)

    def _port(self) -> Any:
        if self._ser is None:
            self.open()
        return self._ser

    # -- line settings ----------------------------------------------------------------------------
    def char_time(self) -> float:
        bits, parity, stop = self._format
        return (1 + bits + (parity != "N") + stop) / self._baud

    def wait_sent(self) -> None:
        """Block until every byte written so far has left the wire (line time plus the margin)."""
        ser = self._port()
        if _DEVICE.fullmatch(self.resource):
            with contextlib.suppress(Exception):
                ser.flush()  # tcdrain: the kernel's buffer; the adapter's FIFO is what the margin covers
        left = self._tx_done_at + self.switch_margin_s - time.monotonic()
        if left > 0:
            time.sleep(left)

    def switch_baud(self, baud: int | None, byte_format: str | None = None) -> None:
        """Change to ``baud`` (None: the initial baud rate) and ``byte_format`` (None: the initial one) once the
        bytes written so far have left the wire. Nothing is sent when the line already has that setting."""
        new_baud = self.initial_baud if baud is None else int(baud)
        new_format = self.initial_format if byte_format is None else parse_byte_format(byte_format)
        if (new_baud, new_format) == (self._baud, self._format):
            return
        ser = self._port()
        self.wait_sent()
        bits, parity, stop = new_format
        try:
            # one reconfiguration for all four settings (each property setter would send and wait on its own)
            ser._bytesize, ser._parity, ser._stopbits = bits, parity, stop
            ser.baudrate = new_baud
        except (serial.SerialException, OSError, ValueError) as exc:
            raise self._fail(f"cannot switch to {new_baud} Bd {bits}{parity}{stop}: {exc}") from exc
        self._baud, self._format = new_baud, new_format
        self.transcript.add(self.name, "event", f"line {new_baud} Bd {bits}{parity}{stop}")

    # -- I/O --------------------------------------------------------------------------------------
    def _linestate_errors(self) -> int:
        state = int(getattr(self._ser, "_linestate", 0) or 0)  # pyserial's rfc2217 client keeps NOTIFY-LINESTATE
        return state & (_FRAMING | _PARITY)

    def _timeout(self, what: str) -> InstrumentTimeout:
        errors = self._linestate_errors()
        self.transcript.add(self.name, "error", f"timeout after {self.timeout_s:g} s: {what}")
        if errors:
            with contextlib.suppress(Exception):
                self._ser._linestate = 0
            kind = " and ".join(k for bit, k in ((_FRAMING, "framing"), (_PARITY, "parity")) if errors & bit)
            bits, parity, stop = self._format
            return LineError(
                self.name,
                f"no valid reply within {self.timeout_s:g} s to {what!r} at {self.resource}: the serial line reports "
                f"{kind} errors, so the two ends are at different baud rates or byte formats (this end: "
                f"{self._baud} Bd {bits}{parity}{stop}) -- switch baud after the identification, and only once the "
                "acknowledgement has left the wire",
            )
        return InstrumentTimeout(self.name, f"no reply within {self.timeout_s:g} s to {what!r} at {self.resource}")

    def _fill(self, deadline: float, what: str) -> None:
        ser = self._port()
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._timeout(what)
        ser._timeout = left  # not the property: pyserial's setter reconfigures the port (RFC 2217: a round trip)
        try:
            chunk = ser.read(max(1, ser.in_waiting))
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise self._fail(f"connection lost during {what!r}: {exc}") from exc
        if not chunk:
            raise self._timeout(what)
        self._buf += chunk

    def _deadline(self) -> float:
        """The read timeout runs from the moment the request has left the wire (at 300 Bd a sign-on takes 0.6 s)."""
        return max(time.monotonic(), self._tx_done_at) + self.timeout_s

    def write_raw(self, data: bytes, transcribe: bool = True, check_link: bool = True) -> None:
        if transcribe:
            self.transcript.add(self.name, "write", data.decode(self.encoding))
        ser = self._port()
        try:
            ser.write(data)
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise self._fail(f"connection lost writing {len(data)} bytes: {exc}") from exc
        self._tx_done_at = max(time.monotonic(), self._tx_done_at) + len(data) * self.char_time()

    def write(self, command: str) -> None:
        self.write_raw(command.encode(self.encoding) + self.write_termination.encode(self.encoding))

    def read_bytes(self, count: int, transcribe: bool = True) -> bytes:
        deadline = self._deadline()
        while len(self._buf) < count:
            self._fill(deadline, f"read {count} bytes")
        out = bytes(self._buf[:count])
        del self._buf[:count]
        if transcribe:
            self.transcript.add(self.name, "read", out.decode(self.encoding))
        return out

    def read_until(self, terminator: bytes, extra: int = 0) -> bytes:
        deadline = self._deadline()
        start = 0
        while True:
            i = self._buf.find(terminator, start)
            if i >= 0 and len(self._buf) >= i + len(terminator) + extra:
                end = i + len(terminator) + extra
                out = bytes(self._buf[:end])
                del self._buf[:end]
                self.transcript.add(self.name, "read", out.decode(self.encoding))
                return out
            if i < 0:
                start = max(0, len(self._buf) - len(terminator) + 1)
            self._fill(deadline, f"read until {terminator!r}")

    def query(self, command: str) -> str:
        self.write(command)
        term = (self.read_termination or "\n").encode(self.encoding)
        return self.read_until(term)[: -len(term)].decode(self.encoding)


def serial_transport(name: str, resource: str, options: dict[str, Any], **kwargs: Any) -> SerialTransport:
    """A transport from a bench file's port options: the serial ones (:data:`OPTIONS`) are taken out of
    ``options``, the rest stay for the driver. ValueError (naming the meter and the port) for bad settings."""
    mine = {k: options.pop(k) for k in OPTIONS if k in options}
    return SerialTransport(name, resource, **mine, **kwargs)
