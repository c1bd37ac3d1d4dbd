"""The payment objects of a simulated payment meter (DLMS UA Blue Book 4.6, all version 0: Account IC 111
0.0.19.0.0.255, Credit IC 112 0.0.19.10.0.255 token / 0.0.19.10.1.255 emergency, Charge IC 113 0.0.19.20.0.255
consumption / 0.0.19.20.1.255 standing, Token Gateway IC 115 0.0.19.40.0.255), over TCP with MeterHIL's DlmsPort,
the IEC 62056-21 optical port and, as an independent client, Gurux (a subprocess checker).

Everything expected is worked out here by hand: the STS decoder key from the vending key and the meter's PAN
(IIN 600727 ‖ DRN = the serial's digits zero-padded to 11 ‖ Luhn digit, DKGA02), a credit token's value as
amount (tenths of a kWh) × 100 Wh of credit (Account currency {"kWh", −3, 1 consumption}), the consumption charge
as the registered energy (the bench's truth) × the unit price, the standing charge as 0.48 per day collected
hourly (0.02 = 20 Wh of credit per collection). Token gateway token_status codes (IC 115): 3 execution OK,
5 authentication failure, 6 validation failure, 8 not yet processed. Credit credit_status (IC 112): 0 enabled,
1 selectable, 2 selected/invoked, 3 in use, 4 consumed."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from instruments.dlms.apdu import DataAccessResult
from instruments.dlms.axdr import BitString, Data
from instruments.dlms.client import DataAccessError
from instruments.dlms.cosem import Obis
from instruments.drivers.dlms import DlmsFault, DlmsPort
from instruments.drivers.iec62056 import Iec62056Port
from instruments.drivers.registry import driver_entry
from instruments.drivers.transport import VisaTransport
from instruments.simulators.bench import RunningBench, SimulatedBench
from instruments.simulators.world.config import SimBenchConfig, load_sim_bench
from instruments.sts import Token, dkga02, encode_token
from tests.dlms.conftest import Port, advance, management, public
from tests.dlms_checkers.harness import require_checkers, run_client
from tests.helpers import truth

ACCOUNT = "0.0.19.0.0.255"
TOKEN_CREDIT = "0.0.19.10.0.255"
EMERGENCY_CREDIT = "0.0.19.10.1.255"
CONSUMPTION_CHARGE = "0.0.19.20.0.255"
STANDING_CHARGE = "0.0.19.20.1.255"
TOKEN_GATEWAY = "0.0.19.40.0.255"
PAYMENT_OBJECTS = {(111, ACCOUNT), (112, TOKEN_CREDIT), (112, EMERGENCY_CREDIT), (113, CONSUMPTION_CHARGE),
                   (113, STANDING_CHARGE), (115, TOKEN_GATEWAY)}

SERIAL = "MHS2600000001"  # position 1 of the default bench
VENDING_KEY, SGC, TI, KRN, KEY_TYPE = "abababababababab", "123456", 1, 1, 2
STS = {"vending_key": VENDING_KEY, "supply_group_code": SGC, "tariff_index": TI, "key_revision": KRN,
       "key_type": KEY_TYPE}
INITIAL_KWH = 20.0
PREPAYMENT = {"initial_credit_kwh": INITIAL_KWH, "unit_price": {1: 1.0, 2: 0.5}, "standing_charge_per_day": 0.48,
              "emergency_credit_kwh": 2.0, "emergency_threshold_kwh": 1.0, "sts": STS}
#: one standing-charge collection (0.48 per day, hourly): Wh of credit
STANDING_WH = 0.48 / 24 * 1000
P_5A = 3 * 230.0 * 5.0  # W at 5 A per phase, PF 1 (the default bench's meters err by ≲ 0.4 %)
#: Token gateway status codes, Credit status codes
EXECUTION_OK, AUTHENTICATION_FAILURE, VALIDATION_FAILURE, NOT_YET_PROCESSED = 3, 5, 6, 8
ENABLED, SELECTABLE, INVOKED, IN_USE = 0, 1, 2, 3


def luhn(payload: str) -> int:
    """The Luhn check digit of ``payload`` (every second digit from the right, starting with the last, doubled)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def decoder_key(serial: str = SERIAL) -> int:
    drn = "".join(ch for ch in serial if ch.isdigit()).rjust(11, "0")
    pan = "600727" + drn + str(luhn("600727" + drn))
    return dkga02(bytes.fromhex(VENDING_KEY), pan, SGC, TI, KRN, KEY_TYPE)


