"""Weiss Technik / Vötsch climatic chamber over the S!MPAC *SimServ* remote protocol (TCP port 2049).

Request ``<command>¶<chamber>[¶<argument>…]`` CR, reply ``1[¶<data>…]`` CR LF, or a negative code when refused
(``¶`` is the single Latin-1 byte 0xB6). Command numbers and reply codes as used by public SimServ client code;
the subset is listed in docs/chamber-protocols.md. There is no error queue: every reply carries its own code, so a
write costs one round trip like a query.

Settings are declared as in the SCPI drivers; the declarative layer joins command and value with a space, which
this driver sends as the field separator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instruments.drivers.declarative import Action, Limits, Reading, ScpiDriver, Setting, parse_bool
from instruments.drivers.errors import ReplyError, RequestRefused

SEP = "\xb6"  # ¶ in Latin-1

#: negative reply codes and what they mean
CODES = {
    -5: "command number unknown",
    -6: "too few or incorrect parameters (missing, not a number, beyond the chamber's range, wrong index)",
    -8: "data could not be read",
}

# command numbers
SET_SETPOINT, GET_SETPOINT, GET_ACTUAL = 11001, 11002, 11004
INPUT_MIN, INPUT_MAX, N_VARIABLES = 11007, 11009, 11018
GET_GRADIENT_UP, SET_GRADIENT_UP, GET_GRADIENT_DOWN, SET_GRADIENT_DOWN = 11066, 11068, 11070, 11072
STATUS, SET_OUTPUT, GET_OUTPUT = 10012, 14001, 14003
N_MESSAGES, MESSAGE_TEXT, RESET_ERRORS = 17002, 17007, 17012
STOP_PROGRAM, INFO = 19015, 99997
#: digital output 1 starts (1) / stops (0) manual operation
OUT_OPERATION = 1
TEMPERATURE, HUMIDITY = 1, 2


def frame(*fields: object) -> str:
    """Fields joined by ``¶``; ``{i}`` stands for the chamber index."""
    return SEP.join(str(f) for f in fields)


class SimServError(RequestRefused):
    """The chamber refused a request with a negative code; nothing was changed."""

    def __init__(self, instrument: str, code: int, request: str) -> None:
        super().__init__(instrument, code, CODES.get(code, "unknown reply code"), request, f"SimServ code {code}")


def _var(command: int, variable: int) -> str:
    return frame(command, "{i}", variable)


class SimServChamber(ScpiDriver):
    """Climatic chamber; plays the ``chamber`` role (:class:`instruments.roles.ClimaticChamber`).

    Options (bench file): ``chamber_index``; ``min/max_temperature_c`` and ``min/max_humidity_pct`` (default: asked
    from the controller, commands 11007/11009); ``max_gradient_k_per_min``; ``humidity`` (whether the chamber
    controls humidity; default: asked once, 11018); ``humidity_output``, the digital output that switches
    humidity control on/off (no default: each chamber's configuration assigns it and no public source gives a
    fixed number; without it ``set_humidity`` writes only the setpoint and :attr:`can_switch_humidity_off` is
    False); ``safe_temperature_c``, the setpoint the safe state leaves behind after stopping (default: setpoint
    unchanged).
    """

    model = "SimServ chamber"

    temperature_setpoint = Setting(_var(SET_SETPOINT, TEMPERATURE), query=_var(GET_SETPOINT, TEMPERATURE), unit="°C",
                                   within=lambda d: d.limits(TEMPERATURE))
    humidity_setpoint = Setting(_var(SET_SETPOINT, HUMIDITY), query=_var(GET_SETPOINT, HUMIDITY), unit="%RH",
                                within=lambda d: d.limits(HUMIDITY))
    temperature_now = Reading(_var(GET_ACTUAL, TEMPERATURE), unit="°C")
    humidity_now = Reading(_var(GET_ACTUAL, HUMIDITY), unit="%RH")
    gradient_up = Setting(_var(SET_GRADIENT_UP, TEMPERATURE), query=_var(GET_GRADIENT_UP, TEMPERATURE),
                          unit="K/min", within=lambda d: (0.0, d.max_gradient_k_per_min))
    gradient_down = Setting(_var(SET_GRADIENT_DOWN, TEMPERATURE), query=_var(GET_GRADIENT_DOWN, TEMPERATURE),
                            unit="K/min", within=lambda d: (0.0, d.max_gradient_k_per_min))
    operation = Setting(_var(SET_OUTPUT, OUT_OPERATION), query=_var(GET_OUTPUT, OUT_OPERATION), parse=parse_bool,
                        fmt=lambda on: "1" if on else "0", doc="manual operation running")
    humidity_control = Setting(frame(SET_OUTPUT, "{i}", "{h}"), query=frame(GET_OUTPUT, "{i}", "{h}"),
                               parse=parse_bool, fmt=lambda on: "1" if on else "0",
                               doc="humidity control on (digital output ``humidity_output``)")
    status = Reading(frame(STATUS, "{i}"), parse=int, doc="1 idle, 3 running, +8 alarm, +4 warning")
    variables = Reading(frame(N_VARIABLES, "{i}"), parse=int, doc="1: temperature only, 2: with humidity")
    message_count = Reading(frame(N_MESSAGES, "{i}"), parse=int)
    reset_errors = Action(frame(RESET_ERRORS, "{i}"))
    stop_program = Action(frame(STOP_PROGRAM, "{i}"))

    def __init__(
        self,
        transport: Any,
        *,
        chamber_index: int = 1,
        min_temperature_c: float | None = None,
        max_temperature_c: float | None = None,
        min_humidity_pct: float | None = None,
        max_humidity_pct: float | None = None,
        max_gradient_k_per_min: float = float("inf"),
        humidity: bool | None = None,
        humidity_output: int | None = None,
        safe_temperature_c: float | None = None,
    ) -> None:
        super().__init__(transport)
        if humidity_output == OUT_OPERATION:
            raise ValueError(f"{self.name}: humidity_output {OUT_OPERATION} is the start/stop output of manual "
                             "operation; give the digital output your chamber assigns to humidity control")
        self.chamber_index = chamber_index
        self.max_gradient_k_per_min = max_gradient_k_per_min
        self.safe_temperature_c = safe_temperature_c
        self.humidity_output = humidity_output
        # without a humidity output "{h}" stays unfilled: humidity_control cannot be sent to a guessed channel
        self._placeholders: dict[str, Any] = {"i": chamber_index}
        if humidity_output is not None:
            self._placeholders["h"] = humidity_output
        self._limits: dict[int, tuple[float | None, float | None]] = {
            TEMPERATURE: (min_temperature_c, max_temperature_c),
            HUMIDITY: (min_humidity_pct, max_humidity_pct),
        }
        self._has_humidity: bool | None = humidity

    # -- I/O: every reply carries its code ---------------------------------------------------------
    def placeholders(self) -> dict[str, Any]:
        return self._placeholders

    def query(self, command: str) -> str:
        """Send one request; the data fields of an accepted reply, joined by ``¶``."""
        request = command.replace(" ", SEP)
        reply = self.transport.query(request).rstrip("\r\n")
        code, _, data = reply.partition(SEP)
        if code == "1":
            return data
        try:
            number = int(code)
        except ValueError:
            raise ReplyError(self.name, f"unexpected reply {reply!r} to {request!r}") from None
        raise SimServError(self.name, number, request)

    def write(self, command: str) -> None:
        self.query(command)

    def ask(self, command: int, *args: object) -> list[str]:
        """Any SimServ command by number: the data fields of the reply."""
        data = self.query(frame(command, self.chamber_index, *args))
        return data.split(SEP) if data else []

    def limits(self, variable: int) -> Limits:
        """Setpoint limits from the options, else asked from the controller once (11007/11009)."""
        low, high = self._limits[variable]
        if low is None or high is None:
            low = float(self.ask(INPUT_MIN, variable)[0]) if low is None else low
            high = float(self.ask(INPUT_MAX, variable)[0]) if high is None else high
            self._limits[variable] = (low, high)
        return low, high

    @property
    def has_humidity(self) -> bool:
        if self._has_humidity is None:
            self._has_humidity = self.variables >= 2
        return self._has_humidity

    @property
    def can_switch_humidity_off(self) -> bool:
        """Whether :meth:`humidity_off` can work: only with the ``humidity_output`` option."""
        return self.humidity_output is not None

    @staticmethod
    def switches_humidity_off(options: Mapping[str, Any]) -> bool:
        """:attr:`can_switch_humidity_off` from the bench file's options alone (checked before a run starts)."""
        return options.get("humidity_output") is not None

    def identify(self) -> str:
        """``<type>,<year>,<serial>`` from command 99997."""
        return ",".join(self.ask(INFO, k)[0] for k in (1, 2, 3))

    def errors(self) -> list[tuple[int, str]]:
        """The controller's message list (active alarms), numbered from 1."""
        return [(k, self.ask(MESSAGE_TEXT, k)[0]) for k in range(1, self.message_count + 1)]

    def clear_status(self) -> None:
        self.reset_errors()

    # -- the ClimaticChamber role ------------------------------------------------------------------
    def set_temperature(self, celsius: float) -> None:
        self.temperature_setpoint = celsius

    def set_humidity(self, percent_rh: float) -> None:
        """The humidity setpoint, and with the ``humidity_output`` option humidity control on (it may have been
        switched off, or dropped by a power loss); without it the setpoint only."""
        if not self.has_humidity:
            raise ValueError(f"{self.name}: the chamber has no humidity control; nothing was sent")
        self.humidity_setpoint = percent_rh
        if self.humidity_output is not None:
            self.humidity_control = True

    def humidity_off(self) -> None:
        """Humidity not controlled (dry heat, cold): the ``humidity_output`` digital output off; nothing to do on
        a chamber without humidity control. Without the option it is refused (nothing sent)."""
        if not self.has_humidity:
            return
        if self.humidity_output is None:
            raise ValueError(f"{self.name}: cannot switch humidity control off without the humidity_output option "
                             "(the chamber's digital output for it); nothing was sent")
        self.humidity_control = False

    def set_gradient(self, up_k_per_min: float, down_k_per_min: float) -> None:
        """Ramps on SimServ: the program value moves at these gradients towards the setpoint (0 = step)."""
        SimServChamber.gradient_down.check(self, down_k_per_min)
        self.gradient_up = up_k_per_min
        self.gradient_down = down_k_per_min

    def temperature(self) -> float:
        return self.temperature_now

    def humidity(self) -> float | None:
        return self.humidity_now if self.has_humidity else None

    def start(self) -> None:
        self.operation = True

    def stop(self) -> None:
        self.operation = False

    def is_running(self) -> bool:
        return self.operation

    def alarms(self) -> list[str]:
        return [text for _, text in self.errors()]

    def safe_state(self) -> None:
        """Stop first (the essential part), then the safe setpoint if configured; on a clean link (an
        interrupted exchange may have left half a reply behind)."""
        self.transport.reconnect()
        self.stop()
        if self.safe_temperature_c is not None:
            self.set_temperature(self.safe_temperature_c)
