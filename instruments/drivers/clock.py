"""Bench time: the wall clock on a real bench, the simulator's virtual clock on a simulated one.

Both implement :class:`instruments.roles.Clock`, so a plan waits the same way on either bench; the simulated
bench's clock is just another role in its bench file (driver ``meterhil-simctl``), not an ``if simulate``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from instruments.drivers.declarative import Action, Reading, ScpiDriver, Setting


class WallClock:
    """Real time."""

    def now(self) -> float:
        return time.monotonic()

    def utc(self) -> datetime:
        """The reference time: the PC's clock (a lab keeps it on NTP or a GPS time server)."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait_until(self, done: Callable[[], bool], timeout_s: float, poll_s: float) -> bool:
        end = self.now() + timeout_s
        while True:
            if done():
                return True
            left = end - self.now()
            if left <= 0:
                return False
            self.sleep(min(poll_s, left))

    def run_until_idle(self, max_s: float, poll_s: float, done: Callable[[], bool]) -> bool:
        return self.wait_until(done, max_s, poll_s)


class SimulationClock(ScpiDriver):
    """The simulated bench's virtual clock, over its control endpoint (docs/simulation-control.md)."""

    model = "MeterHIL SimControl"
    time_s = Reading("CLOC:TIME?", unit="s")
    speed = Setting("CLOC:SPE", unit="", within=(0, 1e7))
    clear_all_faults = Action("FAUL:CLE:ALL")
    seed = Reading("SIM:SEED?", parse=int, doc="the seed the simulation runs with")

    def now(self) -> float:
        return self.time_s

    def _string(self, query: str) -> str:
        """String response data (IEEE 488.2 §8.7.8: double quotes, inner quotes doubled)."""
        text = self.query(query).strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1].replace('""', '"')
        return text

    def identity(self) -> dict[str, int | str | None]:
        """What a run records of the simulation, asked from the simulator itself (true whoever started it):
        ``seed``, ``sim_bench`` (the simulated-bench file: absolute path, ``default`` for the packaged one, None
        when the simulator does not know) and ``sim_bench_sha256`` (its configuration's digest)."""
        return {"seed": self.seed, "sim_bench": self._string("SIM:FILE?") or None,
                "sim_bench_sha256": self._string("SIM:CONF:DIG?")}

    _epoch: datetime | None = None

    def utc(self) -> datetime:
        """The reference time: the simulated bench's epoch (bench file ``epoch``) plus the virtual time."""
        if self._epoch is None:
            epoch = datetime.fromisoformat(self.query("CLOC:EPOC?").strip().strip('"'))
            self._epoch = epoch.replace(tzinfo=UTC) if epoch.tzinfo is None else epoch
        return self._epoch + timedelta(seconds=self.now())

    #: the simulator's longest single advance (docs/simulation-control.md)
    MAX_ADVANCE_S = 1e7

    _free_speed: float | None = None

    def _free_running(self) -> float:
        """The clock's free-running speed (0: time moves on request), read once: a simulated bench's speed is set
        before a run opens its bench (`hil run --sim-speed`, `hil sim --speed`), so every wait need not ask."""
        if self._free_speed is None:
            self._free_speed = self.speed
        return self._free_speed

    def sleep(self, seconds: float) -> None:
        speed = self._free_running()
        if speed > 0:  # free-running (an operator watching): time moves by itself, follow it in wall time
            target = self.now() + seconds
            while (left := target - self.now()) > 0:
                time.sleep(min(left / speed, self.FOLLOW_POLL_S))
            return
        while seconds > 0:
            step = min(seconds, self.MAX_ADVANCE_S)
            self.write(f"CLOC:ADV {step!r}")
            seconds -= step

    #: longest wall-time wait between two looks at a free-running clock
    FOLLOW_POLL_S = 0.25

    def wait_until(self, done: Callable[[], bool], timeout_s: float, poll_s: float) -> bool:
        waited = 0.0
        while True:
            if done():
                return True
            if waited >= timeout_s:
                return False
            step = min(poll_s, timeout_s - waited)
            self.sleep(step)
            waited += step

    def run_until_idle(self, max_s: float, poll_s: float, done: Callable[[], bool]) -> bool:
        """Jump straight to the instant the running error calculators finish, at most ``max_s``
        (no polling overshoot: bench time is exactly what the physics needs). On a free-running clock, wait for
        them as on a real bench."""
        if self._free_running() > 0:
            return self.wait_until(done, max_s, poll_s)
        self.query(f"CLOC:ADV:IDLE? {min(max_s, self.MAX_ADVANCE_S)!r}")
        return done()

    def truth(self) -> str:
        """The simulator's true state as JSON text (tests only)."""
        return self.query("SIM:TRUT?")

    def inject_fault(self, endpoint: str, kind: str, arg: float | None = None) -> None:
        self.write(f'FAUL:INJ "{endpoint}","{kind}"' + (f",{arg!r}" if arg is not None else ""))

    def schedule_fault(self, endpoint: str, kind: str, *, at_s: float | None = None, point: int | None = None,
                       after_point: int | None = None, arg: float | None = None) -> None:
        """Fault at virtual time ``at_s``, at the start of the ``point``-th measured point, or when the
        ``after_point``-th has ended (exactly one of them)."""
        when = [(f"TIME {{}},{at_s!r}", at_s), (f"POIN {{}},{point}", point),
                (f"POIN:END {{}},{after_point}", after_point)]
        given = [fmt for fmt, value in when if value is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of at_s, point and after_point")
        self.write("FAUL:SCH:" + given[0].format(f'"{endpoint}","{kind}"') + (f",{arg!r}" if arg is not None else ""))

    def fault_schedule(self) -> str:
        """Points started, pending and fired faults as JSON text (docs/simulation-control.md)."""
        return self.query("FAUL:SCH?")
