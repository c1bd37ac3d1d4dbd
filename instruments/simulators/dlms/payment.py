"""Payment metering objects of a simulated payment meter (DLMS UA Blue Book 4.6, all version 0) over the world's
account (:mod:`instruments.simulators.world.prepayment`): Account IC 111 0.0.19.0.0.255, Credit IC 112
0.0.19.10.0.255 (token credit) and 0.0.19.10.1.255 (emergency credit), Charge IC 113 0.0.19.20.0.255 (consumption,
per tariff) and 0.0.19.20.1.255 (standing charge, per period), Token Gateway IC 115 0.0.19.40.0.255. Attribute
and method lists, types and enumerations as docs/prepayment.md gives them with their status.

Amounts are double-long in the Account's currency: "kWh" of credit, currency_scale −3 (so 1 = 1 Wh of credit),
currency_unit 1 (consumption). Bit strings number bit 0 as the first bit on the wire. Every client reads (the
public client's price query); only the management client calls methods.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from instruments.dlms.apdu import DataAccessResult, Selection
from instruments.dlms.axdr import BitString, Data, Tag
from instruments.dlms.cosem import NOT_SPECIFIED, CosemDateTime, Obis
from instruments.simulators.dlms.objects import (
    INTEGER_TAGS,
    AccessError,
    Attribute,
    Caller,
    CosemObject,
    Method,
    no_data,
)
from instruments.simulators.world.prepayment import DELIVERY, EPS_KWH, PaymentAccount
from instruments.simulators.world.sts_decoder import TokenRecord, TokenStatus

if TYPE_CHECKING:
    from instruments.simulators.dlms.meter import MeterCosem

ACCOUNT = Obis(0, 0, 19, 0, 0, 255)
TOKEN_CREDIT = Obis(0, 0, 19, 10, 0, 255)
EMERGENCY_CREDIT = Obis(0, 0, 19, 10, 1, 255)
CONSUMPTION_CHARGE = Obis(0, 0, 19, 20, 0, 255)
STANDING_CHARGE = Obis(0, 0, 19, 20, 1, 255)
TOKEN_GATEWAY = Obis(0, 0, 19, 40, 0, 255)
ENERGY_IMPORT = Obis(1, 0, 1, 8, 0, 255)
#: the Account's currency: name, scale (amounts count 10⁻³ kWh), unit 1 = consumption
CURRENCY_NAME, CURRENCY_SCALE, CURRENCY_CONSUMPTION = "kWh", -3, 1
#: Charge price_scale of the consumption charge: charge_per_unit counts 10⁻³ kWh of credit per kWh
PRICE_SCALE = -3
#: commodity_scale: the commodity register (1.0.1.8.0, Wh) × 10⁻³ = kWh
COMMODITY_SCALE = -3
_INT32 = (-(2**31), 2**31 - 1)


def amount(kwh: float) -> Data:
    """An amount of credit as double-long in currency units (Wh of credit), rounded, clipped to 32 bits."""
    raw = math.floor(kwh * 1000.0 + 0.5)
    return Data.int32(max(_INT32[0], min(raw, _INT32[1])))


def _signed(v: Data | None, what: str) -> int:
    if v is None or v.tag not in INTEGER_TAGS:
        got = "nothing" if v is None else v.tag.name.lower()
        raise AccessError(DataAccessResult.TYPE_UNMATCHED, f"{what} is an integer (double-long), got {got}")
    return int(v.value)


def _bits(*flags: bool) -> Data:
    return Data(Tag.BIT_STRING, BitString.from_bits(flags))


def objects(cosem: MeterCosem) -> list[CosemObject]:
    """The payment objects of ``cosem``'s meter (none for a credit meter)."""
    acc: PaymentAccount | None = getattr(cosem.meter, "payment", None)
    if acc is None:
        return []
    when = _stamp(cosem)
    return [account(acc, when), token_credit(acc), emergency_credit(acc), consumption_charge(acc),
            standing_charge(acc, when), token_gateway(acc, when)]


