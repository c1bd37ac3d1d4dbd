"""Bridge from a running simulated bench to a bench file, so any run attaches to it exactly as to hardware."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hil.benchfile import (
    BenchFile,
    BenchLimits,
    Calibration,
    MeterSpec,
    PortBinding,
    Position,
    RoleBinding,
    StsKeys,
    dump_bench_file,
)
from instruments.drivers.registry import driver_entry
from instruments.simulators.bench import RunningBench, SimulatedBench
from instruments.simulators.control import set_sim_file
from instruments.simulators.world.sts_decoder import pan_of

#: driver names the bench file binds each simulated endpoint to
_ROLE_DRIVERS: dict[str, str] = {
    "source": "fluke6105a",
    "reference": "yokogawa-wt",
    "error_calculator": "meterhil-ecal",
    "simulation": "meterhil-simctl",
}


def _model(sim: SimulatedBench, role: str) -> str:
    """The model the simulated instrument identifies as (the simulated-bench file's, where it has one)."""
    if role == "source":
        return sim.config.source.model
    if role == "reference":
        return sim.config.reference.model
    return driver_entry(_ROLE_DRIVERS[role]).models[0][0]  # MeterHIL's own instruments: one model each


def _idn(sim: SimulatedBench, role: str) -> str:
    """The ``*IDN?`` pattern from the driver's model table, never a fixed string: a model the driver does not
    speak to is refused here, naming the simulated-bench file's field."""
    try:
        return driver_entry(_ROLE_DRIVERS[role]).idn_pattern(_model(sim, role))
    except KeyError as exc:
        raise ValueError(f"{sim.config.name}: {role}.model: {exc.args[0]}") from None
_CHAMBER_DRIVERS = {"simserv": "simserv", "espec": "espec"}


def _options(sim: SimulatedBench, role: str) -> dict[str, Any]:
    """Driver options a lab would write for these instruments (ratings, channel counts)."""
    src = sim.world.source
    if role == "source":  # a 6105A with transconductance amplifiers: the bench's own current rating
        return {"max_voltage_v": src.max_voltage, "max_current_a": src.max_current}
    if role == "error_calculator":
        return {"channels": len(sim.world.calculators)}
    if role == "reference":
        return {"elements": src.phases,
                "pulse_constant_imp_per_kwh": sim.config.reference.pulse_constant_imp_per_kwh}
    return {}


def _chamber_options(sim: SimulatedBench, protocol: str) -> dict[str, Any]:
    """The chamber's datasheet as a lab writes it into its bench file — temperature and humidity ranges and the
    steepest gradient (so a profile beyond them is refused at plan expansion, before anything starts; the SimServ
    protocol can ask the ranges but not the gradient) — and, for SimServ with humidity, the digital output the
    simulated controller assigns to humidity control (2; real chambers assign theirs per configuration, so the
    driver has no default)."""
    chamber = sim.world.chamber
    if chamber is None:
        return {}
    low, high = chamber.temperature_range
    options: dict[str, Any] = {"min_temperature_c": low, "max_temperature_c": high,
                               "max_gradient_k_per_min": min(chamber.max_gradient_up, chamber.max_gradient_down)}
    if chamber.humidity_range is not None:
        options.update(min_humidity_pct=chamber.humidity_range[0], max_humidity_pct=chamber.humidity_range[1])
        if protocol == "simserv":
            options["humidity_output"] = 2
    return options


def _resource(rec: dict[str, Any]) -> str:
    return str(rec.get("resource") or f"TCPIP0::{rec['host']}::{rec['port']}::SOCKET")


def _dlms_binding(sim: SimulatedBench, rec: dict[str, Any]) -> PortBinding:
    """The meter's DLMS port as a lab writes it: TCP wrapper, management client 1 with HLS-GMAC and suite 0."""
    dlms = sim.world.meters[int(rec["position"])].config.dlms
    return PortBinding(driver="dlms", resource=_resource(rec), options={
        "transport_layer": "wrapper", "client": 1, "logical_device": 1, "authentication": "hls-gmac",
        "encryption_key": dlms.encryption_key, "authentication_key": dlms.authentication_key,
    })


def _sts_keys(sim: SimulatedBench, position: int) -> StsKeys | None:
    """A payment meter's key data as the lab's vending system would hold it (from its configuration, not from
    the simulated decoder)."""
    meter = sim.world.meters[position]
    pre = meter.config.prepayment
    if pre is None:
        return None
    s = pre.sts
    return StsKeys(pan=pan_of(s.iin, s.drn, meter.serial), sgc=s.supply_group_code, ti=s.tariff_index,
                   krn=s.key_revision, key_type=s.key_type, base_date=s.base_date, ken=s.key_expiry,
                   vending_key=s.vending_key)


def bench_file_for(sim: SimulatedBench) -> BenchFile:
    """The bench file pointing at ``sim``'s endpoints (call after they are listening)."""
    roles: dict[str, RoleBinding] = {}
    positions: list[Position] = []
    dlms_ports: dict[int, PortBinding] = {}
    sim_cal = Calibration(certificate=f"SIMULATED-{sim.config.name}", due=None)
    for ep in sim.endpoints:
        rec = ep.describe()
        if ep.role in _ROLE_DRIVERS:
            driver, idn = _ROLE_DRIVERS[ep.role], _idn(sim, ep.role)
            cal = sim_cal
            if ep.role == "reference":  # its class accuracy stands for the certificate's uncertainty
                cal = sim_cal.model_copy(update={"accuracy_pct": sim.config.reference.accuracy_class_pct})
            roles[ep.role] = RoleBinding(
                driver=driver, resource=_resource(rec), idn=idn, calibration=cal, options=_options(sim, ep.role)
            )
        elif ep.role == "chamber":
            roles["chamber"] = RoleBinding(driver=_CHAMBER_DRIVERS[ep.protocol], resource=_resource(rec),
                                           options=_chamber_options(sim, ep.protocol))
        elif ep.role == "meter_port" and ep.protocol == "dlms-wrapper":
            dlms_ports[int(rec["position"])] = _dlms_binding(sim, rec)
        elif ep.role == "meter_port" and ep.protocol == "iec62056-21":
            meter = sim.world.meters[int(rec["position"])]
            ct = getattr(meter, "current_input", "direct") == "ct"
            spec = MeterSpec.model_validate(
                {
                    "serial": meter.serial,
                    "type": getattr(meter, "type_name", ""),
                    "class": meter.meter_class,
                    "standard": getattr(meter, "standard", ""),
                    "constant_imp_per_kwh": meter.constant,
                    "connection": meter.connection,
                    "current_input": "ct" if ct else "direct",
                    "un_v": meter.un,
                    "fn_hz": meter.fn,
                    "ist_a": getattr(meter, "ist", None),
                    "imin_a": meter.imin,
                    "itr_a": meter.itr,
                    "iref_a": meter.iref,
                    "in_a": meter.iref if ct else None,  # a CT meter's Iref is its In (standards.md §1)
                    "imax_a": meter.imax,
                }
            )
            port = PortBinding(resource=_resource(rec), address=meter.serial, password=meter.password)
            positions.append(Position(position=int(rec["position"]), meter=spec, port=port))
    positions = [p.model_copy(update={"dlms": dlms_ports.get(p.position), "sts": _sts_keys(sim, p.position)})
                 for p in positions]
    src = sim.world.source
    limits = BenchLimits(phases=src.phases, max_voltage_v=src.max_voltage, max_current_a=src.max_current,
                         min_frequency_hz=src.min_frequency, max_frequency_hz=src.max_frequency)
    return BenchFile.model_validate(
        {"name": sim.config.name, "limits": limits, "roles": roles, "positions": positions}
    )


@contextlib.contextmanager
def simulated_bench(
    sim_file: str | Path | None = None, seed: int | None = None, write_to: str | Path | None = None
) -> Iterator[tuple[RunningBench, BenchFile]]:
    """Serve a simulated bench in this process (background thread) and give its bench file.

    ``write_to`` also writes the bench file to disk, so a subprocess (pytest, ``hil run``) can attach.
    """
    sim = SimulatedBench.from_file(sim_file, seed=seed)
    set_sim_file(sim, sim_file)  # so the run can ask the simulator which file it runs (SIMulation:FILE?)
    running = RunningBench(sim)
    with running:
        bench_file: BenchFile = running.call(bench_file_for, running.bench)
        if write_to is not None:
            dump_bench_file(bench_file, write_to)
        yield running, bench_file
