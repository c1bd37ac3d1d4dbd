"""Replay transport for driver unit tests: asserts the exact bytes a driver sends and feeds it exact replies.

    t = ReplayTransport([(b"SOUR:PHAS1:VOLT?\\n", b"2.3E+02\\n")])
    assert Fluke6105A(t).phase(1).voltage == 230.0
    t.assert_done()

Each step is ``(sent, reply)``: ``sent`` is what the driver must write (with its terminator), ``reply`` what the
instrument answers (``None`` for a write). No server, no pyvisa: the fast half of a driver's tests (the other half
runs against the TCP simulator).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from instruments.drivers.transcript import Transcript


class ReplayMismatch(AssertionError):
    pass


class ReplayTransport:
    """Same interface as :class:`instruments.drivers.transport.VisaTransport`, scripted."""

    def __init__(
        self,
        dialogue: Sequence[tuple[bytes, bytes | None]],
        *,
        name: str = "replay",
        read_termination: str | None = "\n",
        write_termination: str = "\n",
        encoding: str = "latin-1",
    ) -> None:
        self.name = name
        self.resource = f"REPLAY::{name}"
        self.read_termination = read_termination
        self.write_termination = write_termination
        self.encoding = encoding
        self.timeout_s = 1.0
        self.transcript = Transcript()
        self.on_reconnect: list[Callable[[], None]] = []
        self._steps = list(dialogue)
        self._i = 0
        self._rx = bytearray()  # reply bytes not yet consumed (byte-level reads)

    # -- script -------------------------------------------------------------------------------------
    def _expect(self, sent: bytes) -> bytes | None:
        if self._i >= len(self._steps):
            raise ReplayMismatch(f"{self.name}: unexpected extra write {sent!r}")
        want, reply = self._steps[self._i]
        if sent != want:
            raise ReplayMismatch(f"{self.name}: step {self._i}: sent {sent!r}, expected {want!r}")
        self._i += 1
        return reply

    def assert_done(self) -> None:
        if self._i != len(self._steps) or self._rx:
            left = self._steps[self._i :]
            raise ReplayMismatch(f"{self.name}: dialogue not finished; left {left!r}, unread {bytes(self._rx)!r}")

    # -- transport API ------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return True

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def reconnect(self) -> None:
        for cb in self.on_reconnect:
            cb()

    def _encode(self, command: str) -> bytes:
        return (command + self.write_termination).encode(self.encoding)

    def write(self, command: str) -> None:
        self.transcript.add(self.name, "write", command)
        reply = self._expect(self._encode(command))
        if reply:
            self._rx += reply

    def query(self, command: str) -> str:
        self.transcript.add(self.name, "query", command)
        reply = self._expect(self._encode(command))
        if reply is None:
            raise ReplayMismatch(f"{self.name}: {command!r} was scripted as a write but queried")
        text = reply.decode(self.encoding)
        if self.read_termination and text.endswith(self.read_termination):
            text = text[: -len(self.read_termination)]
        self.transcript.add(self.name, "reply", text)
        return text

    def write_raw(self, data: bytes) -> None:
        self.transcript.add(self.name, "write", data.decode(self.encoding))
        reply = self._expect(data)
        if reply:
            self._rx += reply

    def read_bytes(self, count: int) -> bytes:
        if len(self._rx) < count:
            raise ReplayMismatch(f"{self.name}: read of {count} bytes but only {bytes(self._rx)!r} scripted")
        out = bytes(self._rx[:count])
        del self._rx[:count]
        return out

    def read_until(self, terminator: bytes, extra: int = 0) -> bytes:
        idx = self._rx.find(terminator)
        if idx < 0 or len(self._rx) < idx + len(terminator) + extra:
            raise ReplayMismatch(f"{self.name}: no {terminator!r} in scripted reply {bytes(self._rx)!r}")
        return self.read_bytes(idx + len(terminator) + extra)
