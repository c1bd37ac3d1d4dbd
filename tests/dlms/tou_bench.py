"""A simulated bench for the time-of-use, DST and event-log tests over DLMS: the default bench's meter type with
clocks that do not drift (the meter's clock is the virtual clock, so a switch instant is known to the microsecond),
in CET with the EU DST rule, and four positions:

1. good: CET, DST enabled                       2. fault ``dst_rule_wrong`` (DST a week early), DST enabled
3. fault ``event_log_misses_short_interruptions``, DST enabled
4. good: CET, DST disabled (time zone −60 only)

Epoch Friday 27 March 2026 12:00 UTC (13:00 CET), two days before the EU switch of Sunday 29 March 01:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from instruments.drivers.dlms import DlmsPort
from instruments.drivers.transport import VisaTransport
from instruments.simulators.bench import RunningBench, SimulatedBench
from instruments.simulators.world.config import SimBenchConfig
from tests.helpers import truth

EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
EPOCH = dt.datetime(2026, 3, 27, 12, 0, tzinfo=dt.UTC)
CLOCK = "0.0.1.0.0.255"

Port = Callable[..., DlmsPort]


def config() -> SimBenchConfig:
    text = importlib.resources.files("instruments.simulators").joinpath("data", "default_bench.yaml").read_text(
        encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    data["epoch"] = EPOCH.isoformat()
    mtype = data["meter_types"]["MHS-B3-60"]
    mtype["behaviour"]["clock_drift_spread_ppm"] = 0.0
    mtype["dlms"] = {"time_zone_min": -60, "dst_enabled": True}
    serial = "MHS26000000{:02d}".format
    data["positions"] = [
        {"position": 1, "serial": serial(1), "type": "MHS-B3-60"},
        {"position": 2, "serial": serial(2), "type": "MHS-B3-60",
         "overrides": {"behaviour": {"dst_rule_wrong": True}}},
        {"position": 3, "serial": serial(3), "type": "MHS-B3-60",
         "overrides": {"behaviour": {"event_log_misses_short_interruptions": True}}},
        {"position": 4, "serial": serial(4), "type": "MHS-B3-60", "overrides": {"dlms": {"dst_enabled": False}}},
    ]
    return SimBenchConfig.model_validate(data)


def running_bench() -> Iterator[RunningBench]:
    with RunningBench(SimulatedBench(config(), seed=1)) as running:
        yield running


def opener(sim: RunningBench) -> tuple[Port, list[DlmsPort]]:
    opened: list[DlmsPort] = []

    def _open(position: int = 1, **options: Any) -> DlmsPort:
        resource = f"TCPIP0::127.0.0.1::{sim.port(f'meter{position}-dlms')}::SOCKET"
        transport = VisaTransport(f"meter{position}-dlms", resource, timeout_s=5.0, read_termination=None,
                                  write_termination="")
        options.setdefault("client", 1)
        options.setdefault("authentication", "hls-gmac")
        options.setdefault("encryption_key", EK)
        options.setdefault("authentication_key", AK)
        p = DlmsPort(transport, **options)
        opened.append(p)
        return p

    return _open, opened


def now(control: Any) -> dt.datetime:
    """The bench's virtual instant (= every meter's clock here: no drift, no offset)."""
    return EPOCH + dt.timedelta(seconds=float(truth(control)["time"]))


def advance(control: Any, seconds: float) -> None:
    control.write(f"CLOC:ADV {seconds!r}")
    control.query("*OPC?")


def advance_to(control: Any, when: dt.datetime) -> None:
    """Run the bench clock to exactly ``when`` (UTC)."""
    seconds = (when - EPOCH).total_seconds() - float(truth(control)["time"])
    assert seconds >= 0, f"{when} has passed"
    if seconds > 0:
        advance(control, seconds)


def energise(visa: Callable[[str], Any], amps: float = 5.0) -> tuple[Any, Any]:
    source, control = visa("source"), visa("control")
    for ph in (1, 2, 3):
        source.write(f"SOUR:PHAS{ph}:VOLT 230;CURR {amps}")
    source.write("OUTP ON")
    assert source.query("OUTP?") == "1"
    return source, control


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
