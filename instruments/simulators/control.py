"""Control endpoint of the simulation itself: virtual time, true state, fault injection.

An SCPI-1999 tree of our own (documented in docs/simulation-control.md), so the framework's clock driver and the
tests reach it through pyvisa exactly as they reach the instruments.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from instruments.scpi import Num, ScpiDevice, ScpiError, Str, scpi
from instruments.scpi.response import quote
from instruments.simulators.fault_schedule import ScheduledFault
from instruments.simulators.world.config import SimBenchConfig, load_sim_bench


def _version() -> str:
    try:
        return version("meterhil")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0+unknown"


if TYPE_CHECKING:
    from instruments.simulators.bench import SimulatedBench

#: ``SIMulation:FILE?`` of a bench built from the packaged default simulated-bench file
DEFAULT_FILE = "default"


def config_sha256(config: SimBenchConfig) -> str:
    """SHA-256 of a simulated-bench configuration (canonical JSON): the same file gives the same digest, so a
    resumed run can check it restarted the very bench it was interrupted on."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.cache
def _default_sha256() -> str:
    return config_sha256(load_sim_bench(None))


def set_sim_file(bench: SimulatedBench, path: str | Path | None) -> None:
    """Tell ``bench``'s control endpoint the simulated-bench file it was built from (``None``: the packaged
    default), so ``SIMulation:FILE?`` can name it to whoever attaches. Call before the endpoints serve."""
    text = DEFAULT_FILE if path is None else str(Path(path).resolve())
    if any(not ch.isprintable() for ch in text):  # it must fit one reply line
        raise ValueError(f"simulated-bench file name {text!r} has control characters")
    for ep in bench.endpoints:
        if isinstance(ep.device, SimulationControl):
            ep.device.sim_file = text

#: longest single advance (about 115 days): the loop thread integrates it before serving anyone else, so one
#: command must stay short (≈ 0.1 s); longer runs advance in several commands (-222 beyond)
MAX_ADVANCE_S = 1e7

#: fault kinds and whether they take a numeric argument
FAULT_KINDS = {
    "DROP": "close every open connection of the endpoint now (not on control)",
    "HANG": "stop answering (input is swallowed) until cleared (not on control)",
    "GARBLE": "corrupt the next N replies (argument N, default 1; not on control)",
    "REFUSE": "close new connections at once until cleared (not on control)",
    "ERROR": "push an SCPI error onto the instrument's queue (argument: code, default -300)",
    "RESET": "power loss: the instrument returns to its power-on state, connections drop; meter port: a short"
    " power failure of the meter (counted in C.7.0)",
    "NOPULSES": "meter endpoint: the meter's pulse output stops",
    "FAIL": "meter endpoint: the meter dies now (no pulses, port silent)",
    "ALARM": "chamber endpoint: raise an alarm (argument: alarm code, default 1)",
}


