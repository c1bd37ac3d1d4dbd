"""What the prepayment kinds share: the meter's account and token gateway over DLMS (Blue Book payment metering:
Account IC 111, Credit IC 112, Charge IC 113, Token Gateway IC 115), the position's vending, and the meter clock
set to a chosen local time.

The account must be kept in energy (Account currency_unit 1, "consumption"): the kinds judge STS electricity
credit, in kWh. Amounts are scaled by the Account's currency_scale; prices by the Charge's charge_per_unit_scaling
and the commodity register's scaler (docs/prepayment.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from typing import Any

from hil.core import PointSpec
from hil.measure.meter_ports import dlms_port, resolve_load, set_clocks_back
from hil.standards import MeterRating, StandardsLibrary
from hil.vending import Vending
from instruments.drivers.errors import BenchFault
from instruments.sts import TokenError

ACCOUNT = "0.0.19.0.0.255"
EMERGENCY_CREDIT = "0.0.19.10.1.255"
CONSUMPTION_CHARGE = "0.0.19.20.0.255"
STANDING_CHARGE = "0.0.19.20.1.255"
TOKEN_GATEWAY = "0.0.19.40.0.255"
CLOCK = "0.0.1.0.0.255"
STANDARD_EVENT_LOG = "0.0.99.98.0.255"
DISCONNECT_CONTROL = "0.0.96.3.10.255"
#: token_status status_code (Blue Book IC 115): 3 token execution OK, 4 format, 5 authentication, 6 validation,
#: 7 execution failure (U: the values as one implementation numbers them; docs/prepayment.md)
STATUS_NAMES = {0: "format OK", 1: "authentication OK", 2: "validation OK", 3: "accepted", 4: "format failure",
                5: "authentication failure", 6: "validation failure", 7: "execution failure",
                8: "not yet processed"}
ACCEPTED = 3
#: Account currency_unit: 0 time, 1 consumption, 2 monetary
CONSUMPTION = 1


def said(good: str, bad: str) -> Callable[[bool], str]:
    """A measurement's wording: ``good`` when it passed, ``bad`` when not."""
    return lambda ok: good if ok else bad


def vending_of(bench: Any, position: int, account: Account | None = None) -> Vending:
    """The position's vending; with ``account``, its TIDs moved past the last token the meter took (a meter
    remembers the TIDs of earlier runs, which this run's vending did not issue)."""
    v: Vending | None = bench.meter(position).vending
    if v is None:
        raise BenchFault("sts", f"position {position}: the bench file gives no STS key data (positions[].sts)")
    if account is not None:
        v.seen(account.last_token())
    return v


def leave_in_credit(account: Account, vending: Vending, when: dt.datetime, kwh: float = 10.0) -> str:
    """Clear credit, then ``kwh``: the meter ends a test with credit and its debt cleared; '' or why not."""
    for token in (vending.clear_credit(when), vending.credit(kwh, when, random=15)):
        r = account.enter(token)
        if not r.accepted:
            return f"the meter could not be left with credit: a valid token was refused ({r.text()})"
    return ""


@dataclass
class Restore:
    """What a kind changed on each meter, to put back whatever happens: the clock, the control mode."""

    clocks: set[int]
    modes: dict[int, int]

    @classmethod
    def new(cls) -> Restore:
        return cls(set(), {})

    def back(self, bench: Any, broken: dict[int, str], *, with_credit: bool = False,
             failed: Container[int] = ()) -> None:
        """Clocks on the bench's reference time, control modes as they were, and ``with_credit`` every meter
        touched left with credit and no debt (clear credit, then a token); a failure makes the position broken
        (it is left in a state the next test cannot trust) — except a ``failed`` one, whose refusal of valid tokens
        is its failure already."""
        if with_credit:
            when = bench.clock.utc()
            for p in self.modes:
                try:
                    why = leave_in_credit(Account(bench, p), vending_of(bench, p), when)
                except (BenchFault, TokenError) as exc:
                    why = f"the meter could not be left with credit: {exc}"
                if why and p not in failed:
                    broken.setdefault(p, why)
        for p, why in clocks_back(bench, sorted(self.clocks)).items():
            broken.setdefault(p, why)
        for p, mode in self.modes.items():
            try:
                Account(bench, p).set_control_mode(mode)
            except BenchFault as exc:
                broken.setdefault(p, f"control mode not put back to {mode}: {exc}")