def _stamp(cosem: MeterCosem) -> Callable[[float | None], Data]:
    def stamp(posix: float | None) -> Data:
        if posix is None:
            return NOT_SPECIFIED.to_data()
        return CosemDateTime.from_datetime(cosem.local(dt.datetime.fromtimestamp(posix, dt.UTC))).to_data()
    return stamp


def _ro(fn: Callable[[], Data]) -> Attribute:
    return Attribute(get=lambda _c, _s: fn())


def account(acc: PaymentAccount, stamp: Callable[[float | None], Data]) -> CosemObject:
    """Account IC 111: prepayment mode, active; the credit and charge lists; available credit and debt."""
    status = {"value": 2}  # account_status: 1 new, 2 active, 3 closed
    times: dict[str, float | None] = {"activated": None, "closed": None}

    def credit_status() -> Data:
        s = acc.snapshot()
        ec_selectable = acc.ec_limit > 0 and not s.emergency_in_use and s.available < acc.ec_threshold
        # bit 0 in credit, 1 low credit, 2 next credit enabled, 3 next credit selectable, 4 credit reference
        # list, 5 selectable credit in use, 6 out of credit, 7 reserved (Blue Book 4.6.2; U: bit order)
        return _bits(not s.out_of_credit, s.low_credit, acc.ec_limit > 0 and not s.emergency_in_use, ec_selectable,
                     False, s.emergency_in_use, s.out_of_credit, False)

    def credit_charge() -> Data:
        # collection_configuration: bit 0 collect when disconnected, 1 in load-limiting periods, 2 in friendly
        # periods — the standing charge is collected in all three; the consumption charge wherever energy flows
        rows = [(TOKEN_CREDIT, CONSUMPTION_CHARGE, (True, True, True)),
                (TOKEN_CREDIT, STANDING_CHARGE, (True, True, True))]
        return Data.array(Data.structure([Data.octets(bytes(c)), Data.octets(bytes(ch)), _bits(*flags)])
                          for c, ch, flags in rows)

    def method(new_status: int, key: str) -> Callable[[Caller, Data | None], None]:
        def call(_c: Caller, v: Data | None) -> None:
            no_data(v, "the account methods")
            status["value"] = new_status
            times[key] = acc.meter.meter_posix()
        return call

    def reset(_c: Caller, v: Data | None) -> None:
        method(1, "activated")(_c, v)
        times["activated"] = times["closed"] = None

    return CosemObject(111, 0, ACCOUNT, {
        2: _ro(lambda: Data.structure([Data.enum(2), Data.enum(status["value"])])),  # 2 prepayment mode
        3: _ro(lambda: Data.uint8(1 if acc.ec_in_use else 0)),  # the credit in use: 0 token, 1 emergency
        4: _ro(credit_status),
        5: _ro(lambda: amount(acc.available)),
        6: _ro(lambda: amount(acc.snapshot().amount_to_clear)),
        7: _ro(lambda: amount(0.0)),
        8: _ro(lambda: amount(acc.snapshot().amount_to_clear)),
        9: _ro(lambda: Data.array([Data.octets(bytes(TOKEN_CREDIT)), Data.octets(bytes(EMERGENCY_CREDIT))])),
        10: _ro(lambda: Data.array([Data.octets(bytes(CONSUMPTION_CHARGE)), Data.octets(bytes(STANDING_CHARGE))])),
        11: _ro(credit_charge),
        12: _ro(lambda: Data.array([Data.structure([Data.octets(bytes(TOKEN_CREDIT)), Data.uint8(100)])])),
        13: _ro(lambda: stamp(times["activated"])),
        14: _ro(lambda: stamp(times["closed"])),
        15: _ro(lambda: Data.structure([Data(Tag.UTF8_STRING, CURRENCY_NAME), Data.int8(CURRENCY_SCALE),
                                        Data.enum(CURRENCY_CONSUMPTION)])),
        16: _ro(lambda: amount(acc.thresholds[0] if acc.thresholds else 0.0)),
        17: _ro(lambda: amount(acc.ec_threshold) if acc.ec_limit > 0 else Data.int32(_INT32[0])),
        18: _ro(lambda: Data.uint16(0)),
        19: _ro(lambda: Data.int32(0)),
    }, {1: Method(method(2, "activated")), 2: Method(method(3, "closed")), 3: Method(reset)})