def credit_token(tid: int, tenths: int, random: int = 3) -> str:
    """An electricity credit token (class 0 subclass 0) of ``tenths`` of a kWh for position 1."""
    return encode_token(Token.of(0, 0, random=random, tid=tid, amount=tenths), decoder_key())


def mistyped(token: str) -> str:
    """``token`` with its last digit changed (still 20 digits below 2⁶⁶, so the format holds)."""
    out = token[:-1] + str((int(token[-1]) + 1) % 10)
    assert int(out) < 2**66
    return out


@pytest.fixture
def sim() -> Iterator[RunningBench]:
    """The default simulated bench (seed 1), its meter type a payment meter."""
    data = load_sim_bench(None).model_dump(exclude_unset=True)
    for mtype in data["meter_types"].values():
        mtype["prepayment"] = PREPAYMENT
    with RunningBench(SimulatedBench(SimBenchConfig.model_validate(data), seed=1)) as running:
        yield running


@pytest.fixture
def powered(energised: Any) -> Any:
    """Energised (5 A, one hour from 06:00), then one minute more: clear of the 07:00 standing-charge collection."""
    advance(energised, 60)
    return energised


def refused(call: Callable[[], object]) -> DataAccessResult:
    with pytest.raises(DlmsFault) as err:
        call()
    assert isinstance(err.value.cause, DataAccessError)
    return err.value.cause.result


def value(meter: DlmsPort, ic: int, ln: str, attr: int) -> Any:
    return meter.get(ic, ln, attr).value


def available(meter: DlmsPort) -> int:
    return int(value(meter, 111, ACCOUNT, 5))


def token_credit(meter: DlmsPort) -> int:
    return int(value(meter, 112, TOKEN_CREDIT, 2))


def enter(meter: DlmsPort, token: str) -> None:
    meter.action(115, TOKEN_GATEWAY, 1, Data.octets(token.encode("ascii")))


def token_status(meter: DlmsPort) -> tuple[int, BitString]:
    code, data = meter.get(115, TOKEN_GATEWAY, 6).items
    assert isinstance(data.value, BitString)
    return int(code.value), data.value


def energy(control: Any, position: int = 1) -> dict[str, float]:
    regs = truth(control)["meters"][str(position)]["registers"]
    return {k: float(regs[k]) for k in ("1.8.0", "1.8.1", "1.8.2")}


def listed(meter: DlmsPort) -> dict[tuple[int, str], tuple[int, dict[int, int]]]:
    """The payment objects of the association's object list: (class, LN) → (version, method access rights)."""
    out = {}
    for o in meter.get(15, "0.0.40.0.0.255", 2).items:
        key = (int(o[0].value), str(Obis(*bytes(o[2].value))))
        if key in PAYMENT_OBJECTS:
            _attrs, methods = o[3].items
            out[key] = (int(o[1].value), {int(m[0].value): int(m[1].value) for m in methods.items})
    return out


UnitCharge = tuple[tuple[int, int], tuple[int, bytes, int], list[tuple[bytes, int]]]


def unit_charge(meter: DlmsPort, attr: int = 5) -> UnitCharge:
    scaling, commodity, table = meter.get(113, CONSUMPTION_CHARGE, attr).items
    return ((int(scaling[0].value), int(scaling[1].value)),
            (int(commodity[0].value), bytes(commodity[1].value), int(commodity[2].value)),
            [(bytes(row[0].value), int(row[1].value)) for row in table.items])


