"""Weiss Technik / Vötsch climatic chamber, S!MPAC *SimServ* remote protocol, served over TCP.

Wire format (ASCII, Latin-1 because the separator ``¶`` is the single byte 0xB6):
request ``<cmd>¶<chamber>¶<arg>…CR`` (CR LF and a lone LF are accepted too), reply ``1¶<data>…CR LF`` when
the command is accepted, or a negative code alone (``-5`` unknown command, ``-6`` too few or incorrect
parameters, ``-8`` data could not be read). The command numbers and codes follow the public client code
for SimServ chambers; the subset served here and every choice we made is listed in docs/chamber-protocols.md.

The session is sans-IO (see :mod:`instruments.simulators.net`); the physics lives in the world's
:class:`Chamber`, read and set at the moment a request arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from instruments.simulators.lines import LineSession, parse_int, parse_number
from instruments.simulators.models import ChamberModel

SEPARATOR = b"\xb6"  # ¶ in Latin-1
REPLY_END = b"\r\n"
#: a request longer than this without a terminator is discarded (one error reply, then skipped up to CR/LF)
MAX_LINE = 512

OK = 1
E_UNKNOWN_COMMAND = -5
E_PARAMETER = -6
E_NOT_READABLE = -8

#: digital output that starts (1) / stops (0) manual operation, ``14001¶1¶1¶1``
_OUT_START = 1
#: digital output that switches humidity control on (1) / off (0) on a chamber with humidity (our choice of
#: channel: real chambers assign their digital channels per configuration)
_OUT_HUMIDITY = 2
_N_DIGITAL_OUTPUTS = 32


@dataclass(frozen=True)
class ChamberIdent:
    """Answers of command 99997 (argument 1 type, 2 year of construction, 3 serial number)."""

    type: str = "MeterHIL SimServ chamber (simulated)"
    year: str = "2024"
    serial: str = "SIM-0001"


def _ident_of(chamber: object) -> ChamberIdent:
    """The chamber's model, year and serial from its bench-file section (``chamber.config``) where known."""
    default = ChamberIdent()
    config = getattr(chamber, "config", None)

    def pick(name: str, fallback: str) -> str:
        value = getattr(config, name, None) or getattr(chamber, name, None)
        return str(value) if value else fallback

    return ChamberIdent(pick("model", default.type), pick("year", default.year), pick("serial", default.serial))


