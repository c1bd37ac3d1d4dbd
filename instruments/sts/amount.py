"""The 16-bit amount encoding of IEC 62055-41 (TransferAmount of class 0 subclasses 0–3, and the maximum power limit
and phase power unbalance limit of class 2): a base-10 exponent e (bits 15–14) and a mantissa m (bits 13–0),

    value = m                                   for e = 0
    value = m · 10^e + Σ_{n=1..e} 2^14 · 10^(n-1)   for e = 1 … 3

so the representable values are 0 … 16383 in steps of 1, 16384 … 180214 in steps of 10, 180224 … 1818524 in steps
of 100 and 1818624 … 18201624 in steps of 1000. A value between two representable ones is rounded up, in favour of
the customer (IEC 62055-41 6.3.6.2); the vectors CTSA10/CTSA12/CTSA13 cross every range boundary.

Values are integers in the field's own unit: tenths of a kWh for electricity credit (0.1 kWh resolution), watts for
the power limits.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from instruments.sts.errors import TokenError

MANTISSA_BITS = 14
_M = 1 << MANTISSA_BITS
#: the lowest value of each exponent's range, and its step
RANGES: tuple[tuple[int, int], ...] = ((0, 1), (_M, 10), (_M + _M * 10, 100), (_M + _M * 10 + _M * 100, 1000))
#: the largest value the 16-bit field represents
MAX_VALUE = RANGES[3][0] + (_M - 1) * 1000  # 18201624


def decode_amount(field: int) -> int:
    """The value a 16-bit amount field represents."""
    if not 0 <= field <= 0xFFFF:
        raise TokenError("amount", f"the amount field has 16 bits, got {field:#x}")
    low, step = RANGES[field >> MANTISSA_BITS]
    return low + (field & (_M - 1)) * step


def encode_amount(value: int, what: str = "amount") -> int:
    """The 16-bit field for ``value``, rounded up to the next representable value (see :func:`round_up`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenError(what, f"must be a whole number of the field's unit, got {value!r}")
    if not 0 <= value <= MAX_VALUE:
        raise TokenError(what, f"{value} is beyond the field's range 0 … {MAX_VALUE}")
    for exponent in (3, 2, 1, 0):
        low, step = RANGES[exponent]
        if value >= low:
            mantissa = -(-(value - low) // step)  # ceiling
            if mantissa == _M:  # rounds up into the next range (whose mantissa 0 is this very value)
                return (exponent + 1) << MANTISSA_BITS
            return (exponent << MANTISSA_BITS) | mantissa
    raise AssertionError("unreachable")


def round_up(value: int) -> int:
    """The value a token carries for ``value``: the smallest representable value ≥ ``value``."""
    return decode_amount(encode_amount(value))


def tenths(text: str | Decimal | int | float, what: str = "amount", unit: str = "kWh") -> int:
    """``text`` (e.g. ``"25.6"`` kWh) in tenths of the unit; it must be a multiple of 0.1 and ≥ 0."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise TokenError(what, f"{text!r} is not a number") from None
    if not value.is_finite():
        raise TokenError(what, f"{text!r} is not a finite number")
    scaled = value * 10
    if scaled != scaled.to_integral_value():
        raise TokenError(what, f"{value} {unit} is not a multiple of the 0.1 {unit} resolution")
    if value < 0:
        raise TokenError(what, f"{value} {unit} is negative")
    units = int(scaled)
    if units > MAX_VALUE:
        raise TokenError(what, f"{value} {unit} is beyond the range 0 … {from_tenths(MAX_VALUE)} {unit}")
    return units


def from_tenths(units: int) -> Decimal:
    """Tenths of a unit as a decimal number of the unit (``256`` → ``25.6``)."""
    return Decimal(units).scaleb(-1)
