"""TCP serving for the simulated instruments: one listener per endpoint, sans-IO sessions behind it.

Every protocol (SCPI, SimServ, IEC 62056-21, ...) is written as a :class:`Session` that turns received
bytes into replies written to an :class:`Output`; this module owns sockets, flow control and the
connection-level faults (drop, hang, garble) so each protocol stays testable without a socket.
All sessions of a bench run on one asyncio loop, so the physics world is touched by one thread only.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

#: asyncio pauses writing above this many buffered bytes; then :meth:`Output.pending` is true
WRITE_HIGH_WATER = 64 * 1024
_CHUNK = 16 * 1024


class Output(Protocol):
    """Where a session writes its replies."""

    def write(self, data: bytes) -> None: ...

    def pending(self) -> bool:
        """Bytes are queued that the client has not taken yet (it is not reading)."""
        ...

    def discard(self) -> None:
        """Drop queued, unsent bytes (IEEE 488.2 query interrupted clears the output queue)."""
        ...

    def close(self) -> None:
        """Close the connection once queued bytes are sent."""
        ...


class Session(Protocol):
    """One client connection's protocol state, independent of sockets."""

    def data_received(self, data: bytes, out: Output) -> None: ...

    def eof_received(self, out: Output) -> None: ...

    def connection_lost(self) -> None: ...


class Device(Protocol):
    """What an endpoint serves: a factory of sessions (one per connection)."""

    def new_session(self) -> Session: ...


@dataclass
class Faults:
    """Connection-level faults of one endpoint, set through the simulation control endpoint."""

    hang: bool = False  # swallow input, never answer
    garble: int = 0  # corrupt the next N replies
    refuse: bool = False  # close new connections at once (instrument off / cable pulled)


@dataclass
class Endpoint:
    """One TCP listener of the simulated bench and what ``hil sim`` prints for it."""

    name: str
    role: str
    protocol: str
    device: Device
    port: int = 0  # 0: any free port
    info: dict[str, Any] = field(default_factory=dict)  # e.g. position, serial
    faults: Faults = field(default_factory=Faults)
    host: str = "127.0.0.1"
    server: asyncio.Server | None = None
    connections: set[_Connection] = field(default_factory=set)
    on_power_loss: Callable[[], None] | None = None

    @property
    def bound_port(self) -> int:
        if self.server is None or not self.server.sockets:
            return self.port
        return int(self.server.sockets[0].getsockname()[1])

    def describe(self) -> dict[str, Any]:
        """The endpoint as one JSON-able record (``hil sim`` output, bench files)."""
        rec: dict[str, Any] = {
            "role": self.role,
            "name": self.name,
            "protocol": self.protocol,
            "host": self.host,
            "port": self.bound_port,
        }
        if self.protocol in ("scpi", "simctl-scpi"):
            rec["resource"] = f"TCPIP0::{self.host}::{self.bound_port}::SOCKET"
        rec.update(self.info)
        return rec

    # -- faults ---------------------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Close every open connection at once, as a pulled cable or a crashed instrument would."""
        for conn in list(self.connections):
            conn.abort()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.server = await loop.create_server(
                lambda: _Connection(self), self.host, self.port, reuse_address=True
            )
        except OSError as exc:
            raise PortInUseError(self.name, self.host, self.port, exc) from exc

    async def stop(self) -> None:
        self.drop_connections()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


class PortInUseError(OSError):
    """An endpoint cannot listen on its configured port."""

    def __init__(self, name: str, host: str, port: int, cause: OSError) -> None:
        super().__init__(
            cause.errno,
            f"simulated endpoint {name!r} cannot listen on {host}:{port}: {cause.strerror or cause}"
            " (is another simulator or instrument server using that port?)",
        )


def _garble(data: bytes) -> bytes:
    """Corrupt a reply but keep its terminator, so the client parses garbage rather than timing out."""
    body, term = (data[:-1], data[-1:]) if data.endswith(b"\n") else (data, b"")
    return bytes((b ^ 0x5A) & 0x7F or 0x3F for b in body) + term


class _Connection(asyncio.Protocol, Output):
    """asyncio transport glue with an application-level output queue (flow control aware)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.session: Session | None = None
        self.transport: asyncio.Transport | None = None
        self._queue: deque[bytes] = deque()
        self._paused = False
        self._closing = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.endpoint.faults.refuse:
            transport.abort()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.endpoint.connections.add(self)
        self.session = self.endpoint.device.new_session()

    def data_received(self, data: bytes) -> None:
        if self.session is None or self.endpoint.faults.hang:
            return
        try:
            self.session.data_received(data, self)
        except Exception:  # a protocol bug must never take the simulator down; drop this client only
            self.abort()
            raise

    def eof_received(self) -> bool | None:
        if self.session is not None and not self.endpoint.faults.hang:
            self.session.eof_received(self)
        return True  # keep the write side open (half-close): replies may still be sent

    def connection_lost(self, exc: Exception | None) -> None:
        self.endpoint.connections.discard(self)
        if self.session is not None:
            self.session.connection_lost()
            self.session = None
        self._queue.clear()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._flush()

    # Output
    def write(self, data: bytes) -> None:
        if not data or self.transport is None or self.transport.is_closing():
            return
        faults = self.endpoint.faults
        if faults.garble > 0:
            faults.garble -= 1
            data = _garble(data)
        for i in range(0, len(data), _CHUNK):
            self._queue.append(data[i : i + _CHUNK])
        self._flush()

    def pending(self) -> bool:
        return bool(self._queue) or self._paused

    def discard(self) -> None:
        self._queue.clear()

    def close(self) -> None:
        self._closing = True
        self._flush()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _flush(self) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        while self._queue and not self._paused:
            t.write(self._queue.popleft())
        if self._closing and not self._queue:
            t.close()
