"""One connection to an :class:`~instruments.scpi.device.ScpiDevice`: input buffer, header path, replies.

Implements :class:`instruments.simulators.net.Session`. Over a raw socket there is no GPIB "addressed to
talk", so the IEEE 488.2 §6.3.2 query errors are mapped onto what the socket shows (docs/scpi-engine.md):
-410 when a new message arrives while the previous reply is still unsent because the client does not read;
-420 when the client half-closes with an unterminated message that contains a query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from instruments.scpi.errors import ScpiError
from instruments.scpi.parser import contains_query, split_data, split_unit, split_units
from instruments.scpi.response import format_value

if TYPE_CHECKING:
    from instruments.scpi.device import ScpiDevice
    from instruments.scpi.tree import Entry, Node

#: the input buffer never grows beyond this; a longer message is dropped with -363 (SCPI-1999 §21.8.11)
MAX_INPUT = 1 << 20


class Output(Protocol):
    """The subset of :class:`instruments.simulators.net.Output` a session uses (kept import-free of net)."""

    def write(self, data: bytes) -> None: ...

    def pending(self) -> bool: ...

    def discard(self) -> None: ...


class _Blocked:
    """A message held at a *WAI / *OPC? unit until no operation is pending."""

    __slots__ = ("index", "replies", "units")

    def __init__(self, units: list[str], index: int, replies: list[str]) -> None:
        self.units = units
        self.index = index
        self.replies = replies


class ScpiSession:
    """Sans-IO protocol state of one client connection."""

    __slots__ = ("_blocked", "_buf", "_eof", "_out", "_path", "_path_suffixes", "_replies", "_skip", "_tree",
                 "device")  # fmt: skip

    def __init__(self, device: ScpiDevice) -> None:
        self.device = device
        self._tree = type(device)._scpi_tree
        self._path: Node = self._tree.root
        self._path_suffixes: tuple[int, ...] = ()
        self._buf = b""
        self._skip = False  # discarding the rest of an over-long message, up to its terminator
        self._eof = False
        self._out: Output | None = None
        self._blocked: _Blocked | None = None
        self._replies: list[str] | None = None  # replies of the message being executed (for MAV)

    # -- net.Session ----------------------------------------------------------------------------
    def data_received(self, data: bytes, out: Output) -> None:
        try:
            self._out = out
            if self._blocked is not None:
                self._hold(data)
            else:
                self._feed(data, out)
        except Exception as exc:  # last line of defence: never raise into the transport
            self._recover(exc)

    def eof_received(self, out: Output) -> None:
        try:
            self._eof = True
            self._out = out
            if self._blocked is None:
                self._finish_eof(out)
        except Exception as exc:
            self._recover(exc)

    def connection_lost(self) -> None:
        if self in self.device._waiting:
            self.device._waiting.remove(self)
        self._blocked = None
        self._buf = b""
        self._out = None

    # -- called by the device -------------------------------------------------------------------
    def message_available(self) -> bool:
        """MAV: a reply of this connection is waiting to be read (IEEE 488.2 §11.2.1.2)."""
        if self._replies:
            return True
        return self._out is not None and self._out.pending()

    def resume(self) -> None:
        """Continue a message held by *WAI / *OPC? (the device found no operation pending)."""
        try:
            blocked, out = self._blocked, self._out
            if blocked is None or out is None:
                return
            if self.device.operations_pending():
                self.device._waiting.append(self)
                return
            self._blocked = None
            self._run(blocked.units, blocked.index, blocked.replies, out)
            if self._blocked is None:
                self._feed(b"", out)
            if self._blocked is None and self._eof:
                self._finish_eof(out)
        except Exception as exc:
            self._recover(exc)

    # -- input ----------------------------------------------------------------------------------
    def _feed(self, data: bytes, out: Output) -> None:
        buf = self._buf + data if self._buf else bytes(data)
        pos = 0
        if self._skip:
            pos = buf.find(b"\n") + 1
            if pos == 0:
                self._buf = b""
                return
            self._skip = False
        while True:
            end = buf.find(b"\n", pos)
            if end < 0:
                break
            if end - pos > MAX_INPUT:
                self.device.push_error(-363)
            else:
                self._message(buf[pos:end], out)
            pos = end + 1
            if self._blocked is not None:
                self._buf = buf[pos:]
                self._hold(b"")
                return
        rest = buf[pos:]
        if len(rest) > MAX_INPUT:
            self.device.push_error(-363)
            self._buf = b""
            self._skip = True
        else:
            self._buf = rest

    def _hold(self, data: bytes) -> None:
        """Buffer input while a message is held; beyond the cap the buffered input is dropped (-363)."""
        if self._skip:
            end = data.find(b"\n")
            if end < 0:
                return
            data = data[end + 1 :]
            self._skip = False
        self._buf += data
        if len(self._buf) > MAX_INPUT:
            self.device.push_error(-363)
            self._skip = not self._buf.endswith(b"\n")
            self._buf = b""

    def _finish_eof(self, out: Output) -> None:
        """EOF ends an unterminated message like END would; one containing a query is -420 instead."""
        rest, self._buf = self._buf, b""
        if self._skip or not rest.strip():
            return
        if contains_query(rest.decode("latin-1")):
            self.device.push_error(-420)
            return
        self._message(rest, out)

    def _recover(self, exc: Exception) -> None:
        self._buf = b""
        self._blocked = None
        self._skip = False
        self._replies = None
        if self in self.device._waiting:
            self.device._waiting.remove(self)
        self.device.push_error(-300, f"Device-specific error;engine: {type(exc).__name__}: {exc}")

    # -- execution ------------------------------------------------------------------------------
    def _message(self, line: bytes, out: Output) -> None:
        text = line.decode("latin-1")
        if text and text[-1] == "\r":
            text = text[:-1]
        if out.pending():  # previous reply unread and a new message arrives: IEEE 488.2 §6.3.2.3
            out.discard()
            self.device.push_error(-410)
        self._path = self._tree.root  # each program message starts at the root (IEEE 488.2 §7.6.1.3)
        self._path_suffixes = ()
        self._run(split_units(text), 0, [], out)

    def _run(self, units: list[str], start: int, replies: list[str], out: Output) -> None:
        device = self.device
        previous = device._session
        device._session = self
        self._replies = replies
        try:
            last = len(units) - 1
            for k in range(start, last + 1):
                unit = units[k]
                try:
                    if not unit or unit.isspace():
                        if 0 < k < last:
                            raise ScpiError(-102, "Syntax error;empty message unit")
                        continue
                    if self._unit(unit, replies):
                        self._blocked = _Blocked(units, k, replies)
                        device._waiting.append(self)
                        return
                except ScpiError as exc:
                    device.push_error(exc.code, exc.message)
                except ValueError as exc:  # the physics refusing a setting
                    device.push_error(-222, f"Data out of range;{exc}")
                except Exception as exc:  # a handler bug must not take the instrument down
                    device.push_error(-300, f"Device-specific error;{type(exc).__name__}: {exc}")
            if replies:
                out.write((";".join(replies) + "\n").encode("utf-8", "replace"))
        finally:
            device._session = previous
            self._replies = None

    def _unit(self, unit: str, replies: list[str]) -> bool:
        """Execute one message unit; True when it must wait for pending operations."""
        header, data = split_unit(unit)
        device = self.device
        tree = self._tree
        leaf: Node | None = None
        if header[0] == "*":
            entry = tree.common.get(header.upper())
            if entry is None:
                raise _common_error(header, tree.common)
            args: list[object] = []
            full: tuple[int, ...] = ()
        else:
            entry, own, leaf = tree.resolve(self._path, header)
            # a relative header continues the path's suffixes; an absolute one (leaf.nsuf == len(own)) does not
            full = self._path_suffixes[: leaf.nsuf - len(own)] + own
            parent = leaf.parent
            assert parent is not None
            self._path = parent
            self._path_suffixes = full[: parent.nsuf]
            if entry.suffix_map:
                args = [full[i] if i >= 0 else 1 for i in entry.suffix_map]
                for value, rng in zip(args, entry.ranges, strict=True):
                    if rng is not None and not rng[0] <= value <= rng[1]:  # type: ignore[operator]
                        raise ScpiError(-114)
            else:
                args = []
        params = entry.params
        if data:
            tokens = split_data(data)
            if len(tokens) > len(params):
                if entry.query and not params and leaf is not None and len(tokens) == 1:
                    replies.append(self._prefix(leaf, full) + _bound_query(device, leaf, tokens[0]))
                    return False
                raise ScpiError(-108)
        else:
            tokens = []
        n = len(tokens)
        for i, param in enumerate(params):
            if i < n:
                args.append(param.convert(tokens[i], device))
            elif param.optional:
                args.append(param.omitted(device))
            else:
                raise ScpiError(-109)
        if entry.waits and device.operations_pending():
            return True
        result = entry.func(device, *args)
        if entry.query:
            text = format_value(result)
            replies.append(self._prefix(leaf, full) + text if leaf is not None else text)
        return False

    def _prefix(self, leaf: Node, suffixes: tuple[int, ...]) -> str:
        device = self.device
        if not device.header_in_response:
            return ""
        return leaf.header(suffixes, device.verbose_headers) + " "


_BOUND_NAMES = {"MIN": "MIN", "MINIMUM": "MIN", "MAX": "MAX", "MAXIMUM": "MAX", "DEF": "DEF", "DEFAULT": "DEF"}


def _common_error(header: str, common: dict[str, Entry]) -> ScpiError:
    up = header.upper()
    other = up[:-1] if up.endswith("?") else up + "?"
    if other in common:
        return ScpiError(-100, "Command error;" + ("command only" if up.endswith("?") else "query only"))
    return ScpiError(-113)


def _bound_query(device: ScpiDevice, leaf: Node, token: str) -> str:
    """``VOLT? MAX``: MIN/MAX/DEF of the matching command's single numeric parameter (SCPI-1999 §6.2.5)."""
    name = _BOUND_NAMES.get(token.upper())
    command = leaf.command
    if name is None or command is None or len(command.params) != 1:
        raise ScpiError(-108)
    return format_value(command.params[0].special(name, device))
