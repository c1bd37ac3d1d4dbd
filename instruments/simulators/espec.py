"""ESPEC P-300 / SCP-220 style climatic chamber controller (ASCII over TCP, default port 10001).

Requests and replies are lines ended by CR LF (a lone CR or LF is accepted on input). Queries end in ``?``
(``TEMP?`` → ``PV,SV,H,L``); settings are ``NAME, PARAMETERS`` and are echoed as ``OK:<request>``; a refused
request gets ``NA:<reason>`` (``NA:CMD ERR``, ``NA:PARA ERR``, ``NA:DATA OUT OF RANGE``, …), the reasons
real ESPEC controllers send. An optional RS-485 address prefix ``<n>,`` is ignored, as serial-to-TCP
forwarders do. Ramps use the controller's remote single-step program ``RUN PRGM, TEMP… GOTEMP… TIME h:mm``.
The served subset and our choices are in docs/chamber-protocols.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from instruments.simulators.lines import LineSession, parse_number
from instruments.simulators.models import ChamberModel, ClockModel

REPLY_END = b"\r\n"
MAX_LINE = 256

NA_COMMAND = "CMD ERR"
NA_PARAMETER = "PARA ERR"
NA_RANGE = "DATA OUT OF RANGE"
NA_NO_HUMIDITY = "CONT NOT READY-1"  # the chamber has no humidity control
NA_NO_PROGRAM_RUNNING = "CONT NOT READY-2"
NA_NO_PROGRAM = "DATA NOT READY"  # the program does not exist
#: ``HUMI, SOFF``: humidity control off; ``HUMI?`` then shows this in its SV field
HUMIDITY_OFF = "OFF"

MODES = ("OFF", "STANDBY", "CONSTANT", "RUN")

_ADDRESS = re.compile(r"\d+,")
_SETTING = re.compile(r"([SHL])(.+)")
_TIME = re.compile(r"(\d{1,2}):(\d{1,2})")


class EspecRefusal(Exception):
    """A request answered with ``NA:<reason>``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RemoteProgram:
    """A ``RUN PRGM`` step: the setpoint ramps linearly from ``temp`` to ``go_temp`` until ``ends_at``.

    The end itself belongs to the physics chamber (``begin_step``/``step_end``): the world ends the step at
    ``ends_at`` and restores the gradients, whether or not a client is polling.
    """

    temp: float
    go_temp: float
    humi: float | None
    go_humi: float | None
    duration_s: float
    started_at: float
    ends_at: float

    def remaining(self, now: float) -> float:
        return max(0.0, self.ends_at - now)

    def temperature_setpoint(self, now: float) -> float:
        frac = min(1.0, (now - self.started_at) / self.duration_s)
        return self.temp + (self.go_temp - self.temp) * frac


