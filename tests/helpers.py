"""Helpers shared by the tests: a sans-IO output, SCPI dialogue without sockets, fakes of the physics."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Opener = Callable[[str], Any]
#: send one message to an SCPI session, get what it replied
Talk = Callable[[str], str]


def truth(ctl: Any) -> dict[str, Any]:
    """The simulator's true state, read over the control endpoint."""
    data: dict[str, Any] = json.loads(ctl.query("SIM:TRUT?"))
    return data


class Out:
    """A sans-IO :class:`instruments.simulators.net.Output` that collects what a session writes."""

    def __init__(self) -> None:
        self.data = b""
        self.unread = False  # pretend the client is not reading (for -410)
        self.discarded = 0

    def write(self, data: bytes) -> None:
        self.data += data

    def pending(self) -> bool:
        return self.unread

    def discard(self) -> None:
        self.discarded += 1
        self.unread = False

    def close(self) -> None:
        pass

    def take(self) -> str:
        text, self.data = self.data.decode(), b""
        return text


def drain_errors(talk: Talk) -> list[int]:
    """Drain the error queue through SYST:ERR? (one query per message: the path restarts at the root)."""
    codes: list[int] = []
    for _ in range(20):
        code = int(talk("SYST:ERR?").split(",")[0])
        if code == 0:
            return codes
        codes.append(code)
    raise AssertionError("error queue never emptied")


class ScpiClient:
    """One sans-IO connection to an SCPI device: send a message, get its reply line (or "")."""

    def __init__(self, device: Any, error_query: str = "SYST:ERR?") -> None:
        self.session = device.new_session()
        self.error_query = error_query

    def ask(self, message: str) -> str:
        out = Out()
        self.session.data_received(message.encode() + b"\n", out)
        return out.data.decode().removesuffix("\n")

    def error(self) -> str:
        return self.ask(self.error_query)


class FakeClock:
    """The virtual clock as the servers see it: ``now`` only, set by the test."""

    def __init__(self) -> None:
        self.now = 0.0


class FakeChamber:
    """The documented Chamber interface with fixed actual values. A program step ends when the test moves
    ``clock`` past its end, as the world's integration would end it."""

    def __init__(self, humidity: bool = True, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.temperature = 23.5
        self.humidity: float | None = 45.0 if humidity else None
        self.temperature_setpoint = 25.0
        self.humidity_setpoint: float | None = 50.0 if humidity else None
        self.gradient_up = 1.0
        self.gradient_down = 1.0
        self.running = False
        self.temperature_range = (-40.0, 180.0)
        self.humidity_range: tuple[float, float] | None = (10.0, 98.0) if humidity else None
        self.alarms: list[int] = []
        self._step: tuple[float, tuple[float, float]] | None = None
        self.humidity_controlled = humidity

    def set_humidity_control(self, on: bool) -> None:
        if self.humidity_range is None:
            raise ValueError("no humidity control")
        self.humidity_controlled = on

    def set_setpoint(self, variable: int, value: float) -> None:
        rng = self.temperature_range if variable == 1 else self.humidity_range
        assert rng is not None
        if not rng[0] <= value <= rng[1]:
            raise ValueError("beyond range")
        if variable == 1:
            self.temperature_setpoint = value
        else:
            self.humidity_setpoint = value

    def set_gradient(self, up: bool, k_per_min: float) -> None:
        if k_per_min < 0 or k_per_min > 20:
            raise ValueError("gradient")
        if up:
            self.gradient_up = k_per_min
        else:
            self.gradient_down = k_per_min

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False
        self.end_step()

    def clear_alarms(self) -> None:
        self.alarms = []

    @property
    def step_end(self) -> float | None:
        if self._step is not None and self.clock.now >= self._step[0]:
            self.end_step()
        return None if self._step is None else self._step[0]

    def begin_step(self, duration_s: float) -> None:
        self.end_step()
        self._step = (self.clock.now + duration_s, (self.gradient_up, self.gradient_down))

    def end_step(self) -> None:
        step, self._step = self._step, None
        if step is not None:
            self.gradient_up, self.gradient_down = step[1]