def collections(before: dt.datetime, after: dt.datetime) -> int:
    """Hourly standing-charge collections between two readings of the meter's clock."""
    return math.floor(after.timestamp() / 3600) - math.floor(before.timestamp() / 3600)


def test_the_payment_objects_are_listed_and_the_public_client_only_reads(port: Port, powered: Any) -> None:
    manager, reader = management(port, 1), public(port, 1)
    for client in (manager, reader):
        objects = listed(client)
        assert set(objects) == PAYMENT_OBJECTS
        assert {version for version, _ in objects.values()} == {0}
    assert listed(reader)[(115, TOKEN_GATEWAY)][1] == {1: 0}  # enter: no access for the public client
    assert listed(manager)[(115, TOKEN_GATEWAY)][1][1] != 0
    # the price query: 1.0 and 0.5 kWh of credit per kWh at price_scale −3 → 1000 and 500; on 1.0.1.8.0 (Wh × 10⁻³)
    assert unit_charge(reader) == ((-3, -3), (3, bytes([1, 0, 1, 8, 0, 255]), 2), [(b"\x01", 1000), (b"\x02", 500)])
    assert unit_charge(reader) == unit_charge(manager)
    before = available(reader)
    assert refused(lambda: enter(reader, credit_token(5871715, 25))) is DataAccessResult.READ_WRITE_DENIED
    assert token_status(reader)[0] == NOT_YET_PROCESSED and available(reader) == before


def test_a_credit_token_through_the_token_gateway(port: Port, powered: Any) -> None:
    meter = management(port, 1)
    currency = meter.get(111, ACCOUNT, 15).items
    assert [c.value for c in currency] == ["kWh", -3, 1]
    assert token_status(meter)[0] == NOT_YET_PROCESSED
    credit0, token0 = available(meter), token_credit(meter)
    assert credit0 == token0  # no emergency credit in use: the available credit is the token credit
    tenths = 257  # 25.7 kWh
    token = credit_token(5871715, tenths)
    enter(meter, token)
    code, data = token_status(meter)
    assert code == EXECUTION_OK and not any(data.bit(i) for i in range(data.bits))
    assert available(meter) - credit0 == tenths * 100
    assert token_credit(meter) - token0 == tenths * 100
    assert bytes(value(meter, 115, TOKEN_GATEWAY, 2)) == token.encode("ascii")
    assert value(meter, 115, TOKEN_GATEWAY, 5) == 0  # token_delivery_method: via remote communications
    credit1 = available(meter)
    # the same token again: validation failure, the TID already used (data_value bit 5); nothing credited
    enter(meter, token)
    code, data = token_status(meter)
    assert code == VALIDATION_FAILURE and data.bit(5)
    assert [i for i in range(data.bits) if data.bit(i)] == [5]
    assert available(meter) == credit1
    # a later token with one digit mistyped: the CRC fails under this meter's key (authentication failure)
    enter(meter, mistyped(credit_token(5871716, 10)))
    assert token_status(meter)[0] == AUTHENTICATION_FAILURE
    assert available(meter) == credit1
    # that later token, typed correctly, is still good
    enter(meter, credit_token(5871716, 10))
    assert token_status(meter)[0] == EXECUTION_OK and available(meter) - credit1 == 1000