class EspecChamber:
    """An ESPEC controller in front of the world's chamber. Mode, alarm limits and the remote program's
    settings are controller state (shared by all connections); temperatures, setpoints and the end of a
    program step live in the chamber."""

    max_line = MAX_LINE
    overlong_reply = b"NA:" + NA_COMMAND.encode() + REPLY_END

    def __init__(self, chamber: ChamberModel, clock: ClockModel, rom: str = "P300 SIM Ver1.00") -> None:
        self.chamber = chamber
        self.clock = clock
        self.rom = rom
        self._mode = "CONSTANT" if chamber.running else "STANDBY"
        low, high = chamber.temperature_range
        self.temp_limits = (high, low)  # alarm limits H, L: the whole range until set
        hrange = chamber.humidity_range
        self.humi_limits = (hrange[1], hrange[0]) if hrange is not None else None
        self.program: RemoteProgram | None = None

    def new_session(self) -> LineSession:
        """CR LF terminated requests (a lone CR or LF is accepted), one reply line each."""
        return LineSession(self)

    def power_loss(self) -> None:
        """Mains failure: the chamber stops and the controller comes back in STANDBY, program dropped."""
        self._end_program()
        self.chamber.stop()
        self._mode = "STANDBY"

    # -- state ---------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """The operation mode, a function of the chamber's state: the same whenever it is read."""
        if self._mode == "RUN" and not self._program_running():
            # the step ended in the physics (its end time passed, or an alarm stopped the chamber):
            # our choice, the end value is held as constant operation while the chamber runs
            self.program = None
            self._mode = "CONSTANT" if self.chamber.running else "STANDBY"
        elif self._mode == "CONSTANT" and not self.chamber.running:
            self._mode = "STANDBY"  # stopped behind our back (alarm stop): operation is over
        return self._mode

    def _program_running(self) -> bool:
        prog = self.program
        return prog is not None and self.chamber.step_end == prog.ends_at

    def _end_program(self) -> None:
        self.program = None
        self.chamber.end_step()

    def _humidity_limits(self) -> tuple[float, float]:
        if self.humi_limits is None:
            raise EspecRefusal(NA_NO_HUMIDITY)
        return self.humi_limits

    # -- dispatch ------------------------------------------------------------------------------
    def handle(self, line: bytes) -> bytes:
        """One request line (without terminator) to one reply line (with CR LF); blank lines get none."""
        if not line.strip():
            return b""
        text = line.decode("latin-1").strip().upper()
        if _ADDRESS.match(text):
            text = _ADDRESS.sub("", text, count=1).strip()
        name, comma, params = text.partition(",")
        name = " ".join(name.split())
        try:
            if name.endswith("?"):
                reply = self._query(name, params.strip() if comma else None)
            else:
                self._setting(name, params.strip())
                reply = "OK:" + text
        except EspecRefusal as err:
            reply = "NA:" + err.reason
        return reply.encode("latin-1") + REPLY_END

    def _query(self, name: str, option: str | None) -> str:
        ch = self.chamber
        if name == "TEMP?":
            high, low = self.temp_limits
            return f"{ch.temperature:.1f},{ch.temperature_setpoint:.1f},{high:.1f},{low:.1f}"
        if name == "HUMI?":
            high, low = self._humidity_limits()
            sv = f"{ch.humidity_setpoint or 0.0:.0f}" if ch.humidity_controlled else HUMIDITY_OFF
            return f"{ch.humidity or 0.0:.0f},{sv},{high:.0f},{low:.0f}"
        if name == "MON?":
            humi = "" if ch.humidity_range is None else f"{ch.humidity or 0.0:.0f}"
            return f"{ch.temperature:.1f},{humi},{self._mode_text(option)},{len(ch.alarms)}"
        if name == "MODE?":
            return self._mode_text(option)
        if name == "ROM?":
            return self.rom
        if name == "TYPE?":
            wet = "" if ch.humidity_range is None else "T,"
            return f"T,{wet}P300,{ch.temperature_range[1]:.1f}"
        if name == "ALARM?":
            return ",".join(str(v) for v in [len(ch.alarms), *ch.alarms])
        if name == "RUN PRGM MON?":
            return self._program_monitor()
        if name == "RUN PRGM?":
            return self._program_settings()
        raise EspecRefusal(NA_COMMAND)

    def _mode_text(self, option: str | None) -> str:
        if option not in (None, "DETAIL"):
            raise EspecRefusal(NA_PARAMETER)
        mode = self.mode
        return "RMT RUN" if option == "DETAIL" and mode == "RUN" else mode

    def _setting(self, name: str, params: str) -> None:
        if name == "TEMP":
            self._set_loop(1, params)
        elif name == "HUMI":
            self._humidity_limits()
            self._set_loop(2, params)
        elif name == "MODE":
            self._set_mode(params)
        elif name == "POWER":
            if params not in ("ON", "OFF"):
                raise EspecRefusal(NA_PARAMETER)
            self._set_mode("CONSTANT" if params == "ON" else "OFF")
        elif name == "RUN PRGM":
            self._run_program(params)
        elif name == "PRGM":
            self._program_control(params)
        else:
            raise EspecRefusal(NA_COMMAND)

    # -- settings ------------------------------------------------------------------------------
    def _set_loop(self, variable: int, params: str) -> None:
        """``TEMP, S25.0 H80.0 L-20.0`` (any subset): validated as a whole, then applied. ``HUMI, SOFF``
        switches humidity control off, a humidity setpoint switches it on."""
        ch = self.chamber
        low_rng, high_rng = ch.temperature_range if variable == 1 else self._humidity_range()
        high, low = self.temp_limits if variable == 1 else self._humidity_limits()
        setpoint: float | None = None
        control_off = False
        tokens = params.split()
        if not tokens:
            raise EspecRefusal(NA_PARAMETER)
        for token in tokens:
            m = _SETTING.fullmatch(token)
            if m is None:
                raise EspecRefusal(NA_PARAMETER)
            if variable == 2 and token == "SOFF":
                control_off = True
                continue
            value = parse_number(m.group(2))
            if value is None:
                raise EspecRefusal(NA_PARAMETER)
            if not low_rng <= value <= high_rng:
                raise EspecRefusal(NA_RANGE)
            if m.group(1) == "S":
                setpoint = value
            elif m.group(1) == "H":
                high = value
            else:
                low = value
        if low >= high or (control_off and setpoint is not None):
            raise EspecRefusal(NA_RANGE if low >= high else NA_PARAMETER)
        if setpoint is not None:
            try:
                ch.set_setpoint(variable, setpoint)
            except ValueError:
                raise EspecRefusal(NA_RANGE) from None
            if variable == 2:
                ch.set_humidity_control(True)
        if control_off:
            ch.set_humidity_control(False)
        if variable == 1:
            self.temp_limits = (high, low)
        else:
            self.humi_limits = (high, low)

    def _humidity_range(self) -> tuple[float, float]:
        rng = self.chamber.humidity_range
        if rng is None:
            raise EspecRefusal(NA_NO_HUMIDITY)
        return rng

    def _set_mode(self, params: str) -> None:
        if params.startswith("RUN"):
            raise EspecRefusal(NA_NO_PROGRAM)  # the simulated controller stores no programs
        if params not in ("OFF", "STANDBY", "CONSTANT"):
            raise EspecRefusal(NA_PARAMETER)
        self._end_program()
        if params == "CONSTANT":
            self.chamber.start()
        else:
            self.chamber.stop()
        self._mode = params

    def _run_program(self, params: str) -> None:
        """``RUN PRGM, TEMP20.0 GOTEMP80.0 [HUMI50 GOHUMI80] TIME1:00`` — one ramp (or soak) step."""
        values: dict[str, float] = {}
        duration_s: float | None = None
        for token in params.split():
            if token.startswith(("RELAYON", "RELAYOFF")):
                continue  # time signals are not modelled
            m = _TIME.fullmatch(token.removeprefix("TIME")) if token.startswith("TIME") else None
            if m is not None:
                hours, minutes = int(m.group(1)), int(m.group(2))
                if minutes > 59:
                    raise EspecRefusal(NA_RANGE)
                duration_s = (hours * 60 + minutes) * 60.0
                continue
            key = next((k for k in ("GOTEMP", "GOHUMI", "TEMP", "HUMI") if token.startswith(k)), None)
            value = parse_number(token[len(key) :]) if key is not None else None
            if key is None or value is None:
                raise EspecRefusal(NA_PARAMETER)
            values[key] = value
        if "TEMP" not in values or duration_s is None:
            raise EspecRefusal(NA_PARAMETER)
        if duration_s <= 0:
            raise EspecRefusal(NA_RANGE)
        temp, go_temp = values["TEMP"], values.get("GOTEMP", values["TEMP"])
        humi = values.get("HUMI")
        go_humi = values.get("GOHUMI", humi)
        low, high = self.chamber.temperature_range
        if not (low <= temp <= high and low <= go_temp <= high):
            raise EspecRefusal(NA_RANGE)
        if humi is not None or go_humi is not None:
            hlow, hhigh = self._humidity_range()
            if any(v is not None and not hlow <= v <= hhigh for v in (humi, go_humi)):
                raise EspecRefusal(NA_RANGE)
        self._end_program()
        ch = self.chamber
        ch.begin_step(duration_s)  # saves the gradients; the chamber restores them when the step ends
        try:
            if go_temp != temp:
                # the chamber ramps its setpoint at the gradient: the rate that covers the step in TIME
                ch.set_gradient(go_temp > temp, abs(go_temp - temp) / (duration_s / 60.0))
            ch.set_setpoint(1, go_temp)
            if go_humi is not None:
                ch.set_setpoint(2, go_humi)
                ch.set_humidity_control(True)
        except ValueError:
            ch.end_step()
            raise EspecRefusal(NA_RANGE) from None
        ch.start()
        ends_at = ch.step_end
        assert ends_at is not None  # begun above, and start() does not end it
        self.program = RemoteProgram(temp, go_temp, humi, go_humi, duration_s, self.clock.now, ends_at)
        self._mode = "RUN"

    def _program_control(self, params: str) -> None:
        """``PRGM, END[, STANDBY|OFF|CONST|HOLD]`` ends the running remote program."""
        action, _, end_mode = (p.strip() for p in params.partition(","))
        if action != "END" or end_mode not in ("", "STANDBY", "OFF", "CONST", "HOLD"):
            raise EspecRefusal(NA_PARAMETER)
        if self.mode != "RUN":
            raise EspecRefusal(NA_NO_PROGRAM_RUNNING)
        self._end_program()
        if end_mode in ("CONST", "HOLD"):
            self._mode = "CONSTANT"
        else:
            self.chamber.stop()
            self._mode = end_mode or "STANDBY"

    # -- program monitor -----------------------------------------------------------------------
    def _running_program(self) -> RemoteProgram:
        if self.mode != "RUN" or self.program is None:
            raise EspecRefusal(NA_NO_PROGRAM_RUNNING)
        return self.program

    def _program_monitor(self) -> str:
        """``step,temp SV,[humi SV,]remaining h:mm,counter`` of the running remote program."""
        prog = self._running_program()
        now = self.clock.now
        minutes = int(prog.remaining(now) // 60)
        humi = ""
        if self.chamber.humidity_range is not None:
            sv = prog.go_humi if prog.go_humi is not None else self.chamber.humidity_setpoint
            humi = (f"{sv or 0.0:.0f}," if self.chamber.humidity_controlled else f"{HUMIDITY_OFF},")
        return f"1,{prog.temperature_setpoint(now):.1f},{humi}{minutes // 60}:{minutes % 60:02d},0"

    def _program_settings(self) -> str:
        prog = self._running_program()
        minutes = int(prog.duration_s // 60)
        text = f"TEMP{prog.temp:.1f} GOTEMP{prog.go_temp:.1f}"
        if prog.humi is not None:
            text += f" HUMI{prog.humi:.0f} GOHUMI{prog.go_humi or prog.humi:.0f}"
        return text + f" TIME{minutes // 60}:{minutes % 60:02d} REF9"
