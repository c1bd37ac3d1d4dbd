"""Plan kinds of prepayment tests (IEC 62055-31 payment meters with STS tokens, IEC 62055-41): what can be
checked without the bench is checked here."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_ID = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
_HHMM = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
_WEEKDAY = Annotated[int, Field(ge=1, le=7)]

#: the token acceptance matrix: each case and the token_status status_code a decoder must give it
CASES: dict[str, int] = {
    "valid": 3,               # accepted, credited by exactly its amount
    "wrong_meter": 5,         # made for another meter's PAN: authentication fails
    "wrong_supply_group": 5,  # another supply group code
    "wrong_key_revision": 5,  # another key revision (the decoder key differs)
    "corrupted_digit": 5,     # one digit mistyped: the CRC fails
    "replayed": 6,            # the valid token again: its TID is in the memory
    "old_tid": 6,             # older than every TID the decoder remembers
    "key_expired": 6,         # the TID's top 8 bits past the key expiry number
    "wrong_class": 6,         # water credit to an electricity meter
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TokenAcceptanceTest(_Model):
    """Token acceptance (IEC 62055-41 token validation): every case entered through the DLMS token gateway; the
    valid token is credited by exactly its amount, every other is refused with the status its check gives and
    leaves the credit as it was (credit + what the meter charged in between, to its resolution)."""

    id: _ID
    kind: Literal["sts_token_acceptance"]
    amount_kwh: float = Field(10.0, gt=0, le=100000)
    cases: list[Literal[tuple(CASES)]] = Field(default_factory=lambda: list(CASES))  # type: ignore[valid-type]
    #: one step of the credit as the meter shows it (Wh of credit)
    credit_resolution_wh: float = Field(1.0, gt=0)

    @field_validator("cases")
    @classmethod
    def _replay_needs_valid(cls, v: list[str]) -> list[str]:
        if "replayed" in v and "valid" not in v:
            raise ValueError("the case 'replayed' enters the valid token again: list 'valid' too")
        return v


class KeyChangeTest(_Model):
    """Key change (IEC 62055-41 class 2 subclasses 3 and 4): a meter on base date 1993 takes a token issued just
    before the TID rollover (2024-11-24 20:15), the two key change tokens to the next key revision with the rollover
    bit, then refuses its old key and takes tokens issued at the rollover minute and now on base date 2014."""

    id: _ID
    kind: Literal["sts_key_change"]
    #: the new key revision (default: the present one + 1, 9 → 1)
    new_krn: int | None = Field(None, ge=1, le=9)
    #: move to the next base date (default: when the meter is on base date 1993)
    rollover: bool | None = None
    #: the new key's expiry number (default: the present one)
    ken: int | None = Field(None, ge=0, le=255)
    amount_kwh: float = Field(1.0, gt=0, le=100000)
    credit_resolution_wh: float = Field(1.0, gt=0)


class TariffWindow(_Model):
    """The meter's clock set to ``clock`` (local, on the next ``weekday``) so the load runs in ``tariff``."""

    tariff: int = Field(ge=1, le=8)
    clock: _HHMM
    weekday: _WEEKDAY | None = 3


class DeductionTest(_Model):
    """Deduction (IEC 62055-31 credit and charges): in each tariff window the credit drops by the reference energy ×
    the tariff's price plus the standing charges collected, within the meter's class at the load plus the credit
    resolution; with no load, by the standing charge alone over ``standing_s``. ``prices``: the price table the
    meter must show (its price query); none: whatever it shows is what it must charge."""

    id: _ID
    kind: Literal["prepayment_deduction"]
    current: str = "Iref"
    power_factor: str = "1"
    duration_s: float = Field(1800.0, gt=0, le=86400)
    windows: list[TariffWindow] = Field(default_factory=lambda: [TariffWindow(tariff=1, clock="10:00"),
                                                                 TariffWindow(tariff=2, clock="23:00")])
    prices: dict[int, float] | None = None
    #: the standing charge the meter must have (credit per day, collected every ``collection_period_s``); none:
    #: what the meter's time-based Charge says is what it must take
    standing_charge_per_day: float | None = Field(None, ge=0)
    collection_period_s: int | None = Field(None, ge=60, le=86400)
    standing_s: float = Field(21600.0, ge=0, le=7 * 86400)
    credit_resolution_wh: float = Field(1.0, gt=0)
    #: credit the meters are given before the windows (kWh), so none runs out on the way
    credit_kwh: float = Field(100.0, gt=0)


class EventCodes(_Model):
    """The meter's event codes (the lab's meter documentation; defaults: the simulated meters', U)."""

    low_credit: list[int] = Field(default_factory=lambda: [231, 232])
    out_of_credit: int = 235
    credit_restored: int = 237


class CreditLimitsTest(_Model):
    """Low credit, zero credit, top-up and emergency credit (IEC 62055-31): from ``start_credit_kwh`` under load the
    low-credit alarms come at each threshold's instant (from the reference power and the price), at zero the
    meter disconnects (the bench's error calculator counts no pulse from ``max_open_s`` on); a top-up reconnects it
    (control mode 5 or 6); emergency credit, invoked at zero, reconnects it until it is used up, and the next token
    pays it back first."""

    id: _ID
    kind: Literal["prepayment_credit_limits"]
    current: str = "Imax"
    power_factor: str = "1"
    start_credit_kwh: float = Field(6.0, gt=0)
    thresholds_kwh: list[float] = Field(default_factory=lambda: [5.0, 1.0])
    codes: EventCodes = Field(default_factory=EventCodes)
    clock: _HHMM = "10:00"
    weekday: _WEEKDAY | None = 3
    #: the tariff the meter is in at ``clock`` (its price is the price query's)
    tariff: int = Field(1, ge=1, le=8)
    control_mode: int = Field(6, ge=5, le=6)
    max_open_s: float = Field(5.0, ge=0)
    #: event instants: within this of the expected instant, plus the meter's class share of the time elapsed
    tolerance_s: float = Field(5.0, ge=0)
    window_s: float = Field(60.0, gt=0)
    topup_kwh: float = Field(10.0, gt=0)
    emergency: bool = True
    emergency_kwh: float = Field(2.0, ge=0)
    credit_resolution_wh: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _below_start(self) -> CreditLimitsTest:
        """The thresholds highest first (the order of the meter's codes), each below the start credit."""
        if self.thresholds_kwh != sorted(self.thresholds_kwh, reverse=True):
            raise ValueError("thresholds_kwh: highest first, as the meter numbers its low-credit alarms")
        above = [t for t in self.thresholds_kwh if t >= self.start_credit_kwh]
        if above:
            raise ValueError(f"thresholds_kwh: {above} kWh not below start_credit_kwh {self.start_credit_kwh:g}: "
                             "the alarm cannot be timed")
        return self


class FriendlyTest(_Model):
    """Friendly hours (IEC 62055-31: no disconnection for lack of credit): the credit runs out ``lead_s`` into
    the friendly window [start, end) of the meter's local time; the supply stays on to the window's end (the
    meter counts pulses) and is cut within ``max_open_s`` after it."""

    id: _ID
    kind: Literal["prepayment_friendly"]
    start: _HHMM = "18:00"
    end: _HHMM = "22:00"
    weekday: _WEEKDAY | None = 3
    current: str = "Imax"
    power_factor: str = "1"
    lead_s: float = Field(600.0, gt=0)
    max_open_s: float = Field(5.0, ge=0)
    window_s: float = Field(60.0, gt=0)