def test_a_new_unit_charge_changes_what_the_energy_costs(port: Port, powered: Any) -> None:
    meter = management(port, 1)
    new = [(b"\x01", 2000), (b"\x02", 250)]  # 2.0 and 0.25 kWh of credit per kWh
    meter.action(113, CONSUMPTION_CHARGE, 1,
                 Data.array(Data.structure([Data.octets(i), Data.int16(p)]) for i, p in new))
    assert unit_charge(meter, 6)[2] == new  # passive
    assert unit_charge(meter, 5)[2] == [(b"\x01", 1000), (b"\x02", 500)]  # not active yet
    meter.action(113, CONSUMPTION_CHARGE, 2, Data.int8(0))
    assert unit_charge(meter, 5)[2] == new
    assert unit_charge(public(port, 1), 5)[2] == new  # the price query shows it too
    e0, a0, c0 = energy(powered), available(meter), meter.clock()
    advance(powered, 600)
    e1, a1, c1 = energy(powered), available(meter), meter.clock()
    d = {k: e1[k] - e0[k] for k in e0}
    assert d["1.8.0"] == pytest.approx(P_5A * 600 / 3.6e6, rel=0.005)  # 0.575 kWh at 3450 W for 10 min
    expected_wh = (d["1.8.1"] * 2.0 + d["1.8.2"] * 0.25) * 1000 + STANDING_WH * collections(c0, c1)
    assert a0 - a1 == pytest.approx(expected_wh, abs=1.0)  # each amount rounded to 1 Wh of credit
    assert collections(c0, c1) == 0 and d["1.8.2"] == 0.0  # 07:01 … 07:11: tariff 1, no collection
    assert a0 - a1 == pytest.approx(0.575 * 2.0 * 1000, rel=0.005)  # twice the old price (1150 vs 575 Wh)
    # a table without tariff 1 is refused; the prices stay
    with pytest.raises(DlmsFault):
        meter.action(113, CONSUMPTION_CHARGE, 1, Data.array([Data.structure([Data.octets(b"\x02"), Data.int16(1)])]))
    assert unit_charge(meter, 5)[2] == new


def test_emergency_credit_is_invoked_only_below_its_threshold(port: Port, powered: Any) -> None:
    meter = management(port, 1)

    def ec_status() -> int:
        return int(value(meter, 112, EMERGENCY_CREDIT, 8))

    assert available(meter) > 1000 and ec_status() == ENABLED
    assert int(value(meter, 112, EMERGENCY_CREDIT, 2)) == 2000 and int(value(meter, 112, EMERGENCY_CREDIT, 3)) == 2

    def invoke() -> None:
        meter.action(112, EMERGENCY_CREDIT, 3, Data.uint8(INVOKED))

    assert refused(invoke) is DataAccessResult.TEMPORARY_FAILURE  # credit above the 1 kWh threshold
    assert ec_status() == ENABLED and int(value(meter, 111, ACCOUNT, 3)) == 0
    meter.action(112, TOKEN_CREDIT, 2, Data.int32(500))  # set_amount_to_value: 0.5 kWh left
    assert available(meter) == 500 and token_credit(meter) == 500
    assert ec_status() == SELECTABLE
    assert value(meter, 111, ACCOUNT, 4).bit(3)  # current_credit_status: next credit selectable
    invoke()
    assert ec_status() == INVOKED  # selected, the token credit still in use
    assert available(meter) == 500 + 2000 and int(value(meter, 112, EMERGENCY_CREDIT, 2)) == 2000
    assert int(value(meter, 111, ACCOUNT, 3)) == 1  # current_credit_in_use: the emergency credit
    assert value(meter, 111, ACCOUNT, 4).bit(5)  # selectable credit in use
    assert refused(invoke) is DataAccessResult.TEMPORARY_FAILURE  # already invoked
    # 15 min at 3450 W (0.8625 kWh at 1.0) use up the 0.5 kWh of token credit: the emergency credit is in use
    e0, c0 = energy(powered), meter.clock()
    advance(powered, 900)
    e1, c1 = energy(powered), meter.clock()
    used_wh = (e1["1.8.1"] - e0["1.8.1"]) * 1.0 * 1000 + (e1["1.8.2"] - e0["1.8.2"]) * 0.5 * 1000
    assert used_wh == pytest.approx(P_5A * 900 / 3600, rel=0.005)
    assert available(meter) == pytest.approx(2500 - used_wh - STANDING_WH * collections(c0, c1), abs=1.0)
    assert ec_status() == IN_USE and token_credit(meter) == 0


