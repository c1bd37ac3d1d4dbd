"""An opened bench: roles bound to drivers, meters at positions, calibration and identity checked, safe state armed.

    with Bench.open("benches/lab2.yaml") as bench:
        bench.source.apply({1: PhaseLoad(230, 5)})
        bench.meter(7).port.read("1.8.0")

Order on opening (nothing is energised before the checks pass): calibration of every instrument → connections →
``*IDN?`` against the expected pattern → limits from the bench's and the meters' ratings → safe-state actions.
Closing (normal end, exception, Ctrl-C, SIGTERM) runs the safe state: source outputs off first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyvisa

from hil.benchfile import (
    DEFAULT_UMAX_FACTOR,
    BenchFile,
    MeterSpec,
    PortBinding,
    RoleBinding,
    RoleName,
    load_bench_file,
)
from hil.safety import SafeState
from hil.vending import Vending
from instruments.drivers.clock import SimulationClock, WallClock
from instruments.drivers.errors import BenchFault, InstrumentConnectionError
from instruments.drivers.registry import driver_entry
from instruments.drivers.serial_transport import SerialTransport, is_serial_resource, serial_transport
from instruments.drivers.transcript import Transcript
from instruments.drivers.transport import VisaTransport
from instruments.roles import DipSource, FlickerSource, HarmonicSource

log = logging.getLogger(__name__)

_TOL = 1e-9


class BenchConfigurationError(RuntimeError):
    """The bench cannot be used as configured (stops the run before anything is energised)."""


class CalibrationExpired(BenchConfigurationError):
    pass


class IdentityMismatch(BenchConfigurationError):
    pass


@dataclass
class InstrumentRecord:
    """What the run metadata says about one instrument."""

    role: str
    driver: str
    resource: str
    expected_idn: str | None
    idn: str | None = None
    calibration_certificate: str | None = None
    calibration_due: str | None = None
    calibration_status: str = "none"  # valid | expired | expired-override | not-required | none


@dataclass
class MeterAtPosition:
    position: int
    spec: MeterSpec
    port: Any | None  # a MeterPort driver, opened on first use
    dlms: Any | None = None  # its DLMS/COSEM port (instruments.drivers.dlms.DlmsPort), opened on first use
    vending: Vending | None = None  # a payment meter's token vending (its STS key data in the bench file)


def calibration_status(binding: RoleBinding, today: dt.date) -> str:
    cal = binding.calibration
    if cal is None:
        return "none"
    if cal.due is None:
        return "not-required"
    return "valid" if cal.due >= today else "expired"


def reference_calibration_problem(binding: RoleBinding, today: dt.date, real_bench: bool) -> str | None:
    """Why a reference standard may not be used as calibrated (None: it may): expired, no record, or — on a real
    bench, where a reference is always due for recalibration — no due date."""
    status = calibration_status(binding, today)
    cal = binding.calibration
    if status == "expired":
        assert cal is not None and cal.due is not None
        return f"certificate {cal.certificate} expired on {cal.due.isoformat()} (today {today.isoformat()})"
    if status == "not-required" and real_bench:
        assert cal is not None
        return (f"certificate {cal.certificate} gives no due date (calibration.due), and a reference standard on a"
                " real bench is always due for recalibration")
    if status == "none":
        return "no calibration record (certificate and due date) is given"
    return None


def identity_matches(idn: str, expected: str | None) -> bool:
    """``*IDN?`` against the bench file's pattern (fnmatch, case-sensitive; no pattern: anything)."""
    return not expected or fnmatch.fnmatchcase(idn, expected)


