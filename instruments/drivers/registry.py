"""Driver names used in bench files (``driver: fluke6105a``) → driver class and its link settings.

Imported lazily, so a bench only loads the drivers it uses.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DriverEntry:
    target: str  # "module:Class"
    roles: tuple[str, ...]
    read_termination: str | None = "\n"
    write_termination: str = "\n"
    description: str = ""
    #: the models this driver speaks to (their command sets agree), model → ``*IDN?`` pattern (fnmatch)
    models: tuple[tuple[str, str], ...] = ()

    def idn_pattern(self, model: str) -> str:
        """The ``*IDN?`` pattern of ``model``; a model the driver does not know is refused, naming the known ones."""
        for name, pattern in self.models:
            if name == model:
                return pattern
        known = ", ".join(name for name, _ in self.models) or "none"
        raise KeyError(f"driver for {self.description} does not know model {model!r} (known: {known})")

    def load(self) -> type[Any]:
        module, _, cls = self.target.partition(":")
        loaded: type[Any] = getattr(importlib.import_module(module), cls)
        return loaded


DRIVERS: dict[str, DriverEntry] = {
    "fluke6105a": DriverEntry(
        "instruments.drivers.fluke6105a:Fluke6105A", ("source",),
        description="Fluke 6100B/6105A electrical power standard",
        # *IDN? → FLUKE,<model>,<serial>,<firmware> (Fluke 6100B/6105A user's manual, remote commands)
        models=(("6100B", "FLUKE,6100B,*"), ("6105A", "FLUKE,6105A,*")),
    ),
    "yokogawa-wt": DriverEntry(
        "instruments.drivers.yokogawa_wt:YokogawaWT", ("reference",),
        description="Yokogawa WT1800/WT5000 power analyser as reference standard",
        # *IDN? → YOKOGAWA,<model>,<serial>,<firmware>; the WT1800E family (1 to 6 elements) and the WT5000 share
        # the NUMeric, INTEGrate and HEADer groups this driver uses (IM WT5000-17EN, IM WT1801E-17EN)
        models=(("WT5000", "YOKOGAWA,WT5000,*"),
                *((f"WT180{n}E", f"YOKOGAWA,WT180{n}E,*") for n in range(1, 7))),
    ),
    "meterhil-ecal": DriverEntry(
        "instruments.drivers.meterhil_ecal:MeterHilErrorCalculator", ("error_calculator",),
        description="MeterHIL multi-channel error calculator (docs/error-calculator-scpi.md)",
        models=(("ErrorCalculator", "MeterHIL,ErrorCalculator,*"),),
    ),
    "simserv": DriverEntry(
        "instruments.drivers.simserv:SimServChamber", ("chamber",), read_termination="\n", write_termination="\r",
        description="Weiss/Vötsch climatic chamber, SimServ protocol",
    ),
    "espec": DriverEntry(
        "instruments.drivers.espec:EspecChamber", ("chamber",), read_termination="\r\n", write_termination="\r\n",
        description="ESPEC climatic chamber, P300/SCP-220 ASCII protocol",
    ),
    "iec62056-21": DriverEntry(
        "instruments.drivers.iec62056:Iec62056Port", ("meter_port",), read_termination=None,
        write_termination="",
        description="IEC 62056-21 mode C optical port (via a serial server over TCP)",
    ),
    "dlms": DriverEntry(
        "instruments.drivers.dlms:DlmsPort", ("meter_port",), read_termination=None, write_termination="",
        description="DLMS/COSEM meter port (IEC 62056-5-3) over the TCP wrapper (IEC 62056-47) or HDLC (IEC 62056-46)",
    ),
    "meterhil-simctl": DriverEntry(
        "instruments.drivers.clock:SimulationClock", ("simulation",),
        description="virtual clock of a MeterHIL simulated bench",
        models=(("SimControl", "MeterHIL,SimControl,*"),),
    ),
}


def driver_entry(name: str) -> DriverEntry:
    try:
        return DRIVERS[name]
    except KeyError:
        raise KeyError(f"unknown driver {name!r}; known drivers: {', '.join(sorted(DRIVERS))}") from None
