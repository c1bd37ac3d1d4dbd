"""Errors raised by drivers.

:class:`BenchFault` and its subclasses are faults of the bench (an instrument, its link), never of the meter under
test: reports show them as *broken*, not *failed*.
"""

from __future__ import annotations


class BenchFault(Exception):
    """An instrument or its connection misbehaved."""

    def __init__(self, instrument: str, message: str) -> None:
        self.instrument = instrument
        super().__init__(f"{instrument}: {message}")


class InstrumentConnectionError(BenchFault):
    """The instrument cannot be reached (after the bounded reconnects)."""


class InstrumentTimeout(BenchFault):
    """The instrument did not answer in time."""


class InstrumentError(BenchFault):
    """The instrument reported an error in its error queue after a command."""

    def __init__(self, instrument: str, code: int, message: str, command: str) -> None:
        self.code = code
        self.scpi_message = message
        self.command = command
        super().__init__(instrument, f"error {code},\"{message}\" after {command!r}")


class RequestRefused(BenchFault):
    """The instrument refused a request with a reply code of its own protocol (no error queue); nothing changed."""

    def __init__(self, instrument: str, code: int | str, meaning: str, request: str, shown: str) -> None:
        self.code = code
        self.meaning = meaning
        self.request = request
        super().__init__(instrument, f"{shown} ({meaning}) after {request!r}")


class ReplyError(BenchFault):
    """A reply could not be parsed (garbled, wrong format)."""


class RangeError(ValueError):
    """A setpoint beyond a rating, refused before anything was sent."""

    def __init__(self, what: str, value: object, low: float | None, high: float | None, unit: str,
                 rating: str = "") -> None:
        self.what = what
        self.value = value
        self.low = low
        self.high = high
        self.unit = unit
        if low is not None and high is not None:
            span = f"[{low:g}, {high:g}] {unit}".rstrip()
        elif high is not None:
            span = f"<= {high:g} {unit}"
        elif low is not None:
            span = f">= {low:g} {unit}"
        else:
            span = f"a finite value {unit}".rstrip()
        super().__init__(
            f"{what} = {value} {unit} refused{f' by {rating}' if rating else ''}: allowed {span}; nothing was sent"
        )
