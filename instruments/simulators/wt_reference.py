"""Reference standard simulator: the Yokogawa WT5000 / WT1800 SCPI subset over the world's reference.

Command syntax, numeric data format and integration states follow the WT communication interface manual
(IM WT5000-17EN; the WT1800 manual IM WT1801-17EN has the same groups). docs/reference-wt.md lists the subset and
every deviation. Readings come from :class:`~instruments.simulators.world.reference.Reference`; this module only
speaks the protocol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from instruments.scpi import Any_, Bool, Choice, Int, ScpiDevice, ScpiError, scpi, short_form
from instruments.scpi.params import is_numeric
from instruments.scpi.response import quote
from instruments.simulators.world.reference import IntegrationError

if TYPE_CHECKING:
    from instruments.simulators.world.reference import Reference
    from instruments.simulators.world.world import World

#: numeric items of one NUMeric NORMal list (IM WT5000-17EN, NUMeric group: ITEM<x> 1..255)
MAX_ITEMS = 255
#: :NUMeric:NORMal:NUMBer at power-on and after *RST
DEFAULT_NUMBER = 15
#: integration timer limit, 10000 h (IM WT5000-17EN, INTEGrate:TIMer)
MAX_TIMER_H = 10000

#: WT functions we measure: manual notation → the world's function name
_FUNCTIONS: dict[str, str] = {
    "U": "U",
    "I": "I",
    "P": "P",
    "S": "S",
    "Q": "Q",
    "LAMBda": "LAMBDA",
    "PHI": "PHI",
    "FU": "FU",
    "FI": "FU",  # the simulated source has one frequency for voltage and current
    "URMS": "URMS",
    "IRMS": "IRMS",
    "TIME": "TIME",
    "WH": "WH",
    "WHP": "WHP",
    "WHM": "WHM",
    "AH": "AH",
}

#: integration states, manual notation (IM WT5000-17EN, INTEGrate:STATe?)
_STATES = {"RESET": "RESet", "READY": "READy", "START": "STARt", "STOP": "STOP", "TIMEUP": "TIMeup",
           "ERROR": "ERRor"}  # fmt: skip
_MODES = {"NORMAL": "NORMal", "CONTINUOUS": "CONTinuous"}
#: integration reset: READy is the reset state with a timer set, waiting for STARt (the world's model)
_RESET_STATES = ("RESET", "READY")


_BY_SPELLING: dict[str, str] = {}
for _name in _FUNCTIONS:
    _BY_SPELLING[_name.upper()] = _name
    _BY_SPELLING[short_form(_name)] = _name

Element = int | str  # 1..elements or "SIGMA"


@dataclass(frozen=True)
class Item:
    """One entry of the numeric list: a function (manual notation) of an element."""

    function: str
    element: Element


def wt_number(value: float, function: str) -> str:
    """One value as the WT's ASCII numeric data (IM WT5000-17EN, numeric data format).

    NR3 with six significant digits; the elapsed integration time ``TIME`` in NR1 seconds; data that does not
    exist (no item, nothing measurable) is ``NAN`` and data out of range is ``INF`` — the WT's "no data" and
    "over range" words.
    """
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    if function == "TIME":
        return str(int(value))
    return f"{value:.5E}"


class WT5000Reference(ScpiDevice):
    """``*IDN?`` → ``YOKOGAWA,WT5000,<serial>,F1.01`` (model and serial from the bench file)."""

    def __init__(self, reference: Reference, world: World) -> None:
        super().__init__()
        self.reference = reference
        self.world = world
        self.idn = ("YOKOGAWA", reference.model, reference.serial, "F1.01")
        self.elements = world.source.phases
        self.items: list[Item | None] = [None] * MAX_ITEMS
        self.number = DEFAULT_NUMBER
        self._preset(1)

    # -- *RST -----------------------------------------------------------------------------------
    def reset(self) -> None:
        """*RST: numeric list preset, integration reset to NORMal with timer 0; communication settings kept
        (the WT keeps them, IM WT5000-17EN *RST)."""
        super().reset()
        self.reference.reset()
        self.number = DEFAULT_NUMBER
        self._preset(1)

    # -- helpers --------------------------------------------------------------------------------
    def _mnemonic(self, manual: str) -> str:
        """Character response data: long form with VERBose ON, short form otherwise (IM WT5000-17EN ch. 4,
        "Character data")."""
        return manual.upper() if self.verbose_headers else short_form(manual)

    def _element(self, token: str) -> Element:
        if token.upper() == "SIGMA":
            return "SIGMA"
        if not is_numeric(token):  # SIGMB, SIGMC (wiring groups B and C) are not simulated
            raise ScpiError(-224, f"Illegal parameter value;element must be 1..{self.elements} or SIGMA")
        n: int = Int(minimum=1, maximum=self.elements).convert(token, self)
        return n

    def _element_list(self) -> list[Element]:
        return [*range(1, self.elements + 1), "SIGMA"]

    def _preset(self, pattern: int) -> None:
        """Fill the numeric list with a display pattern (ours; the WT's patterns depend on its options)."""
        functions = ("U", "I", "P", "S", "Q", "LAMBda", "PHI", "FU") if pattern == 1 else (
            "P", "WH", "WHP", "WHM", "AH", "TIME")  # fmt: skip
        self.items = [None] * MAX_ITEMS
        k = 0
        for element in self._element_list():
            for function in functions:
                self.items[k] = Item(function, element)
                k += 1

    def _read(self, item: Item | None) -> str:
        if item is None:
            return "NAN"
        try:
            value = float(self.reference.measure(_FUNCTIONS[item.function], item.element))
        except (ValueError, KeyError, ZeroDivisionError):  # nothing to measure: the WT shows "------"
            return "NAN"
        return wt_number(value, item.function)

    # -- NUMeric group --------------------------------------------------------------------------
    @scpi(":NUMeric:FORMat", Choice("ASCii", "FLOat"))
    def numeric_format(self, fmt: str) -> None:
        if fmt != "ASCII":
            raise ScpiError(-221, "Settings conflict;only NUMeric:FORMat ASCii is simulated")

    @scpi(":NUMeric:FORMat?")
    def numeric_format_q(self) -> str:
        return self._mnemonic("ASCii")

    @scpi(":NUMeric[:NORMal]:NUMBer", Any_())
    def numeric_number(self, token: str) -> None:
        self.number = MAX_ITEMS if token.upper() == "ALL" else Int(1, MAX_ITEMS).convert(token, self)

    @scpi(":NUMeric[:NORMal]:NUMBer?")
    def numeric_number_q(self) -> int:
        return self.number

    @scpi(":NUMeric[:NORMal]:ITEM#{1..255}", Any_(), Any_(optional=True), Any_(optional=True))
    def numeric_item(self, n: int, function: str, element: str | None, order: str | None) -> None:
        """``ITEM<n> NONE`` or ``ITEM<n> <function>,<element>[,TOTal]`` (harmonic order: total only)."""
        name = _BY_SPELLING.get(function.upper())
        if function.upper() == "NONE":
            if element is not None:
                raise ScpiError(-108)
            self.items[n - 1] = None
            return
        if name is None:
            raise ScpiError(-224, f"Illegal parameter value;function {function} is not simulated")
        if element is None:
            raise ScpiError(-109)
        if order is not None and order.upper() not in ("TOT", "TOTAL"):
            raise ScpiError(-224, "Illegal parameter value;only the TOTal order is simulated")
        self.items[n - 1] = Item(name, self._element(element))

    @scpi(":NUMeric[:NORMal]:ITEM#{1..255}?")
    def numeric_item_q(self, n: int) -> str:
        item = self.items[n - 1]
        if item is None:
            return "NONE"
        return f"{self._mnemonic(item.function)},{item.element}"

    @scpi(":NUMeric[:NORMal]:VALue?", Int(1, MAX_ITEMS, optional=True))
    def numeric_value_q(self, n: int | None) -> str:
        """Items 1..NUMBer as one CSV line, or item ``n`` alone."""
        if n is not None:
            return self._read(self.items[n - 1])
        return ",".join(self._read(item) for item in self.items[: self.number])

    @scpi(":NUMeric[:NORMal]:CLEar", Any_(), Int(1, MAX_ITEMS, optional=True))
    def numeric_clear(self, first: str, last: int | None) -> None:
        """``CLEar ALL`` or ``CLEar <first>[,<last>]``: those items become NONE."""
        if first.upper() == "ALL":
            lo, hi = 1, MAX_ITEMS
        else:
            lo = Int(1, MAX_ITEMS).convert(first, self)
            hi = MAX_ITEMS if last is None else last
        if hi < lo:
            raise ScpiError(-222)
        for k in range(lo - 1, hi):
            self.items[k] = None

    @scpi(":NUMeric[:NORMal]:PRESet", Int(1, 2))
    def numeric_preset(self, pattern: int) -> None:
        self._preset(pattern)

    # -- INTEGrate group ------------------------------------------------------------------------
    def _not_integrating(self, what: str) -> None:
        state = self.reference.integration.state
        if state not in _RESET_STATES:
            raise ScpiError(-221, f"Settings conflict;{what} needs the integration reset (state {state})")

    @scpi(":INTEGrate:MODE", Choice("NORMal", "CONTinuous"))
    def integrate_mode(self, mode: str) -> None:
        self._not_integrating("INTEGrate:MODE")
        self.reference.integration.mode = mode

    @scpi(":INTEGrate:MODE?")
    def integrate_mode_q(self) -> str:
        return self._mnemonic(_MODES[self.reference.integration.mode])

    @scpi(":INTEGrate:TIMer#", Int(0, MAX_TIMER_H), Int(0, 59), Int(0, 59))
    def integrate_timer(self, _element: int, hours: int, minutes: int, seconds: int) -> None:
        """The suffix (independent per-element timers on the WT) is accepted; all elements share one timer."""
        self._not_integrating("INTEGrate:TIMer")
        self.reference.integration.timer_s = float(hours * 3600 + minutes * 60 + seconds)

    @scpi(":INTEGrate:TIMer#?")
    def integrate_timer_q(self, _element: int) -> tuple[int, int, int]:
        total = round(self.reference.integration.timer_s)
        return total // 3600, total // 60 % 60, total % 60

    @scpi(":INTEGrate:STARt")
    def integrate_start(self) -> None:
        """From Reset or Stop; after an automatic stop (Time-up) the WT needs a reset first (IM WT1801-01EN
        §9, "Automatic Stopping of Integration")."""
        integ = self.reference.integration
        if integ.state not in (*_RESET_STATES, "STOP"):
            raise ScpiError(-221, f"Settings conflict;cannot start integration in state {integ.state}")
        try:
            integ.start()
        except IntegrationError as exc:  # e.g. CONTinuous without a timer
            raise ScpiError(-221, f"Settings conflict;{exc}") from exc

    @scpi(":INTEGrate:STOP")
    def integrate_stop(self) -> None:
        integ = self.reference.integration
        if integ.state != "START":
            raise ScpiError(-221, f"Settings conflict;cannot stop integration in state {integ.state}")
        integ.stop()

    @scpi(":INTEGrate:RESet")
    def integrate_reset(self) -> None:
        integ = self.reference.integration
        if integ.state == "START":
            raise ScpiError(-221, "Settings conflict;stop the integration before resetting it")
        integ.reset()

    @scpi(":INTEGrate:STATe?")
    def integrate_state_q(self) -> str:
        return self._mnemonic(_STATES[self.reference.integration.state])

    # -- STATus / COMMunicate -------------------------------------------------------------------
    @scpi(":STATus:ERRor?")
    def status_error_q(self) -> str:
        """Same queue as SYSTem:ERRor? (the WT's own error query)."""
        code, text = self.pop_error()
        return f"{code},{quote(text)}"

    @scpi(":COMMunicate:HEADer", Bool())
    def communicate_header(self, on: bool) -> None:
        self.header_in_response = on

    @scpi(":COMMunicate:HEADer?")
    def communicate_header_q(self) -> bool:
        return self.header_in_response

    @scpi(":COMMunicate:VERBose", Bool())
    def communicate_verbose(self, on: bool) -> None:
        self.verbose_headers = on

    @scpi(":COMMunicate:VERBose?")
    def communicate_verbose_q(self) -> bool:
        return self.verbose_headers
