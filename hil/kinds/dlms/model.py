"""Plan kinds of DLMS/COSEM smart-function tests (only what can be judged without the bench is checked here)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ID = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _obis(value: str) -> str:
    from instruments.dlms.cosem import Obis

    return str(Obis.parse(value))


class Interruption(_Model):
    """The supply switched off during the profile: ``after_intervals`` full intervals in, ``offset_s`` into the
    next one, for ``duration_s``."""

    after_intervals: int = Field(2, ge=1)
    offset_s: float = Field(60.0, ge=0)
    duration_s: float = Field(2700.0, gt=0)


class LoadProfileTest(_Model):
    """Electricity memory (Profile Generic, IEC 62056-6-2 4.3.6): every interval's energy against the reference
    energy integrated over the same interval, held to the meter's class limit at the test current plus the
    register resolution; timestamps on the capture period; no gap or duplicate, across a supply interruption too;
    the power-down status bit on exactly the intervals the interruption touched."""

    id: _ID
    kind: Literal["load_profile"]
    profile: str = "1.0.99.1.0.255"
    #: the capture objects of the columns judged (IEC 62056-6-1 OBIS): energy import and the status
    energy_column: str = "1.0.1.8.0.255"
    status_column: str = "0.0.96.10.1.255"
    #: bit of the status column that flags an interval with a power failure (AMR profile status bit 7, PDN)
    power_down_bit: int = Field(7, ge=0, le=7)
    intervals: int = Field(8, ge=2, le=5000)
    current: str = "Iref"
    power_factor: str = "1"
    #: the meters' clocks set to the bench's reference time first (management client), so their intervals and the
    #: bench's coincide
    set_clock: bool = True
    interruption: Interruption | None = None
    #: one step of the energy register (Wh): the delta of two truncated readings is off by up to one step
    register_resolution_wh: float = Field(1.0, gt=0)

    _o = field_validator("profile", "energy_column", "status_column")(_obis)


class DisconnectTest(_Model):
    """Remote disconnect and reconnect (Disconnect Control, IEC 62056-6-2 4.5.8): under load, the bench's error
    calculator counts the meter's test-output pulses before, while and after; a meter that registers energy after
    ``max_open_s`` of a remote disconnect has a relay that did not open — a failed meter, whatever it reports."""

    id: _ID
    kind: Literal["disconnect"]
    disconnect_control: str = "0.0.96.3.10.255"
    #: control_mode written first (0 … 6; None: as the meter is configured)
    control_mode: int | None = Field(None, ge=0, le=6)
    current: str = "Iref"
    power_factor: str = "1"
    #: the stated time from the ACTION to no current (the lab's or the meter's specification)
    max_open_s: float = Field(2.0, ge=0)
    #: pulses are counted this long in each state; at the test load a closed relay gives many pulses in it
    window_s: float = Field(60.0, gt=0)
    #: after the disconnect, remote_reconnect; the current must be back (modes that need a manual reconnection
    #: are tested with reconnect: false)
    reconnect: bool = True

    _o = field_validator("disconnect_control")(_obis)