def _credit_methods(acc: PaymentAccount) -> dict[int, Method]:
    """update_amount (add) and set_amount_to_value on the token credit: a head end's remote top-up or correction."""
    def update(_c: Caller, v: Data | None) -> None:
        acc.adjust(_signed(v, "update_amount") / 1000.0)

    def set_value(_c: Caller, v: Data | None) -> None:
        acc.adjust(_signed(v, "set_amount_to_value") / 1000.0 - acc.balance)

    return {1: Method(update), 2: Method(set_value)}


def token_credit(acc: PaymentAccount) -> CosemObject:
    """Credit IC 112, credit_type 0 (token credit)."""
    def status() -> int:
        return 3 if acc.balance > EPS_KWH else 4  # in use / consumed

    return CosemObject(112, 0, TOKEN_CREDIT, {
        2: _ro(lambda: amount(max(acc.balance, 0.0))),
        3: _ro(lambda: Data.enum(0)),
        4: _ro(lambda: Data.uint8(1)),
        5: _ro(lambda: amount(acc.thresholds[-1] if acc.thresholds else 0.0)),
        6: _ro(lambda: amount(0.0)),
        # bit 0 visual indication, 1 confirmation, 2 paid back, 3 resettable, 4 receives tokens
        7: _ro(lambda: _bits(True, False, False, False, True)),
        8: _ro(lambda: Data.enum(status())),
        9: _ro(lambda: amount(0.0)),
        10: _ro(lambda: amount(0.0)),
        11: _ro(lambda: NOT_SPECIFIED.to_data()),
    }, _credit_methods(acc))


def emergency_credit(acc: PaymentAccount) -> CosemObject:
    """Credit IC 112, credit_type 2 (emergency credit): selectable below its threshold, invoked by invoke_credit,
    paid back by the next token."""
    def status() -> int:
        s = acc.snapshot()
        if s.emergency_in_use:
            if s.emergency_remaining <= EPS_KWH:
                return 4  # consumed
            return 3 if acc.balance <= EPS_KWH else 2  # in use once the token credit is gone; selected/invoked
        return 1 if acc.ec_limit > 0 and s.available < acc.ec_threshold else 0  # selectable / enabled

    def invoke(_c: Caller, v: Data | None) -> None:
        if v is not None and v.tag not in (*INTEGER_TAGS, Tag.ENUM):
            raise AccessError(DataAccessResult.TYPE_UNMATCHED, "invoke_credit takes an enum or unsigned")
        if not acc.invoke_emergency():
            raise AccessError(DataAccessResult.TEMPORARY_FAILURE, "emergency credit is not selectable now: the "
                              "credit is above its threshold, none is configured or it is in use")

    return CosemObject(112, 0, EMERGENCY_CREDIT, {
        2: _ro(lambda: amount(acc.snapshot().emergency_remaining)),
        3: _ro(lambda: Data.enum(2)),
        4: _ro(lambda: Data.uint8(2)),
        5: _ro(lambda: amount(0.0)),
        6: _ro(lambda: amount(acc.ec_limit)),
        7: _ro(lambda: _bits(True, True, True, False, False)),
        8: _ro(lambda: Data.enum(status())),
        9: _ro(lambda: amount(acc.ec_limit)),
        10: _ro(lambda: amount(acc.ec_threshold)),
        11: _ro(lambda: NOT_SPECIFIED.to_data()),
    }, {3: Method(invoke)})


