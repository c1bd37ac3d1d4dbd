"""One pyvisa session to one instrument: transcript, timeouts, bounded reconnects, and a fast socket path.

pyvisa-py 0.8.1 leaves TCP_NODELAY off on ``::SOCKET`` resources and refuses ``VI_ATTR_TCPIP_NODELAY`` (its setter
is wired to the generic ``_set_attribute``, which raises). With Nagle on, a ``write`` followed by a ``query`` waits
for the peer's delayed ACK (≈ 40 ms per pair). Its read path also costs ≈ 50 µs per reply (attribute look-ups and a
select loop per call) and takes an EOF for "no data yet", so a dropped link looks like a timeout.

So: pyvisa-py opens, owns and closes the session (resource parsing, connect, the VISA model); for ``::SOCKET``
sessions we switch Nagle off on its socket and do the byte I/O on that socket ourselves, with our own receive
buffer. Any other resource type (INSTR, HiSLIP, GPIB, USB, serial) goes through pyvisa's own I/O.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pyvisa
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.drivers.errors import InstrumentConnectionError, InstrumentTimeout
from instruments.drivers.transcript import Transcript

T = TypeVar("T")

#: VISA status codes that mean the link is gone (reconnecting may help), as opposed to a timeout
_CONNECTION_LOST = {
    constants.StatusCode.error_connection_lost,
    constants.StatusCode.error_io,
    constants.StatusCode.error_invalid_object,
    constants.StatusCode.error_resource_not_found,
}
_RECV = 65536

_default_rm: pyvisa.ResourceManager | None = None


def resource_manager() -> pyvisa.ResourceManager:
    """The process-wide pyvisa-py resource manager (``@py``)."""
    global _default_rm
    if _default_rm is None:
        _default_rm = pyvisa.ResourceManager("@py")
    return _default_rm


def socket_of(inst: Any) -> socket.socket | None:
    """The TCP socket behind a pyvisa-py ``::SOCKET`` session, if that is what ``inst`` is."""
    sess = getattr(getattr(inst, "visalib", None), "sessions", {}).get(getattr(inst, "session", None))
    sock = getattr(sess, "interface", None)
    return sock if isinstance(sock, socket.socket) else None


def set_nodelay(inst: Any) -> bool:
    """Switch Nagle off on a pyvisa(-py) TCP session; False if the session has no TCP socket."""
    with contextlib.suppress(Exception):  # pyvisa-py refuses the attribute on SOCKET resources
        inst.set_visa_attribute(constants.ResourceAttribute.tcpip_nodelay, constants.VI_TRUE)
        return True
    sock = socket_of(inst)
    if sock is None:
        return False
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return True


class _Timeout(Exception):
    pass


class _SocketLink:
    """Byte I/O on the socket of a pyvisa-py SOCKET session."""

    def __init__(self, sock: socket.socket, timeout_s: float) -> None:
        self.sock = sock
        self.timeout_s = timeout_s
        self.buf = bytearray()
        sock.settimeout(None)

    def peer_closed(self) -> bool:
        """One non-blocking ``select``: has the peer closed or reset the link while we were idle?"""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            return bool(readable) and self.sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> None:
        # the socket stays blocking without a timeout: a timeout would add a poll() before every send as well
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Timeout
        readable, _, _ = select.select([self.sock], [], [], left)
        if not readable:
            raise _Timeout
        chunk = self.sock.recv(_RECV)
        if not chunk:
            raise ConnectionResetError("the instrument closed the connection")
        self.buf += chunk

    def read_until(self, terminator: bytes, extra: int = 0) -> bytes:
        deadline = time.monotonic() + self.timeout_s
        start = 0
        while True:
            i = self.buf.find(terminator, start)
            if i >= 0 and len(self.buf) >= i + len(terminator) + extra:
                end = i + len(terminator) + extra
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            if i < 0:
                start = max(0, len(self.buf) - len(terminator) + 1)
            self._fill(deadline)

    def read_exact(self, count: int) -> bytes:
        deadline = time.monotonic() + self.timeout_s
        while len(self.buf) < count:
            self._fill(deadline)
        out = bytes(self.buf[:count])
        del self.buf[:count]
        return out


class _VisaLink:
    """Byte I/O through pyvisa itself (resources that are not raw sockets)."""

    def __init__(self, inst: Any) -> None:
        self.inst = inst

    def peer_closed(self) -> bool:
        return False

    def send(self, data: bytes) -> None:
        self.inst.write_raw(data)

    def _read(self, fn: Callable[[], bytes]) -> bytes:
        try:
            return fn()
        except VisaIOError as exc:
            if exc.error_code == constants.StatusCode.error_timeout:
                raise _Timeout from exc
            if exc.error_code in _CONNECTION_LOST:
                raise ConnectionResetError(str(exc)) from exc
            raise

    def read_until(self, terminator: bytes, extra: int = 0) -> bytes:
        out = bytearray()
        while not out.endswith(terminator):
            out += self._read(lambda: self.inst.read_bytes(1))
        if extra:
            out += self._read(lambda: self.inst.read_bytes(extra))
        return bytes(out)

    def read_exact(self, count: int) -> bytes:
        return self._read(lambda: self.inst.read_bytes(count))


def reopen(t: Any) -> None:
    """Close ``t`` and open it again, retrying a refused open ``t.reconnects`` times with growing pauses (each
    failure in the transcript), then tell ``t.on_reconnect``: one rule for every transport (VISA, serial)."""
    t.close()
    for attempt in range(t.reconnects + 1):
        try:
            t.open()
            break
        except InstrumentConnectionError as exc:
            t.transcript.add(t.name, "error", f"open failed ({attempt + 1}/{t.reconnects + 1}): {exc}")
            if attempt == t.reconnects:
                raise
            time.sleep(t.reconnect_delay_s * (attempt + 1))
    for cb in t.on_reconnect:
        cb()


class VisaTransport:
    """Text (or byte) I/O with one instrument over pyvisa.

    Connection losses are retried with a bounded number of reconnects (``reconnects``); timeouts are not retried
    (the instrument is there but silent: the caller decides). Every exchange goes to the transcript.
    """

    def __init__(
        self,
        name: str,
        resource: str,
        *,
        rm: pyvisa.ResourceManager | None = None,
        timeout_s: float = 5.0,
        read_termination: str | None = "\n",
        write_termination: str = "\n",
        reconnects: int = 2,
        reconnect_delay_s: float = 0.2,
        transcript: Transcript | None = None,
        encoding: str = "latin-1",
    ) -> None:
        self.name = name
        self.resource = resource
        self.rm = rm
        self.timeout_s = timeout_s
        self.read_termination = read_termination
        self.write_termination = write_termination
        self.reconnects = reconnects
        self.reconnect_delay_s = reconnect_delay_s
        self.transcript = transcript if transcript is not None else Transcript()
        self.encoding = encoding
        self._inst: Any = None
        self._link: _SocketLink | _VisaLink | None = None
        self._wterm = write_termination.encode(encoding)
        self._rterm = read_termination.encode(encoding) if read_termination else b""
        self.on_reconnect: list[Callable[[], None]] = []

    # -- session ----------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._link is not None

    def open(self) -> None:
        if self._link is not None:
            return
        rm = self.rm or resource_manager()
        try:
            inst: Any = rm.open_resource(self.resource, open_timeout=int(self.timeout_s * 1000))
        except Exception as exc:
            raise InstrumentConnectionError(self.name, f"cannot open {self.resource}: {exc}") from exc
        inst.timeout = int(self.timeout_s * 1000)
        inst.write_termination = self.write_termination
        inst.read_termination = self.read_termination
        inst.encoding = self.encoding
        set_nodelay(inst)
        sock = socket_of(inst)
        self._inst = inst
        self._link = _SocketLink(sock, self.timeout_s) if sock is not None else _VisaLink(inst)
        self.transcript.add(self.name, "event", f"open {self.resource}")

    def close(self) -> None:
        inst, self._inst, self._link = self._inst, None, None
        if inst is not None:
            # the link may already be gone; closing must not mask the original error
            with contextlib.suppress(Exception):
                inst.close()
            self.transcript.add(self.name, "event", "close")

    def reconnect(self) -> None:
        reopen(self)

    # -- I/O --------------------------------------------------------------------------------------
    def _exchange(self, what: str, op: Callable[[_SocketLink | _VisaLink], T], check_link: bool = True) -> T:
        """Run ``op`` on the link; reconnect (bounded) when the link is lost.

        ``check_link``: look for a link the peer closed while we were idle before sending. Needed for writes
        (a command sent into a dead socket would vanish silently); a query finds out by itself (EOF on read).
        """
        attempts = 0
        while True:
            if self._link is None:
                self.reconnect()  # bounded retries of its own
            link = self._link
            assert link is not None
            try:
                if check_link and link.peer_closed():
                    raise ConnectionResetError("the instrument closed the connection")
                return op(link)
            except _Timeout:
                if not link.peer_closed():
                    self.transcript.add(self.name, "error", f"timeout after {self.timeout_s:g} s: {what}")
                    self.close()  # a late reply would answer the next query: start the next exchange clean
                    raise InstrumentTimeout(self.name, f"no reply within {self.timeout_s:g} s to {what!r}") from None
                err: Exception = ConnectionResetError("the instrument closed the connection")
            except VisaIOError as exc:
                if exc.error_code not in _CONNECTION_LOST:
                    raise InstrumentConnectionError(self.name, f"{what!r}: {exc}") from exc
                err = exc
            except OSError as exc:  # ConnectionError, BrokenPipeError, ...
                err = exc
            self.transcript.add(self.name, "error", f"connection lost during {what!r}: {err}")
            self.close()
            if attempts >= self.reconnects:
                raise InstrumentConnectionError(
                    self.name, f"connection lost during {what!r} and {attempts} reconnect(s) failed: {err}"
                ) from err
            attempts += 1
            time.sleep(self.reconnect_delay_s * attempts)
            try:
                self.reconnect()
            except InstrumentConnectionError as exc:
                raise InstrumentConnectionError(
                    self.name, f"connection lost during {what!r}; reconnect failed: {exc}"
                ) from exc

    def write(self, command: str) -> None:
        self.transcript.add(self.name, "write", command)
        data = command.encode(self.encoding) + self._wterm
        self._exchange(command, lambda link: link.send(data))

    def query(self, command: str) -> str:
        """Send ``command`` and read one reply up to the read termination (stripped)."""
        self.transcript.add(self.name, "query", command)
        t0 = time.perf_counter()
        data = command.encode(self.encoding) + self._wterm
        term = self._rterm or b"\n"

        def _op(link: _SocketLink | _VisaLink) -> bytes:
            link.send(data)
            return link.read_until(term)

        reply = self._exchange(command, _op, check_link=False)[: -len(term)].decode(self.encoding)
        if reply.endswith("\r") and term == b"\n":
            reply = reply[:-1]
        self.transcript.add(self.name, "reply", reply, time.perf_counter() - t0)
        return reply

    def write_raw(self, data: bytes, transcribe: bool = True, check_link: bool = True) -> None:
        """Send bytes as they are; ``transcribe=False`` for a binary protocol whose driver writes the decoded
        message to the transcript itself; ``check_link=False`` when a read of the answer follows at once (it finds a
        closed link by itself), saving the look at the idle link."""
        if transcribe:
            self.transcript.add(self.name, "write", data.decode(self.encoding))
        self._exchange(repr(data) if transcribe else f"{len(data)} bytes", lambda link: link.send(data),
                       check_link=check_link)

    def read_bytes(self, count: int, transcribe: bool = True) -> bytes:
        # a read finds a closed link by itself (EOF): no look before it (one select less per read)
        data = self._exchange(f"read {count} bytes", lambda link: link.read_exact(count), check_link=False)
        if transcribe:
            self.transcript.add(self.name, "read", data.decode(self.encoding))
        return data

    def read_until(self, terminator: bytes, extra: int = 0) -> bytes:
        """Read up to and including ``terminator`` plus ``extra`` bytes (e.g. a BCC after ETX)."""
        data = self._exchange(f"read until {terminator!r}", lambda link: link.read_until(terminator, extra),
                              check_link=False)
        self.transcript.add(self.name, "read", data.decode(self.encoding))
        return data
