"""Yokogawa WT5000 / WT1800 precision power analyser as the bench's reference standard.

Syntax from the *WT5000 Communication Interface User's Manual* IM WT5000-17EN (the WT1800's IM WT1801-17EN has
the same groups): ``NUMeric`` (numeric list ``ITEM<x> <function>,<element>``, ``VALue?``), ``INTEGrate`` (mode,
timer, start/stop/reset, state) and ``STATus:ERRor?``. Only ASCII numeric data is used.

Reading is one round trip once the numeric list holds the wanted items: the driver remembers what it put in the
list and only rewrites it when another set of items is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from instruments.drivers.declarative import Action, Reading, ScpiDriver, Setting, fmt_bool, parse_bool
from instruments.drivers.errors import RangeError, ReplyError
from instruments.roles import Element, IntegrationState

#: functions of the numeric list this driver asks for (IM WT5000-17EN, NUMeric:NORMal:ITEM<x>)
FUNCTIONS = frozenset(
    {"U", "I", "P", "S", "Q", "LAMBDA", "PHI", "FU", "FI", "URMS", "IRMS", "WH", "WHP", "WHM", "AH", "TIME"}
)
#: items of one numeric list (ITEM1..ITEM255)
MAX_ITEMS = 255
#: integration timer limit: 10000 h 0 min 0 s (IM WT5000-17EN, INTEGrate:TIMer)
MAX_TIMER_S = 10000 * 3600

#: integration states in short form (VERBose OFF) or long form (VERBose ON) → the role's names
_STATES: dict[str, IntegrationState] = {
    "RES": "RESET", "RESET": "RESET", "READ": "READY", "READY": "READY", "STAR": "START", "START": "START",
    "STOP": "STOP", "TIM": "TIMEUP", "TIMEUP": "TIMEUP", "ERR": "ERROR", "ERROR": "ERROR",
}  # fmt: skip
_MODES = {"NORM": "NORMAL", "NORMAL": "NORMAL", "CONT": "CONTINUOUS", "CONTINUOUS": "CONTINUOUS"}


def parse_state(reply: str) -> IntegrationState:
    return _STATES[reply.strip().upper()]


def parse_mode(reply: str) -> str:
    return _MODES[reply.strip().upper()]


def fmt_timer(seconds: float) -> str:
    """Seconds → ``h,m,s`` (INTEGrate:TIMer takes hours, minutes and seconds)."""
    s = round(seconds)
    return f"{s // 3600},{s // 60 % 60},{s % 60}"


def parse_timer(reply: str) -> float:
    h, m, s = (int(x) for x in reply.split(","))
    return float(h * 3600 + m * 60 + s)


def parse_values(reply: str) -> list[float]:
    """ASCII numeric data: NR3 values, ``TIME`` in NR1, ``NAN`` for no data, ``INF`` over range."""
    return [float(v) for v in reply.split(",")]


class YokogawaWT(ScpiDriver):
    """Reference standard; plays the ``reference`` role (:class:`instruments.roles.ReferenceStandard`)."""

    model = "Yokogawa WT"
    error_query = ":STAT:ERR?"

    header = Setting(":COMM:HEAD", parse=parse_bool, fmt=fmt_bool, doc="response headers (kept OFF)")
    verbose = Setting(":COMM:VERB", parse=parse_bool, fmt=fmt_bool, doc="long-form character data")
    number = Setting(":NUM:NUMB", parse=int, within=(1, MAX_ITEMS), doc="items returned by VALue?")
    values = Reading(":NUM:VAL?", parse=parse_values, doc="items 1..NUMBer")
    integration = Reading(":INTEG:STAT?", parse=parse_state, doc="integration state")
    integration_mode = Setting(":INTEG:MODE", parse=parse_mode, fmt=lambda m: m[:4], values=("NORMAL", "CONTINUOUS"))
    integration_timer = Setting(":INTEG:TIM", parse=parse_timer, fmt=fmt_timer, unit="s", within=(0, MAX_TIMER_S))
    integration_start = Action(":INTEG:STAR")
    integration_stop = Action(":INTEG:STOP")
    integration_reset = Action(":INTEG:RES")

    def __init__(self, transport: Any, *, elements: int = 3, pulse_constant_imp_per_kwh: float | None = None,
                 check_errors: bool = True) -> None:
        super().__init__(transport, check_errors=check_errors)
        self.elements = elements
        #: constant of the reference's HF pulse output that feeds the error calculators (a bench fact from the
        #: bench file, not queried over SCPI); used to estimate pulses before anything is connected
        self.pulse_constant_imp_per_kwh = pulse_constant_imp_per_kwh
        self._items: tuple[tuple[str, Element], ...] | None = None  # as last selected (None: unknown)
        self._headers_off = False
        self._reconnects = 0
        transport.on_reconnect.append(self._forget)

    def _forget(self) -> None:
        """After a reconnect the analyser may have been reset or reconfigured: list and headers are unknown."""
        self._items = None
        self._headers_off = False
        self._reconnects += 1

    # -- I/O: response headers off, in the first message of every link ------------------------------
    # With HEADer ON the WT prefixes replies with their header (IM WT5000-17EN §4.3); it keeps the setting
    # over power cycles. Prefixing the first message costs no extra round trip.
    def write(self, command: str) -> None:
        if self._headers_off:
            super().write(command)
        else:
            super().write(":COMM:HEAD OFF;" + command)
            self._headers_off = True

    def query(self, command: str) -> str:
        if self._headers_off:
            return self.transport.query(command)
        reply = self.transport.query(":COMM:HEAD OFF;" + command)
        self._headers_off = True
        return reply

    # -- numeric data ------------------------------------------------------------------------------
    def _check_items(self, items: Sequence[tuple[str, Element]]) -> tuple[tuple[str, Element], ...]:
        if not 1 <= len(items) <= MAX_ITEMS:
            raise RangeError(f"{self.name}.read", len(items), 1, MAX_ITEMS, "items")
        out = []
        for function, element in items:
            f = function.upper()
            if f not in FUNCTIONS:
                raise RangeError(f"{self.name}.read", function, None, None, f"(one of {sorted(FUNCTIONS)})")
            if element != "SIGMA" and not (isinstance(element, int) and 1 <= element <= self.elements):
                raise RangeError(f"{self.name}.read", element, 1, self.elements, "(element, or SIGMA)")
            out.append((f, element))
        return tuple(out)

    def select(self, items: Sequence[tuple[str, Element]]) -> None:
        """Put ``items`` in the numeric list (ITEM1..ITEMn) and make VALue? return exactly them (ASCII)."""
        wanted = self._check_items(items)
        self._items = None  # unknown until the instrument has accepted the new list
        cmds = ":NUM:FORM ASC;:NUM:NUMB " + str(len(wanted))
        cmds += "".join(f";ITEM{i} {f},{e}" for i, (f, e) in enumerate(wanted, 1))
        self.write(cmds)
        self._items = tuple(items)

    def read(self, items: Sequence[tuple[str, Element]]) -> list[float]:
        """Values of ``(function, element)`` pairs in one round trip (two when the list must change)."""
        if self._items is None or tuple(items) != self._items:
            self.select(items)
        reconnects = self._reconnects
        values = self.values
        if self._reconnects != reconnects:  # the link was re-made during the query: it read an unknown list
            self.select(items)
            values = self.values
        if len(values) != len(items):
            raise ReplyError(self.name, f"{len(values)} values for {len(items)} items")
        return values

    def read_one(self, function: str, element: Element) -> float:
        return self.read([(function, element)])[0]

    # -- integration -------------------------------------------------------------------------------
    def start_integration(self, timer_s: float = 0.0, mode: str = "NORMAL") -> None:
        """Reset, then start integrating in ``mode`` with ``timer_s`` (0: until :meth:`stop_integration`).

        The WT changes mode and timer only in the reset state and refuses STARt after an automatic stop
        until reset (IM WT1801-01EN §9), so a running integration is stopped and everything reset first.
        """
        YokogawaWT.integration_mode.check(self, mode)
        YokogawaWT.integration_timer.check(self, timer_s)
        if mode == "CONTINUOUS" and round(timer_s) == 0:
            raise RangeError(f"{self.name}.integration_timer", timer_s, 1, MAX_TIMER_S, "s",
                             "CONTinuous integration (it needs a timer)")
        if self.integration == "START":
            self.integration_stop()
        self.write(f":INTEG:RES;MODE {mode[:4]};TIM {fmt_timer(timer_s)};STAR")

    def stop_integration(self) -> None:
        if self.integration == "START":
            self.integration_stop()

    def integration_state(self) -> IntegrationState:
        return self.integration

    # -- role --------------------------------------------------------------------------------------
    def safe_state(self) -> None:
        """Stop a running integration, on a clean link (an interrupted exchange may have left half a reply)."""
        self.transport.reconnect()
        self.stop_integration()