@dataclass(frozen=True)
class TokenResult:
    """What the token gateway says of the last token: status code, data_value bits, description."""

    status: int
    data_value: str
    description: str

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED

    def text(self) -> str:
        name = STATUS_NAMES.get(self.status, f"status {self.status}")
        return f"{name} ({self.description})" if self.description else name


class Account:
    """One meter's account and token gateway, read and driven over its DLMS port (management client)."""

    def __init__(self, bench: Any, position: int) -> None:
        self.port = dlms_port(bench, position)
        currency = self.port.get(111, ACCOUNT, 15).value
        name, scale, unit = (c.value for c in currency)
        if int(unit) != CONSUMPTION:
            raise BenchFault("account", f"position {position}: the account is kept in {name!r} (currency_unit "
                                        f"{unit}); the prepayment kinds judge energy credit (unit 1, consumption)")
        self.currency = str(name)
        self.scale = 10.0 ** int(scale)

    def _amount(self, class_id: int, ln: str, attribute: int) -> float:
        return float(self.port.get(class_id, ln, attribute).value) * self.scale

    def available_kwh(self) -> float:
        """Account available_credit."""
        return self._amount(111, ACCOUNT, 5)

    def charged_kwh(self) -> tuple[float, float]:
        """total_amount_paid of the consumption charge and of the standing charge."""
        return self._amount(113, CONSUMPTION_CHARGE, 2), self._amount(113, STANDING_CHARGE, 2)

    def enter(self, token: str) -> TokenResult:
        """Token Gateway enter, then its token_status and token_description."""
        from instruments.dlms.axdr import Data

        self.port.action(115, TOKEN_GATEWAY, 1, Data.octets(token.encode("ascii")))
        status = self.port.get(115, TOKEN_GATEWAY, 6).value
        code, bits = int(status[0].value), status[1].value
        desc = self.port.get(115, TOKEN_GATEWAY, 4).value
        words = list(dict.fromkeys(bytes(d.value).decode("utf-8", "replace") for d in desc))
        flags = "".join("1" if bits.bit(i) else "0" for i in range(bits.bits))
        return TokenResult(code, flags, "; ".join(words))

    def enter_counted(self, token: str) -> dict[str, Any]:
        """Enter ``token``; its status and the credit it gave: Δavailable + Δ(charges collected), so a charge
        falling due between the readings is not taken for the token's effect (Wh of credit)."""
        before, charged0 = self.available_kwh(), sum(self.charged_kwh())
        result = self.enter(token)
        after, charged1 = self.available_kwh(), sum(self.charged_kwh())
        return {"token": token, "status": result.status, "result": result.text(), "data_value": result.data_value,
                "credited_wh": round((after - before + charged1 - charged0) * 1000.0, 3)}

    def prices(self) -> dict[int, float]:
        """The price query: the consumption charge's active unit charge as credit per kWh, by tariff (index)."""
        uc = self.port.get(113, CONSUMPTION_CHARGE, 5).value
        scaling, commodity, table = uc
        commodity_scale, price_scale = (int(x.value) for x in scaling.value)
        ic, ln, attr = (c.value for c in commodity.value)
        per_kwh = _register_wh_per_unit(self.port, int(ic), bytes(ln), int(attr))
        out = {}
        for el in table.value:
            index, per_unit = el.value
            tariff = bytes(index.value)[0] if index.value else 0
            # charge = Δregister × 10^commodity_scale × charge_per_unit × 10^price_scale (in the currency)
            out[tariff] = int(per_unit.value) * 10.0 ** (commodity_scale + price_scale) * per_kwh
        return out

    def standing(self) -> tuple[float, float]:
        """(collection period s, credit per collection) of the time-based charge."""
        uc = self.port.get(113, STANDING_CHARGE, 5).value
        scaling, _, table = uc
        price_scale = int(scaling.value[1].value)
        per = sum(int(el.value[1].value) for el in table.value) * 10.0 ** price_scale
        return float(self.port.get(113, STANDING_CHARGE, 8).value), per

    def invoke_emergency(self) -> str:
        """Emergency credit invoke_credit; '' when accepted, else why not."""
        from instruments.dlms.axdr import Data

        try:
            self.port.action(112, EMERGENCY_CREDIT, 3, Data.enum(2))
        except BenchFault as exc:
            return str(exc)
        return ""

    def events(self, since: dt.datetime, until: dt.datetime) -> list[tuple[dt.datetime | None, int]]:
        """The standard event log's (time, code) entries in [since, until]."""
        rows = self.port.profile(STANDARD_EVENT_LOG, start=since, end=until)
        i_time = next((i for i, c in enumerate(rows.columns) if c[0] == 8), 0)
        i_code = next((i for i, c in enumerate(rows.columns) if c[0] != 8), 1)
        return [(r[i_time] if isinstance(r[i_time], dt.datetime) else None, int(r[i_code])) for r in rows.rows]

    def control_mode(self) -> int:
        return int(self.port.get(70, DISCONNECT_CONTROL, 4).value)

    def price(self, tariff: int) -> float:
        """The price query's price of ``tariff`` (a meter that shows none for it cannot be judged)."""
        prices = self.prices()
        if tariff not in prices:
            raise BenchFault("charge", f"the price query shows no price for tariff {tariff} (indexes "
                                       f"{sorted(prices)})")
        return prices[tariff]

    def last_token(self) -> str:
        """The digits of the last token the gateway accepted ('' before any, or when the last was refused)."""
        if int(self.port.get(115, TOKEN_GATEWAY, 6).value[0].value) != ACCEPTED:
            return ""
        return bytes(self.port.get(115, TOKEN_GATEWAY, 2).value).decode("ascii", "replace")

    def set_control_mode(self, mode: int) -> None:
        from instruments.dlms.axdr import Data

        self.port.set(70, DISCONNECT_CONTROL, 4, Data.enum(mode))

    def zone(self) -> dt.timezone:
        """The meter's local time zone now (its clock's deviation: UTC − local, minutes)."""
        zone = self.port.clock().tzinfo
        return zone if isinstance(zone, dt.timezone) else dt.UTC

    def set_clock_local(self, local: dt.datetime) -> None:
        """The meter's clock to ``local`` (naive: taken in the meter's own zone now)."""
        zone = self.zone()
        self.port.set_clock(local.replace(tzinfo=zone) if local.tzinfo is None else local)


