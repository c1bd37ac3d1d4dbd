"""Plan kinds of DLMS/COSEM smart-function tests (only what can be judged without the bench is checked here)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

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


def _current(value: str) -> str:
    from hil.standards.model import CurrentExpr

    return str(CurrentExpr.parse(value))


class LimiterTest(_Model):
    """Load limiter (Limiter, IEC 62056-6-2 4.5.9) driving the supply control switch (Disconnect control 4.5.8):
    demand above ``threshold_w`` for longer than ``min_over_s`` disconnects, a shorter overload does not, demand
    below it for ``min_under_s`` reconnects where the control mode lets the limiter reconnect (5 and 6: local
    reconnection h). Judged by the bench's pulse counts under the source's load; the meter's control_state is
    recorded and must agree."""

    id: _ID
    kind: Literal["limiter"]
    limiter: str = "0.0.17.0.0.255"
    disconnect_control: str = "0.0.96.3.10.255"
    #: the monitored value: a Register's value (IC 3, attribute 2) in W × 10^scaler; active power import
    monitored_value: str = "1.0.1.7.0.255"
    #: threshold_active in W (written in the monitored register's raw units, its scaler read from the meter)
    threshold_w: float = Field(gt=0)
    #: min_over_threshold_duration and min_under_threshold_duration (double-long-unsigned seconds)
    min_over_s: int = Field(60, ge=1, le=2**32 - 1)
    min_under_s: int = Field(120, ge=1, le=2**32 - 1)
    #: control_mode written first; 5 and 6 let the limiter reconnect (h), in 1 … 4 the meter stays
    #: ready_for_reconnection (mode 0 never disconnects: nothing to test)
    control_mode: int = Field(5, ge=1, le=6)
    #: the load above and below the threshold (at Un, on every element)
    current_above: str = "Iref"
    current_below: str = "0.1 Iref"
    power_factor: str = "1"
    #: the lab's figure for how far from min_over / min_under the limiter may act (timing, settling, one
    #: measuring period): no pulse is judged within it
    margin_s: float = Field(2.0, gt=0, validate_default=True)
    #: the actions' script table and scripts (action_over_threshold / action_under_threshold)
    script_table: str = "0.0.10.0.106.255"
    disconnect_script: int = Field(1, ge=0, le=0xFFFF)
    reconnect_script: int = Field(2, ge=0, le=0xFFFF)

    _o = field_validator("limiter", "disconnect_control", "monitored_value", "script_table")(_obis)
    _c = field_validator("current_above", "current_below")(_current)

    @field_validator("current_below")
    @classmethod
    def _below_under_above(cls, v: str, info: ValidationInfo) -> str:
        from hil.standards.model import CurrentExpr

        above = info.data.get("current_above")
        lo, hi = CurrentExpr.parse(v), CurrentExpr.parse(above) if above else None
        if hi is not None and lo.base == hi.base and lo.factor >= hi.factor:
            raise ValueError(f"current_below {v} must be less than current_above {above}")
        return v

    @field_validator("margin_s")
    @classmethod
    def _margin_fits(cls, v: float, info: ValidationInfo) -> float:
        over, under = info.data.get("min_over_s"), info.data.get("min_under_s")
        if over is not None and not v < over / 2:
            raise ValueError(f"margin_s {v:g} s must be less than half min_over_s ({over} s): the short overload"
                             f" (min_over_s / 2) must end before the earliest disconnection (min_over_s - margin_s)")
        if under is not None and not 2 * v < under:
            raise ValueError(f"margin_s {v:g} s must be less than half min_under_s ({under} s): the disconnected"
                             " state is judged from min_over_s + margin_s to min_over_s + min_under_s - margin_s,"
                             " before the limiter may reconnect")
        return v