def _unit_charge(scale: tuple[int, int], commodity: tuple[int, Obis, int], table: dict[int, int]) -> Data:
    """unit_charge: {charge_per_unit_scaling {commodity_scale, price_scale}, commodity {class, LN, attribute},
    charge_table [{index, charge_per_unit}]}."""
    ic, ln, attr = commodity
    return Data.structure([
        Data.structure([Data.int8(scale[0]), Data.int8(scale[1])]),
        Data.structure([Data.uint16(ic), Data.octets(bytes(ln)), Data.int8(attr)]),
        Data.array(Data.structure([Data.octets(bytes([k])), Data.int16(v)]) for k, v in sorted(table.items())),
    ])


def _price_table(acc: PaymentAccount) -> dict[int, int]:
    return {t: round(p * 10 ** -PRICE_SCALE) for t, p in acc.prices.items()}


def consumption_charge(acc: PaymentAccount) -> CosemObject:
    """Charge IC 113, charge_type 0 (consumption based) on 1.0.1.8.0: the price per tariff (index = the tariff
    number, one octet). update_unit_charge writes the passive table, activate_passive_unit_charge makes it the
    prices the meter charges."""
    passive: dict[str, dict[int, int]] = {"table": _price_table(acc)}
    commodity = (3, ENERGY_IMPORT, 2)

    def update(_c: Caller, v: Data | None) -> None:
        if v is None or v.tag is not Tag.ARRAY:
            raise AccessError(DataAccessResult.TYPE_UNMATCHED, "update_unit_charge takes an array of charge_table "
                              "elements {index octet-string, charge_per_unit long}")
        table: dict[int, int] = {}
        for el in v.items:
            if el.tag is not Tag.STRUCTURE or len(el.items) != 2 or el.items[0].tag is not Tag.OCTET_STRING:
                raise AccessError(DataAccessResult.TYPE_UNMATCHED, "a charge_table element is {index octet-string,"
                                  " charge_per_unit long}")
            index, per_unit = bytes(el.items[0].value), _signed(el.items[1], "charge_per_unit")
            if len(index) != 1 or not 1 <= index[0] <= 8 or per_unit < 0:
                raise AccessError(DataAccessResult.OTHER_REASON, "index is one octet, the tariff 1 … 8; "
                                  "charge_per_unit ≥ 0")
            table[index[0]] = per_unit
        if 1 not in table:
            raise AccessError(DataAccessResult.OTHER_REASON, "the charge table needs tariff 1")
        passive["table"] = table

    def activate(_c: Caller, _v: Data | None) -> None:
        acc.set_prices({t: v * 10.0 ** PRICE_SCALE for t, v in passive["table"].items()})

    return CosemObject(113, 0, CONSUMPTION_CHARGE, {
        2: _ro(lambda: amount(acc.charged_consumption)),
        3: _ro(lambda: Data.enum(0)),
        4: _ro(lambda: Data.uint8(1)),
        5: _ro(lambda: _unit_charge((COMMODITY_SCALE, PRICE_SCALE), commodity, _price_table(acc))),
        6: _ro(lambda: _unit_charge((COMMODITY_SCALE, PRICE_SCALE), commodity, passive["table"])),
        7: _ro(lambda: NOT_SPECIFIED.to_data()),
        8: _ro(lambda: Data.uint32(0)),
        9: _ro(lambda: _bits(False, True)),  # bit 1: continuous collection
        10: _ro(lambda: NOT_SPECIFIED.to_data()),
        11: _ro(lambda: amount(0.0)),
        12: _ro(lambda: amount(0.0)),
        13: _ro(lambda: Data.uint16(0)),
    }, {1: Method(update), 2: Method(activate)})


