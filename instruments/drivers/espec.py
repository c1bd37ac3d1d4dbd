"""ESPEC climatic chamber, P-300 / SCP-220 controller ASCII protocol (serial-to-TCP converter, port 10001).

Lines end with CR LF. Queries end in ``?`` (``TEMP?`` → ``PV,SV,H,L``); settings ``NAME, PARAMETERS`` are echoed
as ``OK:<request>``; a refusal is ``NA:<reason>`` and changes nothing. Commands and reasons as in ESPEC North
America's public ChamberConnectLibrary (``p300.py``); the subset is listed in docs/chamber-protocols.md.

The controller has no gradient setting: a ramp is its remote single-step program ``RUN PRGM, TEMP<a> GOTEMP<b>
TIME<h>:<mm>``. So :meth:`EspecChamber.set_gradient` is remembered by the driver, and a setpoint change of a
running chamber becomes such a program, whose whole minutes make it never steeper than the gradient asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from instruments.drivers.declarative import Reading, ScpiDriver, Setting
from instruments.drivers.errors import RangeError, ReplyError, RequestRefused

#: ``NA:`` reasons and what they mean
REASONS = {
    "CMD ERR": "unknown command",
    "PARA ERR": "missing or unreadable parameter",
    "DATA OUT OF RANGE": "value beyond the chamber's range",
    "CONT NOT READY-1": "the chamber has no humidity control",
    "CONT NOT READY-2": "no program is running",
    "DATA NOT READY": "the program does not exist",
    "INVALID REQ": "request not allowed",
}
#: longest remote program step: TIME takes up to 99:59
MAX_PROGRAM_MIN = 99 * 60 + 59
#: setpoint differences below the controller's 0.1 °C resolution need no ramp
_RESOLUTION_C = 0.05
#: ``HUMI, SOFF``: humidity control off (ChamberConnectLibrary ``P300.write_humi(enable=False)``); ``HUMI?`` then
#: has no number in its setpoint field
HUMIDITY_OFF = "SOFF"
_RUNNING = ("CONSTANT", "RUN")


class EspecError(RequestRefused):
    """The controller answered ``NA:<reason>``; nothing was changed."""

    def __init__(self, instrument: str, reason: str, request: str) -> None:
        self.reason = reason
        super().__init__(instrument, reason, REASONS.get(reason, "refused"), request, f"NA:{reason}")


def field(index: int) -> Callable[[str], float]:
    """Parser of one numeric field of a CSV reply (``TEMP?`` → PV is field 0, SV field 1)."""
    return lambda reply: float(reply.split(",")[index])


def parse_alarms(reply: str) -> list[int]:
    """``ALARM?`` → ``n[,code…]``: the active alarm codes."""
    count, *codes = reply.split(",")
    if int(count) != len(codes):
        raise ValueError(f"alarm count {count} but {len(codes)} codes")
    return [int(c) for c in codes]


class EspecChamber(ScpiDriver):
    """Climatic chamber; plays the ``chamber`` role (:class:`instruments.roles.ClimaticChamber`).

    Options (bench file): ``min/max_temperature_c`` (default −70…180, a P-300's widest), ``min/max_humidity_pct``,
    ``max_gradient_k_per_min``, ``humidity`` (whether the chamber controls humidity; default: asked once), and
    ``safe_temperature_c``, the setpoint the safe state leaves behind after stopping (default: unchanged).
    """

    model = "ESPEC P-300"

    # the controller's resolution: 0.1 °C, 1 %RH
    temperature_setpoint = Setting("TEMP,", query="TEMP?", parse=field(1), fmt=lambda v: f"S{v:.1f}", unit="°C",
                                   within=lambda d: d.temperature_range)
    humidity_setpoint = Setting("HUMI,", query="HUMI?", parse=field(1), fmt=lambda v: f"S{v:.0f}", unit="%RH",
                                within=lambda d: d.humidity_range)
    temperature_now = Reading("TEMP?", parse=field(0), unit="°C")
    humidity_now = Reading("HUMI?", parse=field(0), unit="%RH")
    mode = Setting("MODE,", query="MODE?", parse=str.strip, fmt=str, values=("OFF", "STANDBY", "CONSTANT"),
                   doc="OFF, STANDBY, CONSTANT; RUN while a program runs")
    program_setpoint = Reading("RUN PRGM MON?", parse=field(1), unit="°C", doc="ramped SV of the running program")
    alarm_codes = Reading("ALARM?", parse=parse_alarms)
    rom = Reading("ROM?", parse=str.strip)
    type_ = Reading("TYPE?", parse=str.strip)

    def __init__(
        self,
        transport: Any,
        *,
        min_temperature_c: float = -70.0,
        max_temperature_c: float = 180.0,
        min_humidity_pct: float = 0.0,
        max_humidity_pct: float = 100.0,
        max_gradient_k_per_min: float = float("inf"),
        humidity: bool | None = None,
        safe_temperature_c: float | None = None,
    ) -> None:
        super().__init__(transport)
        self.temperature_range = (min_temperature_c, max_temperature_c)
        self.humidity_range = (min_humidity_pct, max_humidity_pct)
        self.max_gradient_k_per_min = max_gradient_k_per_min
        self.safe_temperature_c = safe_temperature_c
        self._has_humidity = humidity
        self.gradient = (0.0, 0.0)  # up, down in K/min; 0 = no ramp (the controller's own rate)

    # -- I/O ---------------------------------------------------------------------------------------
    def query(self, command: str) -> str:
        reply = self.transport.query(command).strip()
        if reply.startswith("NA:"):
            raise EspecError(self.name, reply[3:].strip(), command)
        return reply

    def write(self, command: str) -> None:
        reply = self.query(command)
        if not reply.startswith("OK:"):
            raise ReplyError(self.name, f"unexpected reply {reply!r} to {command!r}")

    def identify(self) -> str:
        """``<TYPE? reply>,<ROM? reply>``, e.g. ``T,T,P300,180.0,P300 SIM Ver1.00``."""
        return f"{self.type_},{self.rom}"

    def errors(self) -> list[tuple[int, str]]:
        return [(code, f"alarm {code}") for code in self.alarm_codes]

    def clear_status(self) -> None:
        """The P-300 has no remote alarm reset; alarms clear at the controller."""

    @property
    def has_humidity(self) -> bool:
        if self._has_humidity is None:
            try:
                self.query("HUMI?")
                self._has_humidity = True
            except EspecError as exc:
                if exc.reason != "CONT NOT READY-1":
                    raise
                self._has_humidity = False
        return self._has_humidity

    # -- ramps -------------------------------------------------------------------------------------
    def _ramp(self, start: float, target: float) -> bool:
        """Run a remote program from ``start`` to ``target`` at no more than the set gradient; False when no
        ramp is wanted (gradient 0 in that direction, or nothing to ramp)."""
        rate = self.gradient[0] if target > start else self.gradient[1]
        delta = abs(target - start)
        if rate <= 0 or delta < _RESOLUTION_C:
            return False
        minutes = max(1, math.ceil(delta / rate - 1e-9))
        if minutes > MAX_PROGRAM_MIN:
            raise RangeError(f"{self.name}.ramp", f"{minutes} min", None, MAX_PROGRAM_MIN, "min",
                             f"the remote program step (from {start:g} to {target:g} °C at {rate:g} K/min)")
        humi = ""
        sv = self._humidity_sv()
        if sv is not None:  # keep the humidity the chamber controls; with control off the step has no HUMI
            humi = f" HUMI{sv:.0f} GOHUMI{sv:.0f}"
        self.write(f"RUN PRGM, TEMP{start:.1f} GOTEMP{target:.1f}{humi} TIME{minutes // 60}:{minutes % 60:02d}")
        return True

    # -- the ClimaticChamber role ------------------------------------------------------------------
    def set_temperature(self, celsius: float) -> None:
        """Running chamber with a gradient: a ramp program from the present setpoint; else the setpoint."""
        EspecChamber.temperature_setpoint.check(self, celsius)
        mode = self.mode
        if mode == "RUN":  # a ramp is under way: end it; a new one starts where it has got to
            start = self.program_setpoint
            self.write("PRGM, END, CONST")
            if self._ramp(start, celsius):
                return
        elif mode == "CONSTANT" and any(self.gradient) and self._ramp(self.temperature_setpoint, celsius):
            return
        self.temperature_setpoint = celsius

    def _humidity_sv(self) -> float | None:
        """The humidity setpoint in force; None without humidity control or with it switched off (``HUMI?``
        then has no number in its SV field)."""
        if not self.has_humidity:
            return None
        sv = self.query("HUMI?").split(",")[1].strip()
        try:
            return float(sv)
        except ValueError:
            return None

    def set_humidity(self, percent_rh: float) -> None:
        """The humidity setpoint (``HUMI, S<v>`` also switches humidity control back on)."""
        if not self.has_humidity:
            raise ValueError(f"{self.name}: the chamber has no humidity control; nothing was sent")
        self.humidity_setpoint = percent_rh

    @property
    def can_switch_humidity_off(self) -> bool:
        """``HUMI, SOFF`` is in the P-300 command set: humidity control can always be switched off."""
        return True

    @staticmethod
    def switches_humidity_off(options: Mapping[str, Any]) -> bool:
        """:attr:`can_switch_humidity_off` from the bench file's options alone: always."""
        return True

    def humidity_off(self) -> None:
        """Humidity not controlled (dry heat, cold): ``HUMI, SOFF``; nothing to do without humidity control."""
        if self.has_humidity:
            self.write(f"HUMI, {HUMIDITY_OFF}")

    def set_gradient(self, up_k_per_min: float, down_k_per_min: float) -> None:
        """Remembered for the next setpoint change or start (the controller has no gradient setting)."""
        for what, value in (("gradient_up", up_k_per_min), ("gradient_down", down_k_per_min)):
            if not 0.0 <= value <= self.max_gradient_k_per_min:
                raise RangeError(f"{self.name}.{what}", value, 0.0, self.max_gradient_k_per_min, "K/min")
        self.gradient = (up_k_per_min, down_k_per_min)

    def temperature(self) -> float:
        return self.temperature_now

    def humidity(self) -> float | None:
        return self.humidity_now if self.has_humidity else None

    def start(self) -> None:
        """Constant operation; with a gradient, first a ramp program from the air temperature to the setpoint."""
        if self.mode in _RUNNING:
            return
        if any(self.gradient):
            pv, sv = self.query("TEMP?").split(",")[:2]
            if self._ramp(float(pv), float(sv)):
                return
        self.mode = "CONSTANT"

    def stop(self) -> None:
        """Standby: control off, the controller stays on (a running program ends)."""
        self.mode = "STANDBY"

    def is_running(self) -> bool:
        return self.mode in _RUNNING

    def alarms(self) -> list[str]:
        return [text for _, text in self.errors()]

    def safe_state(self) -> None:
        """Standby first (the essential part), then the safe setpoint if configured; on a clean link."""
        self.transport.reconnect()
        self.stop()
        if self.safe_temperature_c is not None:
            self.temperature_setpoint = self.safe_temperature_c