class SimulationControl(ScpiDevice):
    """``*IDN?`` → ``MeterHIL,SimControl,<bench>,<version>``."""

    def __init__(self, bench: SimulatedBench) -> None:
        super().__init__()
        self.bench = bench
        self.idn = ("MeterHIL", "SimControl", bench.config.name, _version())
        #: the simulated-bench file, when whoever built the bench said (:func:`set_sim_file`)
        self.sim_file: str | None = None

    # -- virtual clock --------------------------------------------------------------------------
    @scpi("CLOCk:TIME?")
    def time_q(self) -> float:
        """Virtual seconds since the epoch."""
        return self.bench.world.clock.now

    @scpi("CLOCk:DATE?")
    def date_q(self) -> str:
        """Virtual UTC date and time, ISO 8601."""
        return self.bench.world.clock.datetime().isoformat()

    @scpi("CLOCk:EPOCh?")
    def epoch_q(self) -> str:
        return self.bench.world.clock.epoch.isoformat()

    @scpi("CLOCk:ADVance", Num(unit="S", minimum=0, maximum=MAX_ADVANCE_S))
    def advance(self, seconds: float) -> None:
        self.bench.advance(seconds)

    @scpi("CLOCk:ADVance:IDLE?", Num(unit="S", minimum=0, maximum=MAX_ADVANCE_S))
    def advance_idle_q(self, max_seconds: float) -> float:
        """Advance until every started error calculator has finished (or ``max_seconds``); reply: seconds."""
        return self.bench.advance_until_idle(max_seconds)

    @scpi("CLOCk:SPEed", Num(minimum=0, maximum=1e7))
    def speed(self, factor: float) -> None:
        """Free-running mode: virtual seconds per wall second; 0 = time moves only on request."""
        self.bench.set_speed(factor)

    @scpi("CLOCk:SPEed?")
    def speed_q(self) -> float:
        return self.bench.speed

    # -- truth ----------------------------------------------------------------------------------
    @scpi("SIMulation:SEED?")
    def seed_q(self) -> int:
        return self.bench.seed

    @scpi("SIMulation:FILE?")
    def file_q(self) -> str:
        """The simulated-bench file this bench was built from: its absolute path, ``default`` for the packaged
        default (also recognised by its configuration when nobody said), empty when not known."""
        if self.sim_file is not None:
            text = self.sim_file
        else:
            text = DEFAULT_FILE if config_sha256(self.bench.config) == _default_sha256() else ""
        return quote(text)

    @scpi("SIMulation:CONFig:DIGest?")
    def config_digest_q(self) -> str:
        """SHA-256 of the bench's configuration (hex, quoted)."""
        return quote(config_sha256(self.bench.config))

    @scpi("SIMulation:TRUTh?")
    def truth_q(self) -> str:
        """The world's true state as one line of JSON (per meter also its supply: ``power_ups``,
        ``power_failures``, ``power_cycle_life``, ``failure_power_up``; per source its ``dips``)."""
        return json.dumps(self.bench.world.truth(), separators=(",", ":"), sort_keys=True)

    @scpi("SIMulation:ENDPoints?")
    def endpoints_q(self) -> str:
        return json.dumps([ep.describe() for ep in self.bench.endpoints], separators=(",", ":"))

    # -- faults ---------------------------------------------------------------------------------
    @scpi("FAULt:INJect", Str(), Str(), Num(optional=True))
    def inject(self, endpoint: str, kind: str, arg: float | None) -> None:
        kind = kind.upper()
        if kind not in FAULT_KINDS:
            raise ScpiError(-224, f"Illegal parameter value;unknown fault {kind!r}")
        try:
            self.bench.inject_fault(endpoint, kind, arg)
        except (KeyError, ValueError) as exc:  # ValueError: FaultRefused, e.g. HANG of the control endpoint
            raise ScpiError(-224, f"Illegal parameter value;{exc.args[0]}") from exc

    @scpi("FAULt:CLEar", Str())
    def clear(self, endpoint: str) -> None:
        try:
            self.bench.clear_faults(endpoint)
        except KeyError as exc:
            raise ScpiError(-224, f"Illegal parameter value;{exc.args[0]}") from exc

    @scpi("FAULt:CLEar:ALL")
    def clear_all(self) -> None:
        for ep in self.bench.endpoints:
            self.bench.clear_faults(ep.name)

    @scpi("FAULt:SCHedule:TIME", Str(), Str(), Num(unit="S", minimum=0), Num(optional=True))
    def schedule_time(self, endpoint: str, kind: str, at_s: float, arg: float | None) -> None:
        """Inject ``kind`` into ``endpoint`` when the virtual clock reaches ``at_s`` (CLOCk:TIME? scale)."""
        self._schedule(ScheduledFault(endpoint, kind.upper(), arg, at_s=at_s))

    @scpi("FAULt:SCHedule:POINt", Str(), Str(), Num(minimum=1), Num(optional=True))
    def schedule_point(self, endpoint: str, kind: str, point: float, arg: float | None) -> None:
        """Inject ``kind`` into ``endpoint`` when the error calculators start the ``point``-th measurement."""
        if point != int(point):
            raise ScpiError(-224, f"Illegal parameter value;point number must be an integer, got {point!r}")
        self._schedule(ScheduledFault(endpoint, kind.upper(), arg, point=int(point)))

    @scpi("FAULt:SCHedule:POINt:END", Str(), Str(), Num(minimum=1), Num(optional=True))
    def schedule_point_end(self, endpoint: str, kind: str, point: float, arg: float | None) -> None:
        """Inject ``kind`` into ``endpoint`` when the ``point``-th measurement has ended (no channel measures)."""
        if point != int(point):
            raise ScpiError(-224, f"Illegal parameter value;point number must be an integer, got {point!r}")
        self._schedule(ScheduledFault(endpoint, kind.upper(), arg, after_point=int(point)))

    def _schedule(self, fault: ScheduledFault) -> None:
        try:
            self.bench.schedule_fault(fault)
        except (KeyError, ValueError) as exc:
            raise ScpiError(-224, f"Illegal parameter value;{exc.args[0]}") from exc

    @scpi("FAULt:SCHedule?")
    def schedule_q(self) -> str:
        """Points started so far, pending and fired faults (with virtual time, point and any refusal) as JSON."""
        return json.dumps(self.bench.faults.describe(), separators=(",", ":"), sort_keys=True)

    @scpi("FAULt:SCHedule:CLEar")
    def schedule_clear(self) -> None:
        """Drop the pending scheduled faults (the fired ones stay in the log)."""
        self.bench.faults.clear()

    @scpi("FAULt:CATalog?")
    def catalog_q(self) -> str:
        return ",".join(FAULT_KINDS)
