"""A payment meter's account (IEC 62055-31 payment meters; DLMS UA Blue Book payment metering, Account IC 111,
Credit IC 112, Charge IC 113): credit from STS tokens, deducted by the energy the meter registers and by a standing
charge, low-credit alarms, emergency credit, friendly periods, and the supply control switch at zero credit.

The account is kept in kWh of credit (Account currency unit "consumption", the unit of STS electricity credit
tokens). One balance carries it all: token credit while positive; emergency credit, once invoked, lets it run down
to −limit (so the next token pays the emergency credit back before anything is left over); debt run up where the
supply may not be cut (friendly periods) takes it lower still. Available credit = balance + the emergency limit
while emergency credit is in use.

Events on the virtual clock, exact: the world asks :meth:`PaymentAccount.observe` at each segment start for the
instant the available credit reaches its next threshold (or zero) at the registered power and price, the next
standing-charge collection, and the end of a friendly period that holds off a disconnection; it ends the segment
there and calls :meth:`PaymentAccount.act`.

Our choices (U): standing charges are collected while the supply is disconnected and in friendly periods (Account
credit_charge_configuration "collect when disconnected", "collect in friendly periods"); a token that brings the
available credit above zero reconnects at once in control modes 5 and 6 (local reconnection h), in modes 1 … 4 it
only allows the customer's button (manual reconnection e); no reconnection trigger works while the account holds
the switch open.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from instruments.simulators.world.events import STANDARD
from instruments.simulators.world.relay import NO_THRESHOLD, SupplySwitch
from instruments.simulators.world.sts_decoder import Decoder, KeyData, Reason, pan_of
from instruments.sts import Token
from instruments.sts.amount import from_tenths

if TYPE_CHECKING:
    from instruments.simulators.world.config import PrepaymentConfig

#: credit closer than this to a threshold has reached it (kWh): the float rounding of an exactly timed segment
EPS_KWH = 1e-9
_DAY_S = 86400.0
_WS_PER_KWH = 3.6e6
#: the customer's keypad, the meter's optical port, the DLMS token gateway (token_delivery_method 2, 1, 0)
DELIVERY = {"remote": 0, "local": 1, "manual": 2}


class PaymentEvent(IntEnum):
    """Event codes of the payment functions in the standard event log (manufacturer-specific range; ours, U:
    IDIS leaves payment events to companion specifications). LOW_CREDIT_n: the n-th threshold (highest first)."""

    LOW_CREDIT_1 = 231
    LOW_CREDIT_2 = 232
    LOW_CREDIT_3 = 233
    LOW_CREDIT_4 = 234
    OUT_OF_CREDIT = 235
    FRIENDLY_HOLD = 236
    CREDIT_RESTORED = 237
    EMERGENCY_INVOKED = 238
    TOKEN_ACCEPTED = 239
    TOKEN_REFUSED = 240
    KEY_CHANGED = 241


class _PayingMeter(Protocol):
    serial: str
    relay: SupplySwitch
    events: Any
    tou: Any
    tariff: int

    def _meter_posix(self, t: float) -> float: ...
    def _virtual_at(self, posix: float) -> float: ...
    def meter_posix(self) -> float: ...
    @property
    def port_alive(self) -> bool: ...


@dataclass(frozen=True)
class Snapshot:
    """The account as DLMS shows it: amounts in kWh of credit."""

    available: float
    token_credit: float
    emergency_remaining: float
    amount_to_clear: float
    emergency_in_use: bool
    low_credit: bool
    out_of_credit: bool


class PaymentAccount:
    """The account, the decoder and the charges of one payment meter."""

    def __init__(self, config: PrepaymentConfig, meter: _PayingMeter, on_change: Callable[[], None] | None = None,
                 ) -> None:
        self.meter = meter
        self.config = config
        s = config.sts
        keys = KeyData(bytes.fromhex(s.vending_key), pan_of(s.iin, s.drn, meter.serial), s.supply_group_code,
                       s.tariff_index, s.key_revision, s.key_type, s.base_date, s.key_expiry)
        f = config.faults
        self.decoder = Decoder(keys, s.tid_memory, self._execute, accepts_replays=f.accepts_replayed_token,
                               ignores_rollover=f.ignores_rollover)
        self.balance = float(config.initial_credit_kwh)
        self.max_credit = float(config.max_credit_kwh)
        self.prices: dict[int, float] = {int(k): float(v) for k, v in config.unit_price.items()}
        self.standing_per_day = float(config.standing_charge_per_day)
        self.period_s = int(config.collection_period_s)
        self.thresholds = sorted(set(config.low_credit_thresholds_kwh), reverse=True)[:4]
        self.ec_limit = float(config.emergency_credit_kwh)
        self.ec_threshold = float(config.emergency_threshold_kwh)
        self.ec_in_use = False
        self.friendly_hours = [tuple(w) for w in config.friendly_hours]
        self.friendly_weekdays = frozenset(config.friendly_weekdays)
        #: how many thresholds the available credit is at or below (the alarms raised)
        self.alarm_level = 0
        #: the account opened the supply control switch for lack of credit
        self.credit_disconnect = False
        #: a disconnection for lack of credit is being held off by a friendly period
        self.friendly_hold = False
        self.tamper = False
        self.stored: dict[str, int] = {}
        #: totals: credited by tokens, charged for consumption, charged as standing charge (kWh of credit)
        self.credited = self.charged_consumption = self.charged_standing = 0.0
        self.last_collection_posix: float | None = None
        self.last_collection_amount = 0.0
        self.deadline = math.inf
        self._on_change = on_change
        meter.relay.set_control_mode(config.control_mode)
        meter.relay.hold_open = lambda: self.credit_disconnect
        self.next_collection = self._next_boundary(meter.meter_posix())
        # alarms the factory credit is already under are standing, not news; a disconnection waits for power-up
        self.alarm_level = sum(1 for x in self.thresholds if self.available <= x + EPS_KWH)

    # -- amounts ----------------------------------------------------------------------------------
    @property
    def available(self) -> float:
        return self.balance + (self.ec_limit if self.ec_in_use else 0.0)

    def snapshot(self) -> Snapshot:
        a = self.available
        ec_left = (min(self.ec_limit, a) if self.ec_in_use else self.ec_limit)
        return Snapshot(a, max(self.balance, 0.0), max(ec_left, 0.0), max(-self.balance, 0.0), self.ec_in_use,
                        self.alarm_level > 0, a <= EPS_KWH)

    def price(self, tariff: int) -> float:
        """Credit per kWh registered in ``tariff`` (a tariff without a price pays tariff 1's)."""
        if self.config.faults.price_ignores_tariff:
            tariff = 1
        return self.prices.get(tariff, self.prices[1])

    # -- physics (called by the meter and the world) ------------------------------------------------
    def consume(self, kwh: float, tariff: int) -> None:
        """``kwh`` of import registered in ``tariff``: charged at its price."""
        charge = kwh * self.price(tariff)
        self.balance -= charge
        self.charged_consumption += charge

    def observe(self, t: float, power_w: float) -> float:
        """At a segment start: when the next event is due (virtual time) if nothing changes."""
        m = self.meter
        end = m._virtual_at(self.next_collection)
        a = self.available
        rate = power_w / _WS_PER_KWH * self.price(m.tariff) if power_w > 0 else 0.0
        if rate > 0:
            below = [x for x in (*self.thresholds, 0.0) if x < a - EPS_KWH]
            if below:
                end = min(end, t + (a - max(below)) / rate)
        if self._disconnect_due():
            posix = m._meter_posix(t)
            until = self._friendly_until(posix)
            end = min(end, t if until is None else m._virtual_at(until))
        self.deadline = end
        return end

    def act(self, t: float) -> None:
        """At ``t`` (the deadline :meth:`observe` gave, or later): collect, raise alarms, disconnect."""
        self.deadline = math.inf
        posix = self.meter._meter_posix(t)
        while self.next_collection <= posix + 1e-6:
            self._collect(self.next_collection)
            self.next_collection += self.period_s
        self._evaluate(posix)

    def clock_set(self) -> None:
        """The meter's clock was set: collections go on from the next period boundary of the new time (none is
        charged for the hours a clock jumps over, none twice for the hours it goes back)."""
        self.next_collection = self._next_boundary(self.meter.meter_posix())
        self._changed()

    def _collect(self, posix: float) -> None:
        amount = self.standing_per_day * self.period_s / _DAY_S
        if amount <= 0:
            return
        self.balance -= amount
        self.charged_standing += amount
        self.last_collection_posix, self.last_collection_amount = posix, amount

    def _next_boundary(self, posix: float) -> float:
        return (math.floor(posix / self.period_s) + 1) * self.period_s

    def _disconnect_due(self) -> bool:
        return (self.available <= EPS_KWH and not self.credit_disconnect
                and not self.config.faults.no_disconnect_at_zero)

    def _evaluate(self, posix: float) -> None:
        """Alarms, disconnection and restoration as the available credit stands at the meter-clock ``posix``."""
        a = self.available
        level = sum(1 for x in self.thresholds if a <= x + EPS_KWH)
        for n in range(self.alarm_level, level):
            self._event(PaymentEvent.LOW_CREDIT_1 + n, posix)
        self.alarm_level = level
        if self._disconnect_due():
            if self._friendly_until(posix) is not None:
                if not self.friendly_hold:
                    self.friendly_hold = True
                    self._event(PaymentEvent.FRIENDLY_HOLD, posix)
            else:
                self.friendly_hold = False
                self.credit_disconnect = True
                self._event(PaymentEvent.OUT_OF_CREDIT, posix)
                self.meter.relay.local_disconnect()
        elif a > EPS_KWH:
            self.friendly_hold = False
            if self.credit_disconnect:
                self.credit_disconnect = False
                self._event(PaymentEvent.CREDIT_RESTORED, posix)
                if self.meter.relay.control_mode in (5, 6):
                    self.meter.relay.local_reconnect()
        self._changed()

    def _changed(self) -> None:
        self.deadline = math.inf  # the world asks again at the next segment start
        if self._on_change is not None:
            self._on_change()

    # -- friendly periods ---------------------------------------------------------------------------
    def _local(self, posix: float) -> dt.datetime:
        local: dt.datetime = self.meter.tou.local(dt.datetime.fromtimestamp(posix, dt.UTC))
        return local.replace(tzinfo=None)

    def _friendly(self, local: dt.datetime) -> bool:
        if local.isoweekday() in self.friendly_weekdays:
            return True
        h = local.hour + local.minute / 60.0 + (local.second + local.microsecond / 1e6) / 3600.0
        return any(start <= h < end for start, end in self.friendly_hours)

    def _friendly_until(self, posix: float) -> float | None:
        """The end (meter clock) of the friendly period ``posix`` lies in; None if it lies in none.
        Disconnects in friendly hours too with the fault ``disconnects_in_friendly_hours``."""
        if self.config.faults.disconnects_in_friendly_hours:
            return None
        p = posix
        for _ in range(16):  # a week of friendly days plus their hours at most
            local = self._local(p)
            if not self._friendly(local):
                return None if p == posix else p
            midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time())
            edges = [midnight] + [
                dt.datetime.combine(local.date(), dt.time()) + dt.timedelta(hours=end)
                for start, end in self.friendly_hours
                if start <= local.hour + local.minute / 60.0 + local.second / 3600.0 < end]
            if local.isoweekday() in self.friendly_weekdays:
                edges = [midnight]
            p += (min(e for e in edges if e > local) - local).total_seconds()
        return p

    # -- tokens ---------------------------------------------------------------------------------------
    def enter(self, text: str, method: str = "manual") -> Reason:
        """A token entered on the keypad (``manual``), through the optical port (``local``) or the DLMS token
        gateway (``remote``)."""
        posix = self.meter.meter_posix()
        record = self.decoder.enter(text, posix, method)
        self._event(PaymentEvent.TOKEN_ACCEPTED if record.reason.accepted else PaymentEvent.TOKEN_REFUSED, posix)
        self._evaluate(posix)
        return record.reason

    def _execute(self, token: Token) -> Reason:
        key = (token.token_class, token.subclass)
        if key == (0, 0):
            kwh = float(from_tenths(token["amount"]))
            if self.balance + kwh > self.max_credit + EPS_KWH:
                return Reason.OVERFLOW
            self.balance += kwh
            self.credited += kwh
            if self.ec_in_use and self.balance >= -EPS_KWH:
                self.ec_in_use = False  # paid back
            return Reason.ACCEPTED
        if key == (2, 0):
            lim = self.meter.relay.limiter
            watts = token["max_power"]
            lim.threshold_normal = NO_THRESHOLD if watts == 0 else min(round(watts / lim.resolution), NO_THRESHOLD)
            lim.changed()
        elif key == (2, 1):
            if token["register"] in (0, 0xFFFF):
                self.balance = 0.0
                self.ec_in_use = False
        elif key == (2, 5):
            self.tamper = False
        elif token.token_class == 2:
            self.stored[token.type.name] = next(v for k, v in token.fields.items() if k not in ("random", "tid"))
        return Reason.ACCEPTED

    def adjust(self, kwh: float) -> None:
        """A head end's remote change of the token credit (Credit update_amount / set_amount_to_value)."""
        self.balance += kwh
        self.credited += kwh
        if self.ec_in_use and self.balance >= -EPS_KWH:
            self.ec_in_use = False
        self._evaluate(self.meter.meter_posix())

    def set_prices(self, prices: dict[int, float]) -> None:
        """New unit prices (Charge activate_passive_unit_charge); tariff 1 must be among them."""
        if 1 not in prices:
            raise ValueError("the prices need tariff 1")
        self.prices = dict(prices)
        self._changed()

    def invoke_emergency(self) -> bool:
        """The customer (or a client) invokes emergency credit: possible once the available credit is below the
        emergency threshold and while none is in use."""
        if self.ec_limit <= 0 or self.ec_in_use or self.available >= self.ec_threshold:
            return False
        self.ec_in_use = True
        posix = self.meter.meter_posix()
        self._event(PaymentEvent.EMERGENCY_INVOKED, posix)
        self._evaluate(posix)
        return True

    def _event(self, code: int, posix: float) -> None:
        self.meter.events.record(code, posix=posix, logs=(STANDARD,))

    def truth(self) -> dict[str, Any]:
        s = self.snapshot()
        return {"balance_kwh": self.balance, "available_kwh": s.available, "emergency_in_use": s.emergency_in_use,
                "emergency_remaining_kwh": s.emergency_remaining, "amount_to_clear_kwh": s.amount_to_clear,
                "alarm_level": self.alarm_level, "credit_disconnect": self.credit_disconnect,
                "friendly_hold": self.friendly_hold, "credited_kwh": self.credited,
                "charged_consumption_kwh": self.charged_consumption, "charged_standing_kwh": self.charged_standing,
                "prices": {str(k): v for k, v in self.prices.items()}, "decoder": self.decoder.truth()}


def payment_deadline(meters: list[Any], state: Any, t: float) -> float:
    """Called by the world when a segment starts at ``t``: the earliest instant a payment account acts."""
    end = math.inf
    for m in meters:
        acc: PaymentAccount | None = m.payment
        if acc is None or not m.port_alive:  # electronics off: nothing is decided (collections catch up)
            continue
        end = min(end, acc.observe(t, m.power(state, m.temperature)))
    return end


def payment_act(meters: list[Any], t: float) -> None:
    for m in meters:
        acc: PaymentAccount | None = m.payment
        if acc is not None and acc.deadline <= t:
            acc.act(t)
