"""Declarative SCPI drivers: a setting or reading is one line naming its command, parser, unit and range.

    class Phase(Channel):
        voltage = Setting("SOUR:PHAS{ch}:VOLT", unit="V", within=(0, 1008))

The range check happens in ``__set__``, before anything reaches the instrument. Limits tighter than the
instrument's own (the bench's ratings, the meter's) are added at run time with :meth:`ScpiDriver.restrict`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from instruments.drivers.errors import InstrumentError, RangeError, ReplyError
from instruments.drivers.transport import VisaTransport

V = TypeVar("V")
Limits = tuple[float, float]
_ERR_RE = re.compile(r'^\s*([+-]?\d+)\s*,\s*"?(.*?)"?\s*$')


def fmt_number(value: float) -> str:
    """Shortest exact representation (NR1 for integers, else NR2/NR3)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def fmt_bool(value: bool) -> str:
    return "ON" if value else "OFF"


def parse_bool(text: str) -> bool:
    t = text.strip().upper()
    if t in ("1", "ON"):
        return True
    if t in ("0", "OFF"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_error(reply: str) -> tuple[int, str]:
    m = _ERR_RE.match(reply)
    if not m:
        raise ValueError(f"not an error-queue reply: {reply!r}")
    return int(m.group(1)), m.group(2)


class _Node:
    """Something settings can talk through: a driver or one of its channels."""

    def write(self, command: str) -> None:
        raise NotImplementedError

    def query(self, command: str) -> str:
        raise NotImplementedError

    def placeholders(self) -> dict[str, Any]:
        return {}

    def command(self, template: str) -> str:
        """``template`` with this node's placeholders filled in (cached: the same few commands repeat)."""
        cache: dict[str, str] = self.__dict__.setdefault("_commands", {})
        cmd = cache.get(template)
        if cmd is None:
            cmd = cache[template] = template.format(**self.placeholders())
        return cmd

    def driver(self) -> ScpiDriver:
        raise NotImplementedError


class Setting(Generic[V]):
    """A value the instrument holds: ``obj.x = v`` writes it, ``obj.x`` queries it."""

    @overload
    def __init__(
        self: Setting[float],
        command: str,
        *,
        query: str | None = None,
        unit: str = "",
        within: Limits | Callable[[Any], Limits] | None = None,
        values: Sequence[Any] | None = None,
        doc: str = "",
    ) -> None: ...
    @overload
    def __init__(
        self,
        command: str,
        *,
        query: str | None = None,
        unit: str = "",
        within: Limits | Callable[[Any], Limits] | None = None,
        values: Sequence[Any] | None = None,
        parse: Callable[[str], V],
        fmt: Callable[[V], str] = ...,
        doc: str = "",
    ) -> None: ...
    def __init__(
        self,
        command: str,
        *,
        query: str | None = None,
        unit: str = "",
        within: Limits | Callable[[Any], Limits] | None = None,
        values: Sequence[Any] | None = None,
        parse: Callable[[str], Any] = float,
        fmt: Callable[[Any], str] = fmt_number,
        doc: str = "",
    ) -> None:
        self.command = command
        self.query_command = query if query is not None else command + "?"
        self.unit = unit
        self.within = within
        self.values = values
        self.parse = parse
        self.fmt = fmt
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Setting[V]: ...
    @overload
    def __get__(self, obj: _Node, objtype: type | None = None) -> V: ...
    def __get__(self, obj: _Node | None, objtype: type | None = None) -> Setting[V] | V:
        if obj is None:
            return self
        reply = obj.query(obj.command(self.query_command))
        try:
            value: V = self.parse(reply)
        except (TypeError, ValueError) as exc:
            raise ReplyError(obj.driver().name, f"cannot parse reply {reply!r} to {self.name}: {exc}") from exc
        return value

    def __set__(self, obj: _Node, value: V) -> None:
        self.check(obj, value)
        obj.write(f"{obj.command(self.command)} {self.fmt(value)}")

    def limits(self, obj: _Node) -> Limits | None:
        base = self.within(obj) if callable(self.within) else self.within
        extra = obj.driver().restrictions.get(self.name)
        if extra is None:
            return base
        lo, hi, _ = extra
        return (max(lo, base[0]), min(hi, base[1])) if base is not None else (lo, hi)

    def check(self, obj: _Node, value: Any) -> None:
        """Refuse a value outside the instrument's range or a tighter bench/meter restriction."""
        if self.values is not None and value not in self.values:
            raise RangeError(self._what(obj), value, None, None, f"(one of {list(self.values)})")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isnan(value) or math.isinf(value):
                raise RangeError(self._what(obj), value, None, None, self.unit)
            lim = self.limits(obj)
            if lim is not None and not (lim[0] <= value <= lim[1]):
                extra = obj.driver().restrictions.get(self.name)
                rating = extra[2] if extra is not None and (value < extra[0] or value > extra[1]) else \
                    f"the {obj.driver().model} range"
                raise RangeError(self._what(obj), value, lim[0], lim[1], self.unit, rating)

    def _what(self, obj: _Node) -> str:
        """``driver.setting[channel]`` for messages (built only when a value is refused)."""
        ch = obj.placeholders().get("ch")
        return f"{obj.driver().name}.{self.name}" + (f"[{ch}]" if ch is not None else "")


class Reading(Setting[V]):
    """A read-only value (``obj.x`` queries it)."""

    @overload
    def __init__(self: Reading[float], query: str, *, unit: str = "", doc: str = "") -> None: ...
    @overload
    def __init__(self, query: str, *, unit: str = "", parse: Callable[[str], V], doc: str = "") -> None: ...
    def __init__(self, query: str, *, unit: str = "", parse: Callable[[str], Any] = float, doc: str = "") -> None:
        super().__init__("", query=query, unit=unit, parse=parse, doc=doc)

    def __set__(self, obj: _Node, value: V) -> None:
        raise AttributeError(f"{self.name} is read-only")


class Action:
    """A command without a value: ``obj.start()``."""

    def __init__(self, command: str, doc: str = "") -> None:
        self.command = command
        self.__doc__ = doc

    def __get__(self, obj: _Node | None, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return lambda: obj.write(obj.command(self.command))


class Channel(_Node):
    """One channel of a driver (a phase, an element, an error-calculator position); ``{ch}`` in commands."""

    def __init__(self, parent: ScpiDriver, ch: int) -> None:
        self.parent = parent
        self.ch = ch

    def write(self, command: str) -> None:
        self.parent.write(command)

    def query(self, command: str) -> str:
        return self.parent.query(command)

    def placeholders(self) -> dict[str, Any]:
        return {"ch": self.ch}

    def driver(self) -> ScpiDriver:
        return self.parent


C = TypeVar("C", bound=Channel)


class Channels(Generic[C]):
    """Declares a set of channels on a driver: ``phases = Channels(Phase, ids=(1, 2, 3))``.

    ``ids`` may be a callable of the driver (e.g. channel count from the bench file).
    """

    def __init__(self, cls: type[C], ids: Iterable[int] | Callable[[Any], Iterable[int]]) -> None:
        self.cls = cls
        self.ids = ids
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: ScpiDriver | None, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        cache = obj.__dict__.setdefault("_channels", {})
        if self.name not in cache:
            ids = self.ids(obj) if callable(self.ids) else self.ids
            cache[self.name] = ChannelMap({i: self.cls(obj, i) for i in ids}, f"{obj.name}.{self.name}")
        return cache[self.name]


class ChannelMap(Generic[C]):
    def __init__(self, channels: dict[int, C], what: str) -> None:
        self._channels = channels
        self._what = what

    def __getitem__(self, ch: int) -> C:
        try:
            return self._channels[ch]
        except KeyError:
            raise RangeError(self._what, ch, min(self._channels), max(self._channels), "(channel)") from None

    def __iter__(self) -> Iterator[C]:
        return iter(self._channels.values())

    def __len__(self) -> int:
        return len(self._channels)

    def ids(self) -> list[int]:
        return list(self._channels)


class ScpiDriver(_Node):
    """Base of SCPI drivers: writes are followed by an error-queue check in the same round trip."""

    model = "instrument"
    #: the instrument's error query; replies ``<code>,"<message>"``
    error_query = "SYST:ERR?"
    #: append the error query to each write (``cmd;:SYST:ERR?``): one round trip instead of two
    combine_error_check = True
    #: how many queued errors are drained at most after a failed command
    max_drain = 32

    def __init__(self, transport: VisaTransport, *, check_errors: bool = True) -> None:
        self.transport = transport
        self.name = transport.name
        self.check_errors = check_errors
        #: setting name -> (low, high, who imposes it): tighter limits from the bench file or the meters
        self.restrictions: dict[str, tuple[float, float, str]] = {}

    def driver(self) -> ScpiDriver:
        return self

    def restrict(self, setting: str, low: float, high: float, by: str) -> None:
        self.restrictions[setting] = (low, high, by)

    # -- I/O --------------------------------------------------------------------------------------
    def write(self, command: str) -> None:
        if not self.check_errors:
            self.transport.write(command)
            return
        if self.combine_error_check:
            reply = self.transport.query(f"{command};:{self.error_query.lstrip(':')}")
        else:
            self.transport.write(command)
            reply = self.transport.query(self.error_query)
        self._raise_on_error(reply, command)

    def query(self, command: str) -> str:
        return self.transport.query(command)

    def _raise_on_error(self, reply: str, command: str) -> None:
        try:
            code, message = parse_error(reply)
        except ValueError as exc:
            raise ReplyError(self.name, f"unexpected reply {reply!r} to the error check after {command!r}") from exc
        if code == 0:
            return
        first = (code, message)
        for _ in range(self.max_drain):  # leave an empty queue behind for the next command
            more = parse_error(self.transport.query(self.error_query))
            if more[0] == 0:
                break
        raise InstrumentError(self.name, first[0], first[1], command)

    def errors(self) -> list[tuple[int, str]]:
        """Drain the error queue."""
        out = []
        for _ in range(self.max_drain):
            code, msg = parse_error(self.transport.query(self.error_query))
            if code == 0:
                break
            out.append((code, msg))
        return out

    def identify(self) -> str:
        return self.transport.query("*IDN?").strip()

    def clear_status(self) -> None:
        self.transport.write("*CLS")
