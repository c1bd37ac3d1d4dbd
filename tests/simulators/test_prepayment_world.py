"""A payment meter in the physics world (instruments.simulators.world.prepayment and sts_decoder): the account in kWh
of credit deducted by the registered energy and a standing charge, low-credit alarms, the supply control switch at
zero credit, friendly periods, emergency credit, and the STS decoder's token acceptance and key change.

Perfect 3P4W meters on an ideal source: 230 V / 5 A per phase at PF 1 register exactly 3450 W, so every expected
value is written out by hand: energy = P·t, credit drop = energy × unit price, the instant a threshold is reached =
(credit − threshold) / (P × price), standing charge = N × per_day × period / 86400, token credit = amount / 10 kWh.
Tokens are made with the STS codec (instruments.sts), which is not under test here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from instruments.simulators.world.prepayment import PaymentEvent
from instruments.simulators.world.relay import ControlState
from instruments.simulators.world.sts_decoder import Reason
from instruments.simulators.world.world import World
from instruments.sts import Token, datetime_from_tid, dkga02, encode_token, key_change

KWH = 3.6e6  # W·s
P_5A = 3 * 230.0 * 5.0  # 3450 W
E_PER_S = P_5A / KWH  # kWh registered per second at 5 A
HOUR = 3600.0
#: a Monday (isoweekday 1), 08:00 of the meter's clock (UTC, time zone 0): tariff 1 (06:00 … 22:00)
EPOCH = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
VENDING_KEY = bytes.fromhex("abababababababab")  # StsDecoderConfig's default
PAYMENT_CODES = {int(c) for c in PaymentEvent}
C, R = ControlState.CONNECTED, ControlState.READY_FOR_RECONNECTION
MS = 1e-3


def _world(worlds: Any, *, positions: int = 1, epoch: str | None = None, seed: int | None = None,
           behaviour: dict[str, Any] | None = None, **prepayment: Any) -> World:
    top: dict[str, Any] = {"epoch": epoch} if epoch is not None else {}
    data = worlds.data(positions=positions, behaviour=behaviour, meter={"prepayment": prepayment}, **top)
    w: World = worlds.world(data, seed=seed)
    return w


def _account(w: World, position: int = 1) -> Any:
    acc = w.meters[position].payment
    assert acc is not None
    return acc


def _credit(key: int, tenths: int, tid: int, subclass: int = 0) -> str:
    """An STS credit token (class 0) of ``tenths`` × 0.1 units."""
    return encode_token(Token.of(0, subclass, random=tid & 0xF, tid=tid, amount=tenths), key)


def _payment_events(w: World, position: int = 1) -> list[tuple[int, float]]:
    """(code, seconds since the epoch on the meter's clock) of the payment events in the standard event log."""
    t0 = EPOCH.timestamp()
    return [(e.code, e.posix - t0) for e in w.meters[position].events.logs["standard"] if e.code in PAYMENT_CODES]


def _at(events: list[tuple[int, float]], code: int) -> list[float]:
    return [s for c, s in events if c == code]


def _luhn(digits: str) -> int:
    """The Luhn check digit of ``digits`` (every second digit from the right doubled)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def _pan(serial_digits: str) -> str:
    drn = serial_digits.rjust(11, "0")  # IIN 600727 takes an 11-digit DRN
    return "600727" + drn + str(_luhn("600727" + drn))


# -- 1. consumption charge --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("epoch", "tariff", "price"), [
    ("2026-03-02T08:00:00Z", 1, 0.8),  # 08:00 … 09:00: tariff 1
    ("2026-03-02T23:00:00Z", 2, 0.3),  # 23:00 … 24:00: tariff 2
    ("2026-03-02T03:00:00Z", 2, 0.3),  # 03:00 … 04:00: tariff 2 before the morning switch
])
def test_credit_drops_by_the_registered_energy_times_the_tariffs_price(worlds: Any, epoch: str, tariff: int,
                                                                      price: float) -> None:
    w = _world(worlds, epoch=epoch, initial_credit_kwh=100.0, unit_price={1: 0.8, 2: 0.3})
    m, acc = w.meters[1], _account(w)
    worlds.energise(w, 5.0)
    w.advance(HOUR)
    energy = P_5A * HOUR / KWH  # 3.45 kWh
    assert m.tariff == tariff
    assert m.registers[f"1.8.{tariff}"] == pytest.approx(energy, rel=1e-12)
    assert acc.balance == pytest.approx(100.0 - energy * price, rel=1e-12)
    assert m.relay.contacts_closed


def test_credit_across_the_tariff_switch_pays_each_windows_price(worlds: Any) -> None:
    w = _world(worlds, epoch="2026-03-02T21:30:00Z", initial_credit_kwh=100.0, unit_price={1: 0.8, 2: 0.3})
    m, acc = w.meters[1], _account(w)
    worlds.energise(w, 5.0)
    w.advance(HOUR)  # 21:30 … 22:00 in tariff 1, 22:00 … 22:30 in tariff 2
    half = P_5A * 1800.0 / KWH
    assert m.registers["1.8.1"] == pytest.approx(half, rel=1e-12)
    assert m.registers["1.8.2"] == pytest.approx(half, rel=1e-12)
    assert acc.balance == pytest.approx(100.0 - half * 0.8 - half * 0.3, rel=1e-12)
    assert acc.truth()["charged_consumption_kwh"] == pytest.approx(half * 1.1, rel=1e-12)


def test_fault_price_ignores_tariff_charges_tariff_1s_price_in_tariff_2(worlds: Any) -> None:
    w = _world(worlds, epoch="2026-03-02T23:00:00Z", initial_credit_kwh=100.0, unit_price={1: 0.8, 2: 0.3},
               faults={"price_ignores_tariff": True})
    m, acc = w.meters[1], _account(w)
    worlds.energise(w, 5.0)
    w.advance(HOUR)
    energy = P_5A * HOUR / KWH
    assert m.tariff == 2 and m.registers["1.8.2"] == pytest.approx(energy, rel=1e-12)
    assert acc.balance == pytest.approx(100.0 - energy * 0.8, rel=1e-12)  # not 100 − energy × 0.3


# -- 2. standing charge -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("amps", [0.0, 5.0])
def test_standing_charge_is_collected_at_each_whole_period_of_the_meter_clock(worlds: Any, amps: float) -> None:
    # the clock starts at 08:20: collections fall at 09:00, 10:00, 11:00 … (whole hours of the meter's clock)
    w = _world(worlds, epoch="2026-03-02T08:20:00Z", initial_credit_kwh=50.0, standing_charge_per_day=2.4,
               collection_period_s=3600)
    acc = _account(w)
    worlds.energise(w, amps)
    per = 2.4 * 3600 / 86400  # 0.1 kWh of credit per collection
    w.advance(2399.0)  # 08:59:59
    assert acc.charged_standing == 0.0
    w.advance(1.0)  # 09:00
    assert acc.charged_standing == pytest.approx(per, rel=1e-12)
    w.advance(7199.0)  # 10:59:59: 09:00 and 10:00
    assert acc.charged_standing == pytest.approx(2 * per, rel=1e-12)
    w.advance(1.0)  # 11:00
    assert acc.charged_standing == pytest.approx(3 * per, rel=1e-12)
    consumed = P_5A * 9600.0 / KWH if amps else 0.0
    assert acc.balance == pytest.approx(50.0 - consumed - 3 * per, rel=1e-12)


@pytest.mark.parametrize(("period", "per_day", "hours"), [(900, 1.0, 4), (86400, 3.0, 48), (60, 0.5, 1)])
def test_standing_charge_after_n_periods_without_load(worlds: Any, period: int, per_day: float, hours: int) -> None:
    w = _world(worlds, initial_credit_kwh=50.0, standing_charge_per_day=per_day, collection_period_s=period)
    acc = _account(w)
    worlds.energise(w, 0.0)  # voltage only: the meter runs, nothing is registered
    w.advance(hours * HOUR)
    # the clock starts at 08:00: the boundaries in (08:00, 08:00 + hours] of the meter's clock
    start = int(EPOCH.timestamp())
    n = (start + hours * 3600) // period - start // period
    assert w.meters[1].registers["1.8.0"] == 0.0
    assert acc.balance == pytest.approx(50.0 - n * per_day * period / 86400.0, rel=1e-12)
    assert acc.truth()["charged_standing_kwh"] == pytest.approx(n * per_day * period / 86400.0, rel=1e-12)


def test_a_standing_charge_alone_runs_the_credit_out_at_a_collection(worlds: Any) -> None:
    # 0.25 kWh, 0.1 kWh per hourly collection: 0.15 at 09:00, 0.05 at 10:00, −0.05 at 11:00 → disconnected then
    w = _world(worlds, initial_credit_kwh=0.25, standing_charge_per_day=2.4, collection_period_s=3600)
    m, acc = w.meters[1], _account(w)
    worlds.energise(w, 0.0)
    w.advance(3 * HOUR - 1.0)
    assert m.relay.contacts_closed and acc.balance == pytest.approx(0.05, rel=1e-9)
    w.advance(2.0)
    # the alarms the factory credit was already under are standing: not logged again
    ev = _payment_events(w)
    assert [c for c, _ in ev] == [235] and _at(ev, 235)[0] == pytest.approx(3 * HOUR, abs=MS)
    assert not m.relay.contacts_closed and acc.balance == pytest.approx(-0.05, rel=1e-9)


def test_collections_missed_while_the_meter_was_off_are_caught_up_at_power_up(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=10.0, standing_charge_per_day=2.4, collection_period_s=3600)
    acc = _account(w)
    worlds.energise(w, 0.0)
    w.advance(1800.0)  # 08:30
    w.source.set_output(False)
    w.advance(3 * HOUR)  # 11:30: 09:00, 10:00 and 11:00 fell while the meter was off
    w.source.set_output(True)
    w.advance(1.0)
    assert acc.charged_standing == pytest.approx(3 * 0.1, rel=1e-9)
    assert acc.balance == pytest.approx(10.0 - 0.3, rel=1e-9)


# -- 3. low-credit alarms and the disconnection at zero ---------------------------------------------------------
def test_low_credit_alarms_and_the_disconnection_fall_on_the_hand_computed_instants(worlds: Any) -> None:
    credit, price = 10.0, 0.8
    w = _world(worlds, initial_credit_kwh=credit, unit_price={1: price, 2: 0.4}, low_credit_thresholds_kwh=[1.0, 5.0])
    m, acc = w.meters[1], _account(w)
    rate = E_PER_S * price  # kWh of credit per second
    t_231, t_232, t_235 = (credit - 5.0) / rate, (credit - 1.0) / rate, credit / rate  # 6521.7, 11739.1, 13043.5 s
    worlds.energise(w, 5.0)
    w.advance(t_235 - 0.5)
    ev = _payment_events(w)
    assert [c for c, _ in ev] == [231, 232]
    assert _at(ev, 231)[0] == pytest.approx(t_231, abs=MS)
    assert _at(ev, 232)[0] == pytest.approx(t_232, abs=MS)
    assert m.relay.contacts_closed and m.relay.control_state is C and acc.alarm_level == 2
    w.advance(1.0)
    ev = _payment_events(w)
    assert [c for c, _ in ev] == [231, 232, 235]
    assert _at(ev, 235)[0] == pytest.approx(t_235, abs=MS)
    assert not m.relay.contacts_closed and m.relay.control_state is R
    assert acc.credit_disconnect and acc.balance == pytest.approx(0.0, abs=1e-9)
    assert acc.snapshot().out_of_credit
    registered = credit / price  # 12.5 kWh: what the credit paid for
    assert m.registers["1.8.0"] == pytest.approx(registered, rel=1e-9)
    w.advance(2 * HOUR)  # open: nothing registered, nothing charged
    assert m.registers["1.8.0"] == pytest.approx(registered, rel=1e-9)
    assert acc.balance == pytest.approx(0.0, abs=1e-9)
    assert [c for c, _ in _payment_events(w)] == [231, 232, 235]


def test_the_alarms_do_not_cost_a_segment_per_second(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=10.0)
    worlds.energise(w, 5.0)
    before = w.segments
    w.advance(6 * HOUR)  # two thresholds, zero, the tariff switch at 22:00 is beyond
    assert w.segments - before <= 12


def test_fault_no_disconnect_at_zero_runs_into_debt(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=1.0, faults={"no_disconnect_at_zero": True})
    m, acc = w.meters[1], _account(w)
    worlds.energise(w, 5.0)
    w.advance(HOUR)
    assert m.relay.contacts_closed and 235 not in [c for c, _ in _payment_events(w)]
    assert acc.balance == pytest.approx(1.0 - P_5A * HOUR / KWH, rel=1e-12)


# -- 4. top-up after a disconnection ----------------------------------------------------------------------------
def _run_out(worlds: Any, mode: int) -> tuple[World, Any]:
    """A meter with 1 kWh that runs out after 1 / (3.45 kWh/h) = 1043.48 s; returned at 1100 s."""
    w = _world(worlds, initial_credit_kwh=1.0, control_mode=mode)
    worlds.energise(w, 5.0)
    w.advance(1100.0)
    m = w.meters[1]
    assert m.relay.control_state is R and not m.relay.contacts_closed
    return w, _account(w)


@pytest.mark.parametrize("mode", [1, 6])
def test_the_button_does_not_reconnect_while_out_of_credit(worlds: Any, mode: int) -> None:
    w, _acc = _run_out(worlds, mode)
    m = w.meters[1]
    assert m.relay.press_button() is None
    assert m.relay.control_state is R and not m.relay.contacts_closed
    w.advance(600.0)
    assert m.registers["1.8.0"] == pytest.approx(1.0, rel=1e-9)


def test_a_token_reconnects_at_once_in_control_mode_6(worlds: Any) -> None:
    w, acc = _run_out(worlds, 6)
    m = w.meters[1]
    assert acc.enter(_credit(acc.decoder.decoder_key, 50, 1000)) is Reason.ACCEPTED  # 5.0 kWh
    assert m.relay.control_state is C and m.relay.contacts_closed and not acc.credit_disconnect
    codes = [c for c, _ in _payment_events(w)]
    assert codes[-3:] == [235, 239, 237]  # out of credit, token accepted, credit restored
    assert acc.balance == pytest.approx(5.0, abs=1e-9)
    w.advance(600.0)
    assert m.registers["1.8.0"] == pytest.approx(1.0 + P_5A * 600.0 / KWH, rel=1e-9)
    assert acc.balance == pytest.approx(5.0 - P_5A * 600.0 / KWH, rel=1e-9)


def test_a_token_only_allows_the_button_in_control_mode_1(worlds: Any) -> None:
    w, acc = _run_out(worlds, 1)
    m = w.meters[1]
    assert acc.enter(_credit(acc.decoder.decoder_key, 50, 1000)) is Reason.ACCEPTED
    assert m.relay.control_state is R and not m.relay.contacts_closed  # no local reconnection h in mode 1
    w.advance(600.0)
    assert m.registers["1.8.0"] == pytest.approx(1.0, rel=1e-9)
    assert m.relay.press_button() == "e"  # manual reconnection
    assert m.relay.control_state is C and m.relay.contacts_closed
    w.advance(600.0)
    assert m.registers["1.8.0"] == pytest.approx(1.0 + P_5A * 600.0 / KWH, rel=1e-9)


# -- 5. friendly periods ----------------------------------------------------------------------------------------
# 10.35 kWh at 3.45 kWh/h and price 1 reach zero after 3 h: at 11:00 of the meter's clock
FRIENDLY_CREDIT = 3 * P_5A * HOUR / KWH


def test_zero_in_a_friendly_window_holds_the_supply_until_the_windows_end(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=FRIENDLY_CREDIT, friendly_hours=[(10.5, 12.0)])
    m, acc = w.meters[1], _account(w)
    worlds.energise(w, 5.0)
    w.advance(3 * HOUR + 60.0)  # 11:01
    ev = _payment_events(w)
    assert _at(ev, 236) == [pytest.approx(3 * HOUR, abs=MS)]
    assert 235 not in [c for c, _ in ev]
    assert m.relay.contacts_closed and acc.friendly_hold and acc.balance < 0
    w.advance(HOUR - 61.0)  # 11:59:59
    assert m.relay.contacts_closed
    w.advance(2.0)
    ev = _payment_events(w)
    assert _at(ev, 235) == [pytest.approx(4 * HOUR, abs=MS)]  # 12:00, the window's end
    assert not m.relay.contacts_closed and m.relay.control_state is R
    debt = P_5A * HOUR / KWH  # one hour registered in debt
    assert acc.balance == pytest.approx(-debt, rel=1e-9)
    assert acc.snapshot().amount_to_clear == pytest.approx(debt, rel=1e-9)
    w.advance(HOUR)
    assert m.registers["1.8.0"] == pytest.approx(4 * P_5A * HOUR / KWH, rel=1e-9)
    # the debt is recovered from the next token
    assert acc.enter(_credit(acc.decoder.decoder_key, 100, 1000)) is Reason.ACCEPTED
    assert acc.balance == pytest.approx(10.0 - debt, rel=1e-9) and m.relay.contacts_closed


def test_zero_outside_the_friendly_window_disconnects_at_zero(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=FRIENDLY_CREDIT, friendly_hours=[(12.0, 14.0)])
    worlds.energise(w, 5.0)
    w.advance(4 * HOUR)
    ev = _payment_events(w)
    assert _at(ev, 235) == [pytest.approx(3 * HOUR, abs=MS)] and 236 not in [c for c, _ in ev]


def test_fault_disconnects_in_friendly_hours_disconnects_at_zero(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=FRIENDLY_CREDIT, friendly_hours=[(10.5, 12.0)],
               faults={"disconnects_in_friendly_hours": True})
    m, acc = w.meters[1], _account(w)
    worlds.energise(w, 5.0)
    w.advance(3 * HOUR + 60.0)
    ev = _payment_events(w)
    assert _at(ev, 235) == [pytest.approx(3 * HOUR, abs=MS)] and 236 not in [c for c, _ in ev]
    assert not m.relay.contacts_closed and acc.balance == pytest.approx(0.0, abs=1e-9)
    assert m.registers["1.8.0"] == pytest.approx(FRIENDLY_CREDIT, rel=1e-9)


def test_a_friendly_weekday_holds_all_day(worlds: Any) -> None:
    assert EPOCH.isoweekday() == 1
    w = _world(worlds, initial_credit_kwh=FRIENDLY_CREDIT, friendly_weekdays=[1])  # Monday
    m, acc = w.meters[1], _account(w)
    worlds.energise(w, 5.0)
    w.advance(16 * HOUR - 1.0)  # Monday 23:59:59 (tariff 2 since 22:00, same price)
    ev = _payment_events(w)
    assert _at(ev, 236) == [pytest.approx(3 * HOUR, abs=MS)] and m.relay.contacts_closed
    w.advance(2.0)
    ev = _payment_events(w)
    assert _at(ev, 235) == [pytest.approx(16 * HOUR, abs=MS)]  # Tuesday 00:00
    assert not m.relay.contacts_closed
    assert acc.balance == pytest.approx(-13 * P_5A * HOUR / KWH, rel=1e-9)  # 11:00 … 24:00 in debt


def test_another_weekday_is_not_friendly(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=FRIENDLY_CREDIT, friendly_weekdays=[2, 7])
    worlds.energise(w, 5.0)
    w.advance(4 * HOUR)
    assert _at(_payment_events(w), 235) == [pytest.approx(3 * HOUR, abs=MS)]


# -- 6. emergency credit ----------------------------------------------------------------------------------------
def test_emergency_credit_runs_down_to_minus_its_limit_and_the_next_token_pays_it_back(worlds: Any) -> None:
    limit, threshold, credit = 2.0, 3.0, 10.0
    w = _world(worlds, initial_credit_kwh=credit, emergency_credit_kwh=limit, emergency_threshold_kwh=threshold)
    m, acc = w.meters[1], _account(w)
    worlds.energise(w, 5.0)
    assert acc.invoke_emergency() is False  # 10 kWh: not below the threshold
    w.advance((credit - 3.1) / E_PER_S)  # 3.1 kWh left
    assert acc.balance == pytest.approx(3.1, rel=1e-9)
    assert acc.invoke_emergency() is False and not acc.ec_in_use
    w.advance(0.6 / E_PER_S)  # 2.5 kWh left
    assert acc.invoke_emergency() is True
    assert acc.invoke_emergency() is False  # already in use
    t_invoke = (credit - 2.5) / E_PER_S
    assert _at(_payment_events(w), 238) == [pytest.approx(t_invoke, abs=MS)]
    assert acc.ec_in_use and acc.available == pytest.approx(2.5 + limit, rel=1e-9)
    t_zero = (credit + limit) / E_PER_S  # the available credit reaches zero when the balance is −limit
    w.advance(t_zero - t_invoke - 0.5)
    assert m.relay.contacts_closed and acc.balance == pytest.approx(-limit + 0.5 * E_PER_S, rel=1e-6)
    w.advance(1.0)
    assert _at(_payment_events(w), 235) == [pytest.approx(t_zero, abs=MS)]
    assert not m.relay.contacts_closed and acc.balance == pytest.approx(-limit, rel=1e-9)
    assert m.registers["1.8.0"] == pytest.approx(credit + limit, rel=1e-9)
    snap = acc.snapshot()
    assert snap.amount_to_clear == pytest.approx(limit, rel=1e-9) and snap.emergency_remaining == 0.0
    # a 5 kWh token pays the 2 kWh of emergency credit back first: 3 kWh available
    assert acc.enter(_credit(acc.decoder.decoder_key, 50, 1000)) is Reason.ACCEPTED
    assert not acc.ec_in_use
    assert acc.available == pytest.approx(5.0 - limit, rel=1e-9)
    assert acc.balance == pytest.approx(5.0 - limit, rel=1e-9)
    assert m.relay.contacts_closed  # control mode 6: reconnected


def test_a_token_smaller_than_the_emergency_credit_used_leaves_it_in_use(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=1.0, emergency_credit_kwh=2.0, emergency_threshold_kwh=3.0)
    acc = _account(w)
    worlds.energise(w, 5.0)
    assert acc.invoke_emergency() is True
    w.advance(2.0 / E_PER_S)  # 2 kWh used: balance −1
    assert acc.balance == pytest.approx(-1.0, rel=1e-9) and w.meters[1].relay.contacts_closed
    assert acc.enter(_credit(acc.decoder.decoder_key, 5, 1000)) is Reason.ACCEPTED  # 0.5 kWh
    assert acc.ec_in_use and acc.balance == pytest.approx(-0.5, rel=1e-9)
    assert acc.available == pytest.approx(1.5, rel=1e-9)


def test_no_emergency_credit_configured_cannot_be_invoked(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=0.5)
    assert _account(w).invoke_emergency() is False


# -- 7. the STS decoder -----------------------------------------------------------------------------------------
def test_the_decoder_key_is_dkga02_of_the_meters_pan(worlds: Any) -> None:
    w = _world(worlds, positions=2, initial_credit_kwh=10.0)
    for pos in (1, 2):
        dec = _account(w, pos).decoder
        pan = _pan(f"{pos:010d}")  # serial TST000000000n → DRN 0000000000n
        assert dec.keys.pan == pan and len(pan) == 18
        assert dec.decoder_key == dkga02(VENDING_KEY, pan, sgc="123456", ti=1, krn=1, key_type=2)


def test_an_accepted_credit_token_adds_its_amount_and_a_replay_is_used(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=10.0)
    acc = _account(w)
    token = _credit(acc.decoder.decoder_key, 123, 5000)
    assert acc.enter(token) is Reason.ACCEPTED
    assert acc.balance == pytest.approx(10.0 + 12.3, abs=1e-12)
    assert acc.enter(token) is Reason.USED
    assert acc.balance == pytest.approx(22.3, abs=1e-12)
    assert acc.decoder.last is not None and acc.decoder.last.reason is Reason.USED
    codes = [c for c, _ in _payment_events(w)]
    assert codes == [239, 240]  # accepted, refused


def test_fault_accepts_replayed_token_credits_again(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=10.0, faults={"accepts_replayed_token": True})
    acc = _account(w)
    token = _credit(acc.decoder.decoder_key, 123, 5000)
    assert acc.enter(token) is Reason.ACCEPTED
    assert acc.enter(token) is Reason.ACCEPTED
    assert acc.balance == pytest.approx(10.0 + 2 * 12.3, abs=1e-12)


def test_a_token_older_than_the_oldest_remembered_tid_is_old(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=10.0, sts={"tid_memory": 2})
    acc = _account(w)
    key = acc.decoder.decoder_key
    for tid in (1000, 2000, 3000):
        assert acc.enter(_credit(key, 10, tid)) is Reason.ACCEPTED
    # memory of 2: 2000 and 3000 remembered
    assert acc.enter(_credit(key, 10, 1500)) is Reason.OLD
    assert acc.enter(_credit(key, 10, 1000)) is Reason.OLD  # forgotten, but older than 2000
    assert acc.enter(_credit(key, 10, 3000)) is Reason.USED
    assert acc.enter(_credit(key, 10, 2500)) is Reason.ACCEPTED  # between: new
    assert acc.balance == pytest.approx(10.0 + 4 * 1.0, abs=1e-12)


def test_tokens_for_another_meter_supply_group_or_mistyped_fail_authentication(worlds: Any) -> None:
    w = _world(worlds, positions=2, initial_credit_kwh=10.0)
    acc = _account(w, 1)
    other_meter = _credit(_account(w, 2).decoder.decoder_key, 10, 1000)
    other_sgc = _credit(dkga02(VENDING_KEY, _pan("0000000001"), sgc="654321", ti=1, krn=1, key_type=2), 10, 1001)
    good = _credit(acc.decoder.decoder_key, 10, 1002)
    assert good[0] in "01234567"  # a last digit changed keeps it under 2**66
    typo = good[:-1] + str((int(good[-1]) + 1) % 10)
    for token in (other_meter, other_sgc, typo):
        assert acc.enter(token) is Reason.AUTHENTICATION
    assert acc.balance == 10.0
    assert acc.enter(good) is Reason.ACCEPTED
    assert acc.balance == pytest.approx(11.0, abs=1e-12)


def test_water_credit_is_the_wrong_token_type(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=10.0)
    acc = _account(w)
    assert acc.enter(_credit(acc.decoder.decoder_key, 50, 1000, subclass=1)) is Reason.TOKEN_TYPE
    assert acc.balance == 10.0


def test_a_tid_past_the_key_expiry_number_is_refused(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=10.0, sts={"key_expiry": 100})
    acc = _account(w)
    key = acc.decoder.decoder_key
    assert acc.enter(_credit(key, 10, 101 << 16)) is Reason.KEY_EXPIRED  # top 8 bits 101 > KEN 100
    assert acc.enter(_credit(key, 10, (100 << 16) | 0xFFFF)) is Reason.ACCEPTED  # top 8 bits 100: still valid
    assert acc.balance == pytest.approx(11.0, abs=1e-12)


def test_credit_beyond_the_maximum_overflows(worlds: Any) -> None:
    w = _world(worlds, initial_credit_kwh=10.0, max_credit_kwh=20.0)
    acc = _account(w)
    key = acc.decoder.decoder_key
    assert acc.enter(_credit(key, 101, 1000)) is Reason.OVERFLOW  # 10 + 10.1 > 20
    assert acc.balance == 10.0
    assert acc.enter(_credit(key, 100, 1000)) is Reason.ACCEPTED  # the TID was not used up: 10 + 10 = 20
    assert acc.balance == pytest.approx(20.0, abs=1e-12)


@pytest.mark.parametrize("text", ["abcdefghijklmnopqrst", "1234567890123456789", "99999999999999999999", ""])
def test_not_a_token_is_a_format_failure(worlds: Any, text: str) -> None:
    w = _world(worlds, initial_credit_kwh=10.0)
    acc = _account(w)
    assert acc.enter(text) is Reason.FORMAT and acc.balance == 10.0


NEW_KEY = 0x0123456789ABCDEF


@pytest.mark.parametrize("first_section", [0, 1])
def test_a_key_change_takes_the_new_key_when_both_sections_are_in(worlds: Any, first_section: int) -> None:
    w = _world(worlds, initial_credit_kwh=10.0)
    acc = _account(w)
    old = acc.decoder.decoder_key
    sections = [encode_token(t, old) for t in key_change(NEW_KEY, krn=2, key_type=2, tariff_index=1)]
    assert acc.enter(sections[first_section]) is Reason.KEY_SECTION_STORED
    assert acc.decoder.decoder_key == old  # half a key change changes nothing
    assert acc.enter(sections[1 - first_section]) is Reason.ACCEPTED
    assert acc.decoder.decoder_key == NEW_KEY and acc.decoder.keys.krn == 2
    assert acc.decoder.keys.base_date == 1993  # no rollover bit
    assert acc.enter(_credit(old, 10, 2000)) is Reason.AUTHENTICATION
    assert acc.enter(_credit(NEW_KEY, 10, 2001)) is Reason.ACCEPTED
    assert acc.balance == pytest.approx(11.0, abs=1e-12)


def _minutes(when: dt.datetime, base: dt.datetime) -> int:
    return int((when - base).total_seconds()) // 60


PRE_ROLLOVER = dt.datetime(2024, 11, 24, 20, 15)  # the last minute base 1993 can number
POST_ROLLOVER = dt.datetime(2024, 11, 24, 20, 16)


def _rollover_sequence(worlds: Any, **faults: bool) -> tuple[Any, int, int]:
    w = _world(worlds, initial_credit_kwh=10.0, faults=faults)
    acc = _account(w)
    old = acc.decoder.decoder_key
    pre_tid = _minutes(PRE_ROLLOVER, dt.datetime(1993, 1, 1))
    assert pre_tid == 2**24 - 1
    assert acc.enter(_credit(old, 10, pre_tid)) is Reason.ACCEPTED  # the last token of base 1993
    for t in key_change(NEW_KEY, krn=2, key_type=2, tariff_index=1, rollover=True):
        acc.enter(encode_token(t, old))
    assert acc.decoder.decoder_key == NEW_KEY
    # 2014-01-01 … 2024-11-24: 3652 days (10 years, 2 leap) + 328 days of 2024; then 20 h 16 min
    post_tid = _minutes(POST_ROLLOVER, dt.datetime(2014, 1, 1))
    assert post_tid == (3652 + 328) * 1440 + 20 * 60 + 16 == 5_732_416
    return acc, old, post_tid


def test_a_rollover_key_change_moves_a_1993_meter_to_base_date_2014(worlds: Any) -> None:
    acc, old, post_tid = _rollover_sequence(worlds)
    assert acc.decoder.keys.base_date == 2014
    assert acc.enter(_credit(old, 10, post_tid)) is Reason.AUTHENTICATION  # the old key's tokens
    assert acc.enter(_credit(NEW_KEY, 10, post_tid)) is Reason.ACCEPTED
    assert acc.balance == pytest.approx(12.0, abs=1e-12)
    last = acc.decoder.last
    assert last is not None and last.token is not None
    assert datetime_from_tid(last.token["tid"], acc.decoder.keys.base_date) == POST_ROLLOVER


def test_fault_ignores_rollover_refuses_the_post_rollover_token_as_old(worlds: Any) -> None:
    acc, _old, post_tid = _rollover_sequence(worlds, ignores_rollover=True)
    assert acc.decoder.keys.base_date == 1993
    assert acc.enter(_credit(NEW_KEY, 10, post_tid)) is Reason.OLD
    assert acc.balance == pytest.approx(11.0, abs=1e-12)


# -- 8. determinism ---------------------------------------------------------------------------------------------
def _scripted(worlds: Any, seed: int) -> dict[str, Any]:
    w = _world(worlds, seed=seed, behaviour={"error_spread_pct": 0.5, "clock_drift_spread_ppm": 20.0},
               initial_credit_kwh=8.0, unit_price={1: 0.9, 2: 0.4}, standing_charge_per_day=1.2,
               emergency_credit_kwh=2.0, emergency_threshold_kwh=3.0, friendly_hours=[(13.0, 14.0)])
    acc = _account(w)
    worlds.energise(w, 5.0)
    w.advance(2 * HOUR)
    acc.enter(_credit(acc.decoder.decoder_key, 35, 1000))
    w.advance(3 * HOUR)
    acc.invoke_emergency()
    w.advance(6 * HOUR)
    acc.enter(_credit(acc.decoder.decoder_key, 200, 2000))
    w.advance(12 * HOUR)
    truth: dict[str, Any] = w.truth()["meters"]["1"]["prepayment"]
    return truth


def test_the_same_seed_and_commands_give_the_same_account(worlds: Any) -> None:
    a, b = _scripted(worlds, 11), _scripted(worlds, 11)
    assert a == b
    assert a["credited_kwh"] > 0 and a["charged_standing_kwh"] > 0
    assert _scripted(worlds, 12) != a  # the seed matters (the meters' spread): the comparison is not vacuous