class SimServError(Exception):
    """A request is refused with a negative SimServ code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


_Handler = Callable[["SimServChamber", list[str]], list[str]]
_COMMANDS: dict[int, _Handler] = {}


def _command(number: int) -> Callable[[_Handler], _Handler]:
    def register(fn: _Handler) -> _Handler:
        _COMMANDS[number] = fn
        return fn

    return register


def _fmt(value: float) -> str:
    return f"{value:.2f}"


class SimServChamber:
    """A SimServ chamber controller in front of the world's chamber (one chamber, index 1).

    State the controller keeps itself (digital outputs other than start/stop and humidity) is lost on
    :meth:`power_loss`; setpoints and gradients live in the physics chamber. Output 2 is the chamber's humidity
    control where it has one (on at start, dropped with the other outputs by a power loss).
    """

    chamber_index = 1
    max_line = MAX_LINE
    overlong_reply = str(E_UNKNOWN_COMMAND).encode() + REPLY_END

    def __init__(self, chamber: ChamberModel, ident: ChamberIdent | None = None) -> None:
        self.chamber = chamber
        self.ident = ident or _ident_of(chamber)
        self._outputs: dict[int, bool] = {}

    def new_session(self) -> LineSession:
        """CR (or CR LF, or LF) terminated requests, one reply each."""
        return LineSession(self)

    def power_loss(self) -> None:
        """Mains failure of the controller: operation stops, the digital outputs drop (humidity control too)."""
        self.chamber.stop()
        self._outputs.clear()
        if self._humidity_output(_OUT_HUMIDITY):
            self.chamber.set_humidity_control(False)

    # -- request handling ----------------------------------------------------------------------
    def handle(self, line: bytes) -> bytes:
        """One request line (without terminator) to one reply (with CR LF)."""
        fields = line.decode("latin-1").split("\xb6")
        try:
            number = parse_int(fields[0])
            handler = _COMMANDS.get(number) if number is not None else None
            if handler is None:
                raise SimServError(E_UNKNOWN_COMMAND)
            if len(fields) < 2 or parse_int(fields[1]) != self.chamber_index:
                raise SimServError(E_PARAMETER)  # no separate code is documented for a wrong chamber
            data = handler(self, fields[2:])
        except SimServError as err:
            return str(err.code).encode() + REPLY_END
        return SEPARATOR.join([str(OK).encode("latin-1")] + [d.encode("latin-1") for d in data]) + REPLY_END

    # -- argument helpers ----------------------------------------------------------------------
    @staticmethod
    def _args(args: list[str], count: int) -> list[str]:
        if len(args) < count:
            raise SimServError(E_PARAMETER)
        return args[:count]

    def _variable(self, text: str, temperature_only: bool = False) -> int:
        var = parse_int(text)
        if var == 1 or (var == 2 and not temperature_only and self.chamber.humidity_range is not None):
            return var
        raise SimServError(E_PARAMETER)

    def _number(self, text: str) -> float:
        value = parse_number(text)
        if value is None:
            raise SimServError(E_PARAMETER)
        return value

    def _range(self, var: int) -> tuple[float, float]:
        rng = self.chamber.temperature_range if var == 1 else self.chamber.humidity_range
        if rng is None:
            raise SimServError(E_NOT_READABLE)
        return rng

    def _active_alarm(self, args: list[str]) -> int:
        (index_text,) = self._args(args, 1)
        index = parse_int(index_text)
        alarms = self.chamber.alarms
        if index is None or not 1 <= index <= len(alarms):
            raise SimServError(E_PARAMETER)
        return alarms[index - 1]

    # -- commands ------------------------------------------------------------------------------
    @_command(10012)
    def _status(self, args: list[str]) -> list[str]:
        """Chamber status: 1 idle / 3 running, +8 when alarms are active (no warnings are modelled)."""
        status = 3 if self.chamber.running else 1
        if self.chamber.alarms:
            status += 8
        return [str(status)]

    @_command(11001)
    def _set_setpoint(self, args: list[str]) -> list[str]:
        var_text, value_text = self._args(args, 2)
        var, value = self._variable(var_text), self._number(value_text)
        try:
            self.chamber.set_setpoint(var, value)
        except ValueError:
            raise SimServError(E_PARAMETER) from None
        return []

    @_command(11002)
    def _get_setpoint(self, args: list[str]) -> list[str]:
        var = self._variable(self._args(args, 1)[0])
        value = self.chamber.temperature_setpoint if var == 1 else self.chamber.humidity_setpoint
        if value is None:
            raise SimServError(E_NOT_READABLE)
        return [_fmt(value)]

    @_command(11004)
    def _get_actual(self, args: list[str]) -> list[str]:
        var = self._variable(self._args(args, 1)[0])
        value = self.chamber.temperature if var == 1 else self.chamber.humidity
        if value is None:
            raise SimServError(E_NOT_READABLE)
        return [_fmt(value)]

    @_command(11007)
    def _input_min(self, args: list[str]) -> list[str]:
        return [_fmt(self._range(self._variable(self._args(args, 1)[0]))[0])]

    @_command(11009)
    def _input_max(self, args: list[str]) -> list[str]:
        return [_fmt(self._range(self._variable(self._args(args, 1)[0]))[1])]

    @_command(11018)
    def _n_variables(self, args: list[str]) -> list[str]:
        return ["1" if self.chamber.humidity_range is None else "2"]

    @_command(11023)
    def _unit(self, args: list[str]) -> list[str]:
        return ["°C" if self._variable(self._args(args, 1)[0]) == 1 else "%rH"]

    @_command(11026)
    def _name(self, args: list[str]) -> list[str]:
        return ["Temperature" if self._variable(self._args(args, 1)[0]) == 1 else "Humidity"]

    @_command(11066)
    def _get_gradient_up(self, args: list[str]) -> list[str]:
        self._variable(self._args(args, 1)[0], temperature_only=True)
        return [_fmt(self.chamber.gradient_up)]

    @_command(11070)
    def _get_gradient_down(self, args: list[str]) -> list[str]:
        self._variable(self._args(args, 1)[0], temperature_only=True)
        return [_fmt(self.chamber.gradient_down)]

    def _set_gradient(self, args: list[str], up: bool) -> list[str]:
        var_text, value_text = self._args(args, 2)
        self._variable(var_text, temperature_only=True)
        value = self._number(value_text)  # 0: no gradient limit, the program value steps
        try:
            self.chamber.set_gradient(up, value)
        except ValueError:
            raise SimServError(E_PARAMETER) from None
        return []

    @_command(11068)
    def _set_gradient_up(self, args: list[str]) -> list[str]:
        return self._set_gradient(args, up=True)

    @_command(11072)
    def _set_gradient_down(self, args: list[str]) -> list[str]:
        return self._set_gradient(args, up=False)

    def _humidity_output(self, out: int | None) -> bool:
        """Whether ``out`` is the humidity-control output (only on a chamber with humidity)."""
        return out == _OUT_HUMIDITY and self.chamber.humidity_range is not None

    @_command(14001)
    def _set_output(self, args: list[str]) -> list[str]:
        """Digital output ``n`` to 0/1; output 1 starts/stops manual operation, output 2 switches humidity
        control on/off (chamber with humidity)."""
        out_text, value_text = self._args(args, 2)
        out, value = parse_int(out_text), parse_int(value_text)
        if out is None or not 1 <= out <= _N_DIGITAL_OUTPUTS or value not in (0, 1):
            raise SimServError(E_PARAMETER)
        if out == _OUT_START:
            if value:
                self.chamber.start()
            else:
                self.chamber.stop()
        elif self._humidity_output(out):
            self.chamber.set_humidity_control(bool(value))
        else:
            self._outputs[out] = bool(value)
        return []

    @_command(14003)
    def _get_output(self, args: list[str]) -> list[str]:
        out = parse_int(self._args(args, 1)[0])
        if out is None or not 1 <= out <= _N_DIGITAL_OUTPUTS:
            raise SimServError(E_PARAMETER)
        if out == _OUT_START:
            on = self.chamber.running
        elif self._humidity_output(out):
            on = self.chamber.humidity_controlled
        else:
            on = self._outputs.get(out, False)
        return ["1" if on else "0"]

    @_command(17002)
    def _n_messages(self, args: list[str]) -> list[str]:
        """Number of messages in the list; the simulated list holds the active alarms only."""
        return [str(len(self.chamber.alarms))]

    @_command(17005)
    def _message_type(self, args: list[str]) -> list[str]:
        self._active_alarm(args)
        return ["1"]  # 1 = alarm

    @_command(17007)
    def _message_text(self, args: list[str]) -> list[str]:
        return [f"Alarm {self._active_alarm(args)}"]

    @_command(17009)
    def _message_status(self, args: list[str]) -> list[str]:
        self._active_alarm(args)
        return ["1"]  # active

    @_command(17012)
    def _reset_errors(self, args: list[str]) -> list[str]:
        self.chamber.clear_alarms()
        return []

    @_command(19014)
    def _start_program(self, args: list[str]) -> list[str]:
        """The simulated controller stores no programs, so every program number is an incorrect parameter."""
        raise SimServError(E_PARAMETER)

    @_command(19015)
    def _stop_program(self, args: list[str]) -> list[str]:
        return []  # no program can be running: accepted, nothing to do

    @_command(19204)
    def _program_number(self, args: list[str]) -> list[str]:
        return ["0"]

    @_command(19210)
    def _program_status(self, args: list[str]) -> list[str]:
        return ["0"]  # not running

    @_command(99997)
    def _info(self, args: list[str]) -> list[str]:
        item = parse_int(self._args(args, 1)[0])
        answers = {1: self.ident.type, 2: self.ident.year, 3: self.ident.serial}
        if item not in answers:
            raise SimServError(E_PARAMETER)
        return [answers[item]]
