"""A whole simulated meter-test bench: one physics world and the TCP endpoints of its instruments.

Built from a simulated-bench file (:class:`SimBenchConfig`); ``hil sim`` serves it on the main thread, tests
and the in-process runner serve it on a :class:`BackgroundLoop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from pathlib import Path
from typing import Any

import numpy as np

from instruments.dlms.security import Keys
from instruments.simulators.control import FAULT_KINDS, SimulationControl
from instruments.simulators.dlms.server import DlmsServer
from instruments.simulators.error_calculator import ErrorCalculatorDevice
from instruments.simulators.espec import EspecChamber
from instruments.simulators.fault_schedule import FaultSchedule, ScheduledFault
from instruments.simulators.fluke6100 import Fluke6105A
from instruments.simulators.iec62056 import MeterPort
from instruments.simulators.loop import BackgroundLoop
from instruments.simulators.net import Device, Endpoint
from instruments.simulators.optical_head import OpticalHead
from instruments.simulators.simserv import SimServChamber
from instruments.simulators.world.config import SimBenchConfig, load_sim_bench
from instruments.simulators.world.world import World
from instruments.simulators.wt_reference import WT5000Reference

#: random stream of the meters' HLS challenges (a simulated run is the same for the same seed, bytes included)
_STREAM_DLMS_CHALLENGE = 20
#: how often the free-running clock task advances virtual time (wall seconds)
_FREE_RUN_TICK_S = 0.02
#: connection faults that would cut the tests off from the simulation if aimed at the control endpoint itself
#: (a hung or refusing control endpoint can never be told FAULt:CLEar): refused there
CONTROL_REFUSED_FAULTS = ("DROP", "HANG", "GARBLE", "REFUSE")


class FaultRefused(ValueError):
    """A fault that cannot be injected into this endpoint (the reason is the message)."""


class SimulatedBench:
    """World + endpoints. All methods must run on the loop thread that serves the endpoints."""

    def __init__(self, config: SimBenchConfig, seed: int | None = None, host: str | None = None) -> None:
        self.config = config
        self.seed = config.seed if seed is None else seed
        self.host = host or config.network.host
        self.world = World(config, seed=self.seed)
        self.speed = 0.0
        self._free_run: asyncio.Task[None] | None = None
        self.dlms_servers: dict[int, DlmsServer] = {}
        self.faults = FaultSchedule()
        self.endpoints: list[Endpoint] = self._build_endpoints()
        self._by_name = {ep.name: ep for ep in self.endpoints}

    @classmethod
    def from_file(cls, path: str | Path | None = None, seed: int | None = None) -> SimulatedBench:
        return cls(load_sim_bench(path), seed=seed)

    # -- construction ---------------------------------------------------------------------------
    def _endpoint(self, name: str, role: str, protocol: str, device: Device, **info: Any) -> Endpoint:
        port = self.config.network.ports.get(name, 0)
        ep = Endpoint(name=name, role=role, protocol=protocol, device=device, port=port, host=self.host)
        ep.info.update(info)
        return ep

    def _build_endpoints(self) -> list[Endpoint]:
        w = self.world
        source = Fluke6105A(w.source)
        source.attach_clock(w.clock)
        eps = [
            self._endpoint("source", "source", "scpi", source),
            self._endpoint("reference", "reference", "scpi", WT5000Reference(w.reference, w)),
            self._endpoint("error_calculator", "error_calculator", "scpi",
                           ErrorCalculatorDevice(w, on_point=self._point_started,
                                                 on_abort=self._check_point_end)),
        ]
        if w.chamber is not None:
            dialect = self.config.chamber.dialect if self.config.chamber is not None else "simserv"
            if dialect == "espec":
                eps.append(self._endpoint("chamber", "chamber", "espec", EspecChamber(w.chamber, w.clock)))
            else:
                eps.append(self._endpoint("chamber", "chamber", "simserv", SimServChamber(w.chamber)))
        ports: dict[int, MeterPort] = {}
        for pos, meter in sorted(w.meters.items()):
            port = ports[pos] = MeterPort(meter)
            ep = self._endpoint(f"meter{pos}", "meter_port", "iec62056-21", port, position=pos, serial=meter.serial)
            port.on_serial_change = functools.partial(ep.info.__setitem__, "serial")  # W1 of C.1.0
            eps.append(ep)
            optical = self._endpoint(f"meter{pos}-optical", "meter_port", "rfc2217", OpticalHead(port))
            optical.info = ep.info  # the same port behind a serial server: position, serial (kept after a W1)
            eps.append(optical)
        for pos, meter in sorted(w.meters.items()):
            dlms = meter.config.dlms
            server = DlmsServer(
                meter, dlms.lls_password,
                Keys(bytes.fromhex(dlms.encryption_key), bytes.fromhex(dlms.authentication_key)),
                bytes.fromhex(dlms.system_title) if dlms.system_title else None, dlms.time_zone_min,
                dlms.hdlc_address,
                random_bytes=np.random.default_rng([self.seed, _STREAM_DLMS_CHALLENGE, pos]).bytes,  # seeded StoC
            )
            self.dlms_servers[pos] = server
            if dlms.optical_mode_e:
                ports[pos].hdlc = server.hdlc_session
            eps.append(self._endpoint(f"meter{pos}-dlms", "meter_port", "dlms-wrapper", server, position=pos,
                                      serial=meter.serial))
        eps.append(self._endpoint("control", "simulation", "scpi", SimulationControl(self)))
        return eps

    def endpoint(self, name: str) -> Endpoint:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no endpoint named {name!r}; have {sorted(self._by_name)}") from None

    # -- time -----------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Advance by ``seconds``, stopping at each scheduled fault's instant to inject it there."""
        clock = self.world.clock
        end = clock.now + seconds
        while (t := self.faults.next_time()) <= end:
            self.world.advance(max(0.0, t - clock.now))
            self._fire(self.faults.due_at(max(clock.now, t)))
        self.world.advance(max(0.0, end - clock.now))
        self._check_point_end()

    def advance_until_idle(self, max_seconds: float) -> float:
        """Advance until the started error calculators finish (at most ``max_seconds``), injecting the scheduled
        faults met on the way at their instants; returns the seconds advanced."""
        clock = self.world.clock
        start = clock.now
        end = start + max_seconds
        while (t := self.faults.next_time()) <= end:
            self.world.advance_until_idle(max(0.0, t - clock.now))
            if clock.now < t:  # idle before the fault's instant: it waits for a later advance
                break
            self._fire(self.faults.due_at(t))
        else:
            self.world.advance_until_idle(max(0.0, end - clock.now))
        self._check_point_end()
        return clock.now - start

    def set_speed(self, factor: float) -> None:
        """Free-running mode (``factor`` virtual s per wall s); 0 returns to advancing on request only."""
        self.speed = factor
        if factor > 0 and self._free_run is None:
            self._free_run = asyncio.get_running_loop().create_task(self._run_free())

    async def _run_free(self) -> None:
        last = time.monotonic()
        try:
            while self.speed > 0:
                await asyncio.sleep(_FREE_RUN_TICK_S)
                now = time.monotonic()
                self.advance((now - last) * self.speed)
                last = now
        finally:
            self._free_run = None

    # -- faults ---------------------------------------------------------------------------------
    def inject_fault(self, name: str, kind: str, arg: float | None = None) -> None:
        """KeyError: no such endpoint or fault kind, or the kind does not fit the endpoint; FaultRefused: a
        connection fault aimed at the control endpoint."""
        ep = self.endpoint(name)
        dev: Any = ep.device
        if ep.role == "simulation" and kind in CONTROL_REFUSED_FAULTS:
            raise FaultRefused(
                f"{kind} is refused on the control endpoint {name!r}: it would cut the tests off from the"
                " simulation"
            )
        if kind == "DROP":
            ep.drop_connections()
        elif kind == "HANG":
            ep.faults.hang = True
        elif kind == "GARBLE":
            ep.faults.garble += int(arg or 1)
        elif kind == "REFUSE":
            ep.faults.refuse = True
            ep.drop_connections()
        elif kind == "ERROR":
            if not hasattr(dev, "push_error"):
                raise KeyError(f"endpoint {name!r} has no SCPI error queue")
            dev.push_error(int(arg if arg is not None else -300))
        elif kind == "RESET":
            if hasattr(dev, "power_loss"):
                dev.power_loss()
            ep.drop_connections()
        elif kind in ("NOPULSES", "FAIL"):
            meter = getattr(dev, "meter", None)
            if meter is None:
                raise KeyError(f"endpoint {name!r} is not a meter port")
            if kind == "NOPULSES":
                meter.inject_no_pulses()
            else:
                meter.fail_now(self.world.clock.now)
        elif kind == "ALARM":
            chamber = self.world.chamber
            if chamber is None or ep.role != "chamber":
                raise KeyError(f"endpoint {name!r} is not a chamber")
            chamber.raise_alarm(int(arg if arg is not None else 1))
        else:
            raise KeyError(f"unknown fault {kind!r}")

    def schedule_fault(self, fault: ScheduledFault) -> None:
        """Schedule ``fault`` (KeyError: no such endpoint or kind; ValueError: not ahead of the clock or the
        points, or a connection fault aimed at the control endpoint)."""
        ep = self.endpoint(fault.endpoint)
        if fault.kind not in FAULT_KINDS:
            raise KeyError(f"unknown fault {fault.kind!r}; have {', '.join(FAULT_KINDS)}")
        if ep.role == "simulation" and fault.kind in CONTROL_REFUSED_FAULTS:
            raise FaultRefused(f"{fault.kind} is refused on the control endpoint {fault.endpoint!r}: it would cut"
                               " the tests off from the simulation")
        self.faults.add(fault, self.world.clock.now)

    def _point_started(self) -> None:
        self._fire(self.faults.point_started())

    def _check_point_end(self) -> None:
        """After anything that can end a measurement (an advance, an abort): the point has ended when no channel
        measures any more."""
        if self.faults.ended < self.faults.points and not any(
                c.state in ("WAITING", "RUNNING") for c in self.world.calculators.values()):
            self._fire(self.faults.point_ended())

    def _fire(self, due: list[ScheduledFault]) -> None:
        for f in due:
            f.fired_at_s, f.fired_point = self.world.clock.now, self.faults.points
            try:
                self.inject_fault(f.endpoint, f.kind, f.arg)
            except (KeyError, ValueError) as exc:  # e.g. ERROR on an endpoint without an error queue
                f.error = str(exc.args[0])
            self.faults.fired.append(f)

    def clear_faults(self, name: str) -> None:
        ep = self.endpoint(name)
        ep.faults.hang = False
        ep.faults.garble = 0
        ep.faults.refuse = False
        meter = getattr(ep.device, "meter", None)
        if meter is not None:
            meter.clear_faults()

    # -- serving --------------------------------------------------------------------------------
    async def start(self) -> None:
        started: list[Endpoint] = []
        try:
            for ep in self.endpoints:
                await ep.start()
                started.append(ep)
        except BaseException:
            for ep in started:
                await ep.stop()
            raise

    async def stop(self) -> None:
        self.speed = 0.0
        if self._free_run is not None:
            self._free_run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._free_run
        for ep in self.endpoints:
            await ep.stop()

    def describe(self) -> list[dict[str, Any]]:
        return [ep.describe() for ep in self.endpoints]


class RunningBench:
    """A simulated bench served on a background thread (tests, in-process runs)."""

    def __init__(self, bench: SimulatedBench) -> None:
        self.bench = bench
        self.loop = BackgroundLoop()

    def __enter__(self) -> RunningBench:
        self.loop.start()
        try:
            self.loop.run(self.bench.start())
        except BaseException:
            self.loop.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.loop.run(self.bench.stop())
        finally:
            self.loop.stop()

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the loop thread (the only thread allowed to touch the world)."""
        return self.loop.call(lambda: fn(*args))

    def resource(self, name: str) -> str:
        return str(self.bench.endpoint(name).describe()["resource"])

    def port(self, name: str) -> int:
        return self.bench.endpoint(name).bound_port
