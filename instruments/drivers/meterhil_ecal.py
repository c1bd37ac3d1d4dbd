"""MeterHIL multi-channel error calculator: one channel per meter position (docs/error-calculator-scpi.md).

Constants are always written with their unit (``IPKWH``), so the channel's unit — the one queries answer in — is
imp/kWh whatever was used before. Several positions are set up, started or aborted in one compound message, and
every channel is read with one ``FETCh:ALL?``: a 24-position bench costs one round trip per poll.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from instruments.drivers.declarative import Action, Channel, Channels, Reading, ScpiDriver, Setting, fmt_number
from instruments.drivers.errors import ReplyError
from instruments.roles import CalculatorMode, ChannelResult, ChannelState

MAX_PULSES = 1_000_000_000
#: constants a channel takes, imp/kWh (the calculator refuses ≤ 0)
CONSTANT_RANGE = (1e-9, 1e15)
#: SCPI NaN (no result yet) and overrange (no reference pulse in the gate: the error cannot be computed)
SCPI_NAN = 9.91e37
SCPI_OVERRANGE = 9.9e37
_SCPI_HUGE = SCPI_OVERRANGE * 0.999

_MODES: dict[str, CalculatorMode] = {
    "ERR": "ERROR", "ERROR": "ERROR", "CONT": "CONTINUOUS", "CONTINUOUS": "CONTINUOUS", "COUN": "COUNT",
    "COUNT": "COUNT",
}  # fmt: skip
_SHORT = {"ERROR": "ERR", "CONTINUOUS": "CONT", "COUNT": "COUN"}
_STATES: dict[str, ChannelState] = {s: s for s in ("IDLE", "WAITING", "RUNNING", "FINISHED")}


def fmt_constant(value: float) -> str:
    return fmt_number(value) + ",IPKWH"


def parse_mode(reply: str) -> CalculatorMode:
    return _MODES[reply.strip().upper()]


def parse_error_pct(text: str) -> float | None:
    """Error % of a result: None while there is none (SCPI NaN); +inf when it could not be computed."""
    value = float(text)
    if value < _SCPI_HUGE:
        return value
    return None if value >= SCPI_NAN * 0.999 else math.inf


def parse_records(reply: str) -> dict[int, ChannelResult]:
    """``<n>,<state>,<error %>,<MUT pulses>,<reference pulses>`` repeated, as FETCh? / FETCh:ALL? reply.

    The hot path of a poll (a 24-position bench: 120 fields), so one pass without helpers per field.
    """
    f = reply.split(",")
    if len(f) % 5:
        raise ValueError(f"{len(f)} fields is not a whole number of 5-field records")
    out = {}
    it = iter(f)
    for n_text, state_text, error_text, mut, ref in zip(it, it, it, it, it, strict=True):
        state = _STATES.get(state_text) or _STATES.get(state_text.strip())
        if state is None:
            raise ValueError(f"unknown channel state {state_text!r}")
        value = float(error_text)
        error = value if value < _SCPI_HUGE else None if value >= SCPI_NAN * 0.999 else math.inf
        n = int(n_text)
        out[n] = ChannelResult(n, state, error, int(mut), int(ref))
    return out


def parse_record(reply: str) -> ChannelResult:
    (record,) = parse_records(reply).values()
    return record


class CalculatorChannel(Channel):
    """One channel = one meter position."""

    mut_constant = Setting("CHAN{ch}:MUT:CONS", parse=float, fmt=fmt_constant, unit="imp/kWh", within=CONSTANT_RANGE)
    mut_pulses = Setting("CHAN{ch}:MUT:PULS", parse=int, within=(1, MAX_PULSES), doc="MUT pulses per measurement")
    ref_constant = Setting("CHAN{ch}:REF:CONS", parse=float, fmt=fmt_constant, unit="imp/kWh", within=CONSTANT_RANGE)
    mode = Setting("CHAN{ch}:MODE", parse=parse_mode, fmt=_SHORT.__getitem__, values=tuple(_SHORT))
    state = Reading("CHAN{ch}:STAT?", parse=str.strip)
    result = Reading("CHAN{ch}:FETC?", parse=parse_record)
    error_pct = Reading("CHAN{ch}:FETC:ERR?", parse=parse_error_pct, unit="%")
    results_count = Reading("CHAN{ch}:FETC:RES?", parse=int, doc="results since INITiate")
    start = Action("CHAN{ch}:INIT")
    abort = Action("CHAN{ch}:ABOR")


class MeterHilErrorCalculator(ScpiDriver):
    """Error calculator; plays the ``error_calculator`` role (:class:`instruments.roles.ErrorCalculator`).

    ``channels`` (bench-file option) is the number of positions; when not given it is asked once (CHAN:COUN?).
    """

    model = "MeterHIL error calculator"
    channel_ = Channels(CalculatorChannel, lambda drv: range(1, drv.channels + 1))
    count = Reading("CHAN:COUN?", parse=int)
    start_all = Action("INIT:ALL")
    abort_all = Action("ABOR:ALL")

    def __init__(self, transport: Any, *, channels: int | None = None, check_errors: bool = True) -> None:
        super().__init__(transport, check_errors=check_errors)
        self._count = channels

    @property
    def channels(self) -> int:
        if self._count is None:
            self._count = self.count
        return self._count

    def channel(self, n: int) -> CalculatorChannel:
        ch: CalculatorChannel = self.channel_[n]
        return ch

    # -- the ErrorCalculator role ------------------------------------------------------------------
    def _positions(self, positions: Sequence[int]) -> list[int]:
        """Checked, de-duplicated, in order; an unknown position is refused before anything is sent."""
        out = sorted(set(positions))
        for n in out:
            self.channel(n)
        return out

    def _all(self, positions: list[int]) -> bool:
        return len(positions) == self.channels

    def configure(self, positions: Sequence[int], mut_constant: float | Mapping[int, float], mut_pulses: int,
                  ref_constant: float | None = None, mode: CalculatorMode = "ERROR") -> None:
        """Mode, N and constants (imp/kWh) of ``positions`` in one message; everything is checked first."""
        ps = self._positions(positions)
        if not ps:
            return
        consts = {n: mut_constant[n] for n in ps} if isinstance(mut_constant, Mapping) else dict.fromkeys(
            ps, mut_constant)  # fmt: skip
        first = self.channel(ps[0])
        CalculatorChannel.mode.check(first, mode)
        CalculatorChannel.mut_pulses.check(first, mut_pulses)
        for n, c in consts.items():
            CalculatorChannel.mut_constant.check(self.channel(n), c)
        if ref_constant is not None:
            CalculatorChannel.ref_constant.check(first, ref_constant)
        short = _SHORT[mode]
        if self._all(ps) and len(set(consts.values())) == 1:
            cmds = [f"CONF:ALL {short},{mut_pulses},{fmt_constant(consts[ps[0]])}"]
            if ref_constant is not None:
                cmds.append(f"CONF:ALL:REF:CONS {fmt_constant(ref_constant)}")
        else:
            cmds = [f"CHAN{n}:CONF {short},{mut_pulses},{fmt_constant(consts[n])}" for n in ps]
            if ref_constant is not None:
                cmds += [f"CHAN{n}:REF:CONS {fmt_constant(ref_constant)}" for n in ps]
        self.write(";:".join(cmds))

    def start(self, positions: Sequence[int]) -> None:
        """Start measuring (a channel already measuring is an error, −213)."""
        ps = self._positions(positions)
        if ps:
            self.write("INIT:ALL" if self._all(ps) else ";:".join(f"CHAN{n}:INIT" for n in ps))

    def abort(self, positions: Sequence[int]) -> None:
        ps = self._positions(positions)
        if ps:
            self.write("ABOR:ALL" if self._all(ps) else ";:".join(f"CHAN{n}:ABOR" for n in ps))

    def results(self) -> dict[int, ChannelResult]:
        """Every channel's state, error and pulse counts, in one round trip."""
        reply = self.query("FETC:ALL?")
        try:
            return parse_records(reply)
        except (ValueError, IndexError) as exc:
            raise ReplyError(self.name, f"cannot parse FETCh:ALL? reply {reply!r}: {exc}") from exc

    def states(self) -> dict[int, str]:
        reply = self.query("STAT:ALL?")
        return dict(enumerate((s.strip() for s in reply.split(",")), 1))

    def safe_state(self) -> None:
        """Abort every channel, on a clean link (an interrupted exchange may have left half a reply)."""
        self.transport.reconnect()
        self.abort_all()