class Bench:
    """The roles of one bench. Test code asks for a role (``bench.source``), never for an address."""

    def __init__(
        self,
        config: BenchFile,
        *,
        source_file: str = "<memory>",
        allow_expired_calibration: bool = False,
        today: dt.date | None = None,
        rm: pyvisa.ResourceManager | None = None,
        transcript: Transcript | None = None,
        safe_state: SafeState | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.config = config
        self.source_file = source_file
        self.allow_expired_calibration = allow_expired_calibration
        self.today = today or dt.date.today()
        self.rm = rm
        self.transcript = transcript if transcript is not None else Transcript()
        self.safe_state = safe_state if safe_state is not None else SafeState()
        self.timeout_s = timeout_s
        self.roles: dict[str, Any] = {}
        self.records: dict[str, InstrumentRecord] = {}
        self._meters: dict[int, MeterAtPosition] = {}
        self._unregister: list[Any] = []
        self._transports: list[VisaTransport | SerialTransport] = []
        self.opened = False

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, **kwargs: Any) -> Bench:
        """Load ``path`` (errors name file, line, field) and open the bench."""
        bench = cls(load_bench_file(path), source_file=str(path), **kwargs)
        bench.connect()
        return bench

    def _transport(self, name: str, resource: str, driver: str, timeout_s: float | None = None) -> VisaTransport:
        entry = driver_entry(driver)
        t = VisaTransport(
            name, resource, rm=self.rm, timeout_s=timeout_s or self.timeout_s, read_termination=entry.read_termination,
            write_termination=entry.write_termination, transcript=self.transcript,
        )
        self._transports.append(t)
        return t

    def _serial(self, name: str, resource: str, options: dict[str, Any],
                timeout_s: float | None = None) -> SerialTransport:
        """A serial line (docs/meter-ports.md), opened at once: a missing device, a port in use or a bad byte format
        stops the bench here, before anything is energised."""
        try:
            t = serial_transport(name, resource, options, timeout_s=timeout_s or self.timeout_s,
                                 transcript=self.transcript)
            t.open()
        except (ValueError, InstrumentConnectionError) as exc:
            raise BenchConfigurationError(f"{self.source_file}: {name} at {resource}: {exc}") from exc
        self._transports.append(t)
        return t

    def _make_driver(self, name: str, driver: str, resource: str, options: dict[str, Any],
                     timeout_s: float | None = None) -> Any:
        cls = driver_entry(driver).load()
        options = dict(options)
        serial_line = is_serial_resource(resource)  # the bench file chooses the transport, the driver is the same
        try:
            transport = (self._serial(name, resource, options, timeout_s) if serial_line
                         else self._transport(name, resource, driver, timeout_s))
            return cls(transport, **options)
        except TypeError as exc:
            raise BenchConfigurationError(
                f"{self.source_file}: roles.{name}.options: driver {driver!r} rejects the options: {exc}"
            ) from exc

    def driver_for(self, role: RoleName) -> Any:
        """The driver of ``role`` as the bench file binds it (no checks: :meth:`connect` does those)."""
        binding = self.config.roles[role]
        options = dict(binding.options)
        if role == "source":
            options.setdefault("phases", self.config.limits.phases)
        return self._make_driver(role, binding.driver, binding.resource, options, binding.timeout_s)

    def connect(self) -> None:
        """Check calibration, connect every role, check identities, apply limits, arm the safe state."""
        try:
            self._check_calibration()
            for role in self.config.roles:
                self.roles[role] = self.driver_for(role)
            self._check_identities()
            self._apply_limits()
            self._arm_safe_state()
            for pos in self.config.positions:
                port = None
                if pos.port is not None:
                    port = self._make_port(pos.position, pos.meter, pos.port)
                dlms = None
                if pos.dlms is not None:
                    dlms = self._make_port(pos.position, pos.meter, pos.dlms, suffix="-dlms")
                vending = Vending.of(pos.sts) if pos.sts is not None else None
                self._meters[pos.position] = MeterAtPosition(pos.position, pos.meter, port, dlms, vending)
            self.opened = True
        except BaseException:
            self.close()
            raise

    def _make_port(self, position: int, meter: MeterSpec, binding: PortBinding, suffix: str = "") -> Any:
        options: dict[str, Any] = {"address": binding.address or meter.serial, **binding.options}
        if binding.password is not None:
            options["password"] = binding.password
        return self._make_driver(f"meter{position}{suffix}", binding.driver, binding.resource, options)

    def _check_calibration(self) -> None:
        for role, binding in self.config.roles.items():
            status = calibration_status(binding, self.today)
            cal = binding.calibration
            rec = InstrumentRecord(
                role=role, driver=binding.driver, resource=binding.resource, expected_idn=binding.idn,
                calibration_certificate=cal.certificate if cal else None,
                calibration_due=cal.due.isoformat() if cal and cal.due else None, calibration_status=status,
            )
            self.records[role] = rec
            what = reference_calibration_problem(binding, self.today, "simulation" not in self.config.roles) \
                if role == "reference" else None
            if what is not None:
                if not self.allow_expired_calibration:
                    raise CalibrationExpired(
                        f"{self.source_file}: roles.reference.calibration: {what}; the run is stopped before any"
                        " output. Recalibrate (or record the certificate), or override with"
                        " --allow-expired-calibration (every result will then be marked)."
                    )
                rec.calibration_status = "expired-override"
                log.warning("reference calibration expired on %s: running under override", rec.calibration_due)

    def _check_identities(self) -> None:
        for role, drv in self.roles.items():
            rec = self.records[role]
            try:
                rec.idn = str(drv.identify())
            except BenchFault as exc:
                raise BenchConfigurationError(f"{role} at {rec.resource} does not identify itself: {exc}") from exc
            if not identity_matches(rec.idn, rec.expected_idn):
                raise IdentityMismatch(
                    f"{self.source_file}: roles.{role}.idn: expected an instrument matching {rec.expected_idn!r}"
                    f" at {rec.resource}, but it identifies as {rec.idn!r}"
                )

    def _apply_limits(self) -> None:
        """The source may not exceed the bench's ratings nor any mounted meter's (series current circuits)."""
        src = self.roles.get("source")
        if src is None or not hasattr(src, "restrict"):
            return
        lim = self.config.limits
        vmax, vwho = lim.max_voltage_v, f"bench {self.config.name!r} limit max_voltage_v"
        imax, iwho = lim.max_current_a, f"bench {self.config.name!r} limit max_current_a"
        for pos in self.config.positions:
            m = pos.meter
            umax = m.umax_v if m.umax_v is not None else DEFAULT_UMAX_FACTOR * m.un_v
            if umax < vmax:
                vmax, vwho = umax, f"meter {m.serial} at position {pos.position} (Umax {umax:g} V)"
            if m.imax_a < imax:
                imax, iwho = m.imax_a, f"meter {m.serial} at position {pos.position} (Imax {m.imax_a:g} A)"
        src.restrict("voltage", 0.0, vmax + _TOL * vmax, vwho)
        src.restrict("current", 0.0, imax + _TOL * imax, iwho)

    def _arm_safe_state(self) -> None:
        # LIFO: register the least urgent first, so the source is switched off first
        for role in ("reference", "error_calculator", "chamber"):
            drv = self.roles.get(role)
            if drv is not None and hasattr(drv, "safe_state"):
                self._unregister.append(self.safe_state.register(f"{role}: safe state", drv.safe_state))
        src = self.roles.get("source")
        if src is not None:
            self._unregister.append(self.safe_state.register("source: outputs off", lambda: source_off(src)))

    # -- roles ------------------------------------------------------------------------------------
    def role(self, name: str) -> Any:
        try:
            return self.roles[name]
        except KeyError:
            raise KeyError(f"bench {self.config.name!r} has no {name!r} role ({self.source_file})") from None

    @property
    def source(self) -> Any:
        return self.role("source")

    @property
    def reference(self) -> Any:
        return self.role("reference")

    @property
    def error_calculator(self) -> Any:
        return self.role("error_calculator")

    @property
    def chamber(self) -> Any:
        return self.role("chamber")

    @property
    def clock(self) -> Any:
        """Virtual time on a simulated bench (its ``simulation`` role), wall time otherwise."""
        return self.roles.get("simulation") or WallClock()

    @property
    def simulated(self) -> bool:
        return "simulation" in self.roles

    @property
    def positions(self) -> list[int]:
        return sorted(self._meters)

    def meter(self, position: int) -> MeterAtPosition:
        try:
            return self._meters[position]
        except KeyError:
            raise KeyError(f"bench {self.config.name!r} has no meter at position {position}") from None

    # -- run metadata -----------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "bench": self.config.name,
            "bench_file": self.source_file,
            "simulated": self.simulated,
            "instruments": {role: asdict(rec) for role, rec in self.records.items()},
            "calibration_override": any(r.calibration_status == "expired-override" for r in self.records.values()),
        }
        sim = self.roles.get("simulation")
        if isinstance(sim, SimulationClock):
            # seed and simulated-bench file asked from the simulator itself, whoever started it; asked once (they
            # do not change during a run, and this is called for every result row)
            ident: dict[str, Any] | None = getattr(self, "_simulation_identity", None)
            if ident is None:
                try:
                    ident = self._simulation_identity = sim.identity()
                except Exception as exc:  # metadata must not break a run: recorded as unknown, asked again later
                    log.warning("simulation identity not available: %s", exc)
                    ident = {"seed": None, "sim_bench": None, "sim_bench_sha256": None}
            meta.update(ident)
        return meta

    # -- closing ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Run the safe state, then close every link. Safe to call more than once."""
        if self._unregister:
            self.safe_state.run("bench closed")
        for remove in self._unregister:
            remove()
        self._unregister.clear()
        for m in self._meters.values():  # release DLMS associations while the links are still up
            for port in (m.port, m.dlms):
                release = getattr(port, "close", None)
                if release is not None:
                    with contextlib.suppress(Exception):  # closing must not mask what ended the run
                        release()
        for t in self._transports:
            t.close()
        self._transports.clear()
        self.opened = False

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def source_off(src: Any) -> None:
    """Outputs off on a clean link: an interrupted exchange may have left half a reply behind. Outputs off comes
    first; then a dip source's dip program is aborted, a fluctuation stopped and the harmonics cleared (a refusal
    or a hung link there must not delay OUTP OFF, and its failure is only logged), then the output state is
    checked."""
    transport = getattr(src, "transport", None)
    if transport is not None:
        transport.reconnect()
    src.output_off()
    if isinstance(src, DipSource):
        try:
            src.abort_dips()
        except Exception as exc:
            log.error("safe state: aborting the source's dips failed (the outputs are off): %s", exc)
    # a fluctuation or harmonics left programmed would distort the next run's sine waves
    stops = [("fluctuation", src.flicker_stop)] if isinstance(src, FlickerSource) else []
    if isinstance(src, HarmonicSource):
        stops.append(("harmonics", src.clear_harmonics))
    for what, stop in stops:
        try:
            stop()
        except Exception as exc:
            log.error("safe state: stopping the source's %s failed (the outputs are off): %s", what, exc)
    if src.is_on():
        raise BenchFault(src.name, "output still on after OUTPut OFF")
