"""Parameter types: each converts one program data element (IEEE 488.2 §7.7) into a Python value.

A token reaching :meth:`ParamType.convert` is one element, stripped of white space and never empty; its first
character tells its kind (§7.7.1 character data, §7.7.2 decimal numeric, §7.7.4 non-decimal numeric, §7.7.5
string, §7.7.6 block).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from instruments.scpi.errors import ScpiError
from instruments.scpi.mnemonics import short_form

#: a bound is a number, or a function of the device (ranges that come from a rating known only at run time)
_N = TypeVar("_N", int, float)
Bound = float | Callable[[Any], float] | None

# NRf with an optional suffix; white space is allowed around the exponent's E and before the suffix (§7.7.2.2)
_DECIMAL = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[ \t]*[eE][ \t]*[+-]?\d+)?)[ \t]*([A-Za-z][A-Za-z0-9/]*)?\Z")
_NON_DECIMAL = {"H": (16, "0123456789ABCDEF"), "Q": (8, "01234567"), "B": (2, "01")}
_NUM_START = frozenset("0123456789+-.")
_MNEMONIC = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

# IEEE 488.2 §7.7.3.4 suffix multipliers (case-insensitive, so "M" is milli and "MA" is mega)
_MULTIPLIERS = {
    "EX": 1e18, "PE": 1e15, "T": 1e12, "G": 1e9, "MA": 1e6, "K": 1e3,
    "M": 1e-3, "U": 1e-6, "N": 1e-9, "P": 1e-12, "F": 1e-15, "A": 1e-18,
}  # fmt: skip

# SCPI-1999 Vol. 1 §7.2.1: special numeric mnemonics; INF/NINF/NAN as SCPI represents them (9.9E37, 9.91E37)
_SPECIAL = {
    "MIN": "MIN", "MINIMUM": "MIN", "MAX": "MAX", "MAXIMUM": "MAX", "DEF": "DEF", "DEFAULT": "DEF",
    "INF": "INF", "NINF": "NINF", "NAN": "NAN",
}  # fmt: skip
_SPECIAL_VALUES = {"INF": 9.9e37, "NINF": -9.9e37, "NAN": 9.91e37}

_QUOTES = "\"'"


def _resolve(bound: Bound, device: Any) -> float | None:
    return bound(device) if callable(bound) else bound


def _unit_table(unit: str) -> dict[str, float]:
    """Every accepted spelling of ``unit`` with an SI multiplier, upper case, → factor."""
    u = unit.upper()
    table = {u: 1.0}
    for prefix, factor in _MULTIPLIERS.items():
        table[prefix + u] = factor
    if u in ("HZ", "OHM"):  # SCPI-1999 Vol. 1 §7.2.3: MHZ and MOHM mean mega, not milli
        table["M" + u] = 1e6
    return table


def parse_number(token: str) -> tuple[float, str]:
    """Decimal (NR1/NR2/NR3) or non-decimal (#H/#Q/#B) numeric data → (value, suffix as sent, maybe "")."""
    c = token[0]
    if c == "#":
        if len(token) > 1 and token[1].isdigit():
            raise ScpiError(-168)
        radix = _NON_DECIMAL.get(token[1:2].upper())
        digits = token[2:].upper()
        if radix is None or not digits or any(ch not in radix[1] for ch in digits):
            raise ScpiError(-121)
        return float(int(digits, radix[0])), ""
    m = _DECIMAL.match(token)
    if m is None:
        raise ScpiError(-121) if c in _NUM_START else ScpiError(-104)
    mantissa = m.group(1)
    if " " in mantissa or "\t" in mantissa:
        mantissa = "".join(mantissa.split())
    value = float(mantissa)
    if math.isinf(value):
        raise ScpiError(-123)
    return value, m.group(2) or ""


def is_numeric(token: str) -> bool:
    return token[0] in _NUM_START or token[0] == "#"


class ParamType:
    """One parameter of a command; ``optional`` ones may be omitted (only trailing ones, in practice)."""

    __slots__ = ("optional",)

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional

    def convert(self, token: str, device: Any) -> Any:
        raise NotImplementedError

    def omitted(self, device: Any) -> Any:
        """The value a handler receives for an omitted optional parameter."""
        return None

    def special(self, name: str, device: Any) -> Any:
        """Value of MIN/MAX/DEF for this parameter (``VOLT? MAX``); -224 where it has none."""
        raise ScpiError(-224)


class Num(ParamType):
    """Decimal numeric data with an optional unit (SI multipliers accepted), MIN/MAX/DEF, range-checked.

    ``minimum``, ``maximum`` and ``default`` may be numbers or functions of the device (run-time ratings).
    Beyond the range: -222 (SCPI-1999 Vol. 2 §21.8.10).
    """

    __slots__ = ("default", "maximum", "minimum", "unit", "units")

    def __init__(
        self,
        unit: str | None = None,
        minimum: Bound = None,
        maximum: Bound = None,
        default: Bound = None,
        optional: bool = False,
    ) -> None:
        super().__init__(optional)
        self.unit = unit.upper() if unit else None
        self.minimum = minimum
        self.maximum = maximum
        self.default = default
        self.units = _unit_table(unit) if unit else {}

    def _scale(self, suffix: str) -> float:
        if self.unit is None:
            raise ScpiError(-138)
        factor = self.units.get(suffix.upper())
        if factor is None:
            raise ScpiError(-131, f"Invalid suffix;expected {self.unit}")
        return factor

    def special(self, name: str, device: Any) -> float:
        bound = {"MIN": self.minimum, "MAX": self.maximum, "DEF": self.default}.get(name)
        value = _resolve(bound, device)
        if value is None:
            raise ScpiError(-224, f"Illegal parameter value;no {name} for this parameter")
        return float(value)

    def convert(self, token: str, device: Any) -> float:
        if is_numeric(token):
            value, suffix = parse_number(token)
            if suffix:
                value *= self._scale(suffix)
        elif token[0] in _QUOTES:
            raise ScpiError(-104)
        else:
            name = _SPECIAL.get(token.upper())
            if name is None:
                raise ScpiError(-104) if _MNEMONIC.match(token) else ScpiError(-102)
            if name in _SPECIAL_VALUES:
                value = _SPECIAL_VALUES[name]
            else:
                return self.special(name, device)
        return _in_range(value, self.minimum, self.maximum, device)

    def omitted(self, device: Any) -> float | None:
        value = _resolve(self.default, device)
        return None if value is None else float(value)


def _in_range(value: _N, minimum: Bound, maximum: Bound, device: Any) -> _N:
    """``value`` if within the (possibly device-dependent) bounds, else −222 Data out of range."""
    lo = _resolve(minimum, device)
    hi = _resolve(maximum, device)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ScpiError(-222)
    return value


class Int(ParamType):
    """Integer numeric data (decimal values are rounded, IEEE 488.2 §7.7.2.5), MIN/MAX/DEF, range-checked."""

    __slots__ = ("default", "maximum", "minimum")

    def __init__(
        self,
        minimum: Bound = None,
        maximum: Bound = None,
        default: Bound = None,
        optional: bool = False,
    ) -> None:
        super().__init__(optional)
        self.minimum = minimum
        self.maximum = maximum
        self.default = default

    def special(self, name: str, device: Any) -> int:
        bound = {"MIN": self.minimum, "MAX": self.maximum, "DEF": self.default}.get(name)
        value = _resolve(bound, device)
        if value is None:
            raise ScpiError(-224, f"Illegal parameter value;no {name} for this parameter")
        return round(value)

    def convert(self, token: str, device: Any) -> int:
        if is_numeric(token):
            number, suffix = parse_number(token)
            if suffix:
                raise ScpiError(-138)
            value = round(number)
        elif token[0] in _QUOTES:
            raise ScpiError(-104)
        else:
            name = _SPECIAL.get(token.upper())
            if name in ("MIN", "MAX", "DEF"):
                return self.special(name, device)
            raise ScpiError(-104) if _MNEMONIC.match(token) else ScpiError(-102)
        return _in_range(value, self.minimum, self.maximum, device)

    def omitted(self, device: Any) -> int | None:
        value = _resolve(self.default, device)
        return None if value is None else round(value)


class Bool(ParamType):
    """Boolean data ON|OFF or a number (non-zero after rounding = ON), SCPI-1999 Vol. 1 §7.3."""

    __slots__ = ()

    def convert(self, token: str, device: Any) -> bool:
        if is_numeric(token):
            number, suffix = parse_number(token)
            if suffix:
                raise ScpiError(-138)
            return round(number) != 0
        up = token.upper()
        if up == "ON":
            return True
        if up == "OFF":
            return False
        if token[0] in _QUOTES:
            raise ScpiError(-104)
        raise ScpiError(-224) if _MNEMONIC.match(token) else ScpiError(-102)


class Choice(ParamType):
    """Character data from a fixed set; long or short form, any case → the canonical long form, upper case."""

    __slots__ = ("choices", "forms")

    def __init__(self, *mnemonics: str, optional: bool = False) -> None:
        super().__init__(optional)
        self.forms: dict[str, str] = {}
        for mnemonic in mnemonics:
            long = mnemonic.upper()
            short = short_form(mnemonic)
            self.forms[long] = long
            self.forms[short] = long
        self.choices = tuple(m.upper() for m in mnemonics)

    def convert(self, token: str, device: Any) -> str:
        value = self.forms.get(token.upper())
        if value is not None:
            return value
        if is_numeric(token) or token[0] in _QUOTES:
            raise ScpiError(-104)
        if _MNEMONIC.match(token):
            raise ScpiError(-224, f"Illegal parameter value;expected one of {','.join(self.choices)}")
        raise ScpiError(-102)


class Str(ParamType):
    """String data in single or double quotes; a doubled quote inside stands for one (IEEE 488.2 §7.7.5)."""

    __slots__ = ()

    def convert(self, token: str, device: Any) -> str:
        return unquote(token)


class Any_(ParamType):
    """The element's raw text (quotes kept), for handlers that parse it themselves."""

    __slots__ = ()

    def convert(self, token: str, device: Any) -> str:
        return token


def unquote(token: str) -> str:
    """String program data → its text; -104 if it is not a string, -151 if malformed."""
    q = token[0]
    if q not in _QUOTES:
        raise ScpiError(-104)
    body = token[1:-1]
    if len(token) < 2 or token[-1] != q or q in body.replace(q + q, ""):
        raise ScpiError(-151)
    return body.replace(q + q, q)