def optical(sim: RunningBench, position: int = 1) -> Iec62056Port:
    entry = driver_entry("iec62056-21")
    t = VisaTransport(f"meter{position}", f"TCPIP0::127.0.0.1::{sim.port(f'meter{position}')}::SOCKET",
                      timeout_s=5.0, read_termination=entry.read_termination,
                      write_termination=entry.write_termination)
    return Iec62056Port(t, address=SERIAL, password="00000000")


def kwh_text(text: str) -> float:
    number, unit = text.split("*")
    assert unit == "kWh"
    return float(number)


def test_a_token_on_the_optical_port(sim: RunningBench, port: Port, powered: Any) -> None:
    meter = management(port, 1)
    token = credit_token(5871720, 42)  # 4.2 kWh
    probe = optical(sim)
    try:
        with probe.programming() as session:
            assert session.read("19.40.0") == "none"
            before = kwh_text(session.read("19.0.0"))
            session.write("19.40.0", token)
            assert session.read("19.40.0") == "accepted"
            after = kwh_text(session.read("19.0.0"))
            session.write("19.40.0", token)  # the port takes the entry; the decoder refuses the replay
            assert session.read("19.40.0") == "used"
            assert kwh_text(session.read("19.0.0")) == after
    finally:
        probe.transport.close()
    assert after - before == pytest.approx(4.2, abs=0.0011)  # each reading truncated to whole Wh
    assert available(meter) == pytest.approx(after * 1000, abs=1.0)  # R1 truncates, DLMS rounds
    assert value(meter, 115, TOKEN_GATEWAY, 5) == 1  # token_delivery_method: via local communications
    assert token_status(meter)[0] == VALIDATION_FAILURE


def test_gurux_reads_the_payment_objects_as_we_do(sim: RunningBench, port: Port, powered: Any) -> None:
    require_checkers("gurux_payment.py")
    meter = management(port, 1)
    token = credit_token(5871730, 15)
    enter(meter, token)
    enter(meter, token)  # replayed: status 6, data_value bit 5
    reader = public(port, 1)
    our_mode = [int(v.value) for v in reader.get(111, ACCOUNT, 2).items]
    our_credit = available(reader)
    our_currency = [v.value for v in reader.get(111, ACCOUNT, 15).items]
    (cs, ps), (ic, ln, idx), table = unit_charge(reader)
    code, bits = token_status(reader)
    assert our_mode == [2, 2]  # prepayment mode, account active
    assert code == VALIDATION_FAILURE
    doc = run_client("gurux_payment.py", {"port": sim.port("meter1-dlms"), "client": 16})
    assert doc["exit"] == 0 and doc["associated"], doc
    results = {(r["ic"], r["obis"], r["attr"]): r for r in doc["results"]}
    assert len(results) == 5
    problems = {k: r.get("error") or r.get("parse_error") for k, r in results.items()
                if "error" in r or "parse_error" in r}
    assert not problems, problems
    mode = results[(111, ACCOUNT, 2)]
    assert mode["value"] == our_mode and mode["parsed"] == our_mode
    credit = results[(111, ACCOUNT, 5)]
    assert credit["type"] == "INT32" and credit["value"] == credit["parsed"] == our_credit
    currency = results[(111, ACCOUNT, 15)]
    assert currency["value"] == currency["parsed"] == ["kWh", -3, 1] == our_currency
    charge = results[(113, CONSUMPTION_CHARGE, 5)]
    assert charge["value"] == [[cs, ps], [ic, ln.hex(), idx], [[i.hex(), p] for i, p in table]]
    assert charge["parsed"] == {"scaling": [cs, ps], "commodity_index": idx,
                                "charge_table": [[i.hex(), p] for i, p in table]}
    status = results[(115, TOKEN_GATEWAY, 6)]
    wire_order = "".join("1" if bits.bit(i) else "0" for i in range(bits.bits))
    assert wire_order == "00000100"  # bit 0 first: only bit 5 (the TID already used)
    assert status["value"] == status["parsed"] == [code, wire_order]