def _register_wh_per_unit(port: Any, class_id: int, ln: bytes, attribute: int) -> float:
    """How many of the commodity register's (scaled) units make a kWh: 1000 for a Wh register with scaler 0."""
    from instruments.dlms.cosem import Obis, ScalerUnit, Unit

    if class_id != 3 or attribute != 2:
        raise BenchFault("charge", f"the consumption charge's commodity is IC {class_id} attribute {attribute}; "
                                   "the kinds read energy registers (IC 3 attribute 2)")
    su = ScalerUnit.from_data(port.get(3, Obis.from_bytes(ln), 3))
    if su.unit != Unit.WATT_HOUR:
        raise BenchFault("charge", f"the commodity register {Obis.from_bytes(ln)} counts {su.unit!r}, not Wh")
    return 1000.0 / 10.0 ** su.scaler


def at_local(bench_utc: dt.datetime, hhmm: str, weekday: int | None) -> dt.datetime:
    """A naive local date-time: the bench's date (or the next ``weekday``, 1 Monday … 7 Sunday) at ``hhmm``."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    day = bench_utc.date()
    if weekday is not None:
        day += dt.timedelta(days=(weekday - day.isoweekday()) % 7)
    return dt.datetime.combine(day, dt.time(hours, minutes))


def reference_share(bench: Any, rating: MeterRating) -> float:
    """The share of the reference's Σ energy and power one meter sees: its elements of the source's phases (the
    load is balanced; a single-phase meter on a three-phase bench sees one phase)."""
    phases = int(getattr(bench.source, "phases", rating.elements))
    return min(rating.elements / phases, 1.0)


def load_spec(kind: str, what: str, test_id: str, rating: MeterRating, library: StandardsLibrary, current: str,
              power_factor: str) -> tuple[PointSpec, float]:
    """The test load (the plan's current expression and PF) and the meter's class limit there (%)."""
    load = resolve_load(test_id, rating, library, current, power_factor, with_limit=True)
    spec = PointSpec(kind, f"{what} at {current} PF {load.pf}", rating.un_v, load.amps, load.pf.phi_deg,
                     str(load.pf), frequency_hz=rating.frequency_hz, limit_table="plan", limit_status="lab")
    return spec, load.row.limit_pct if load.row is not None else 0.0


def clocks_back(bench: Any, positions: Iterable[int]) -> dict[int, str]:
    """The meters' clocks back on the bench's reference time (why one could not be)."""
    return set_clocks_back(bench, positions, lambda port, utc: port.set_clock(utc))