def _per_period(acc: PaymentAccount) -> tuple[int, int]:
    """(price_scale, charge_per_unit) of one collection: the finest scale whose value fits a long."""
    value = acc.standing_per_day * acc.period_s / 86400.0
    for scale in range(-6, 1):
        raw = round(value * 10 ** -scale)
        if raw <= 32767:
            return scale, raw
    return 0, 32767


def standing_charge(acc: PaymentAccount, stamp: Callable[[float | None], Data]) -> CosemObject:
    """Charge IC 113, charge_type 1 (time based): one charge per ``period`` seconds of the meter's clock."""
    def unit() -> Data:
        scale, raw = _per_period(acc)
        return _unit_charge((0, scale), (0, Obis(0, 0, 0, 0, 0, 0), 0), {0: raw})

    return CosemObject(113, 0, STANDING_CHARGE, {
        2: _ro(lambda: amount(acc.charged_standing)),
        3: _ro(lambda: Data.enum(1)),
        4: _ro(lambda: Data.uint8(2)),
        5: _ro(unit),
        6: _ro(unit),
        7: _ro(lambda: NOT_SPECIFIED.to_data()),
        8: _ro(lambda: Data.uint32(acc.period_s)),
        9: _ro(lambda: _bits(False, False)),
        10: _ro(lambda: stamp(acc.last_collection_posix)),
        11: _ro(lambda: amount(acc.last_collection_amount)),
        12: _ro(lambda: amount(0.0)),
        13: _ro(lambda: Data.uint16(0)),
    })


def parse_token_octets(v: Data | None) -> str:
    """The token of Token Gateway enter: its 20 digits as ASCII (spaces and '-' allowed), or the 66-bit token
    number as 9 octets, most significant first (U: the Blue Book leaves the coding to the token standard)."""
    if v is None or v.tag not in (Tag.OCTET_STRING, Tag.VISIBLE_STRING, Tag.UTF8_STRING):
        raise AccessError(DataAccessResult.TYPE_UNMATCHED, "enter takes the token as an octet-string")
    raw = v.value.encode("ascii", "replace") if isinstance(v.value, str) else bytes(v.value)
    if len(raw) == 9:
        return f"{int.from_bytes(raw, 'big'):020d}"
    return raw.decode("ascii", "replace")


def token_gateway(acc: PaymentAccount, stamp: Callable[[float | None], Data]) -> CosemObject:
    """Token Gateway IC 115: enter (method 1) hands the token to the decoder; token, token_time,
    token_description (the result in words), token_delivery_method and token_status {status_code, data_value}
    describe the last token, whichever way it came (before any: empty, not specified, 8 not yet processed)."""
    def of_last(fn: Callable[[TokenRecord], Data], empty: Data) -> Attribute:
        def get(_c: Caller, _s: Selection | None) -> Data:
            r = acc.decoder.last
            return empty if r is None else fn(r)
        return Attribute(get=get)

    def status(r: TokenRecord) -> Data:
        # data_value: the bit of the check that failed (Reason.bit; none when accepted)
        return Data.structure([Data.enum(int(r.reason.status)), _bits(*(b == r.reason.bit > 0 for b in range(8)))])

    def enter(_c: Caller, v: Data | None) -> None:
        acc.enter(parse_token_octets(v), "remote")

    return CosemObject(115, 0, TOKEN_GATEWAY, {
        2: of_last(lambda r: Data.octets(r.text.encode("ascii", "replace")), Data.octets(b"")),
        3: of_last(lambda r: stamp(r.posix), NOT_SPECIFIED.to_data()),
        4: of_last(lambda r: Data.array([Data.octets(r.reason.name.lower().encode()),
                                         Data.octets(r.reason.text.encode())]), Data.array([])),
        5: of_last(lambda r: Data.enum(DELIVERY[r.method]), Data.enum(0)),
        6: of_last(status, Data.structure([Data.enum(int(TokenStatus.NOT_YET_PROCESSED)), _bits(*([False] * 8))])),
    }, {1: Method(enter)})
