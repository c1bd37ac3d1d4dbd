"""Disconnect control (IC 70 version 0, 0.0.96.3.10.255; IEC 62056-6-2:2021 4.5.8, Blue Book) and Limiter (IC 71
version 0, 0.0.17.0.0.255; 4.5.9) of a simulated meter, over the world's supply control switch and load limiter
(:mod:`instruments.simulators.world.relay`, where the state machine, the control modes and the physics live).

Access: every client reads; only a client that may write (the management client) writes control_mode and the
limiter's parameters and invokes remote_disconnect / remote_reconnect (the public client gets read-write-denied).
A remote trigger the control mode forbids from the present state is answered temporary-failure (our choice, U).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from instruments.dlms.apdu import DataAccessResult, Selection
from instruments.dlms.axdr import Data, Tag
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
from instruments.simulators.world.relay import CONTROL_MODES, NO_THRESHOLD, Limiter, SupplySwitch

if TYPE_CHECKING:
    from instruments.simulators.dlms.meter import MeterCosem

DISCONNECT_CONTROL = Obis(0, 0, 96, 3, 10, 255)
LIMITER = Obis(0, 0, 17, 0, 0, 255)
#: the disconnect control's script table (OBIS 0.0.10.0.106.255) the limiter's actions name; in the sim its script
#: 1 is the local disconnect (g) and script 2 the local reconnect (h) — our numbering (U); other scripts do nothing
DISCONNECTOR_SCRIPTS = Obis(0, 0, 10, 0, 106, 255)
SCRIPT_EFFECTS = {1: "disconnect", 2: "reconnect"}
#: what the limiter can monitor: (class, logical name, attribute) → (world quantity, W per unit of the value): the
#: active power registers as MeterCosem serves them (double-long-unsigned, scaler −1, W)
MONITORABLE: dict[tuple[int, Obis, int], tuple[str, float]] = {
    (3, Obis(1, 0, 1, 7, 0), 2): ("import", 0.1),
    (3, Obis(1, 0, 2, 7, 0), 2): ("export", 0.1),
}


def objects(cosem: MeterCosem) -> list[CosemObject]:
    """The two objects of ``cosem``'s meter (none if its world meter has no supply control switch)."""
    relay: SupplySwitch | None = getattr(cosem.meter, "relay", None)
    if relay is None:
        return []
    return [disconnect_control(relay), limiter(cosem, relay.limiter)]


def _integer(v: Data | None, what: str, high: int = NO_THRESHOLD) -> int:
    if v is None or v.tag not in INTEGER_TAGS:
        got = "nothing" if v is None else v.tag.name.lower()
        raise AccessError(DataAccessResult.TYPE_UNMATCHED, f"{what} is an unsigned integer, got {got}")
    if not 0 <= int(v.value) <= high:
        raise AccessError(DataAccessResult.OTHER_REASON, f"{what} is 0 … {high}, got {v.value}")
    return int(v.value)


def _items(v: Data, n: int, what: str) -> tuple[Data, ...]:
    if v.tag is not Tag.STRUCTURE or len(v.items) != n:
        raise AccessError(DataAccessResult.TYPE_UNMATCHED, f"{what} is a structure of {n}")
    return v.items


def _obis(v: Data, what: str) -> Obis:
    if v.tag is not Tag.OCTET_STRING or len(v.value) != 6:
        raise AccessError(DataAccessResult.TYPE_UNMATCHED, f"{what} is an octet-string of 6")
    return Obis.from_bytes(bytes(v.value))


def disconnect_control(relay: SupplySwitch) -> CosemObject:
    """Disconnect control IC 70 version 0: output_state, control_state, control_mode; remote_disconnect (1) and
    remote_reconnect (2)."""
    def set_mode(_c: Caller, v: Data) -> None:
        if v.tag is not Tag.ENUM:
            raise AccessError(DataAccessResult.TYPE_UNMATCHED, f"control_mode is an enum, got {v.tag.name.lower()}")
        if v.value not in CONTROL_MODES:
            raise AccessError(DataAccessResult.OTHER_REASON, f"control_mode is 0 … 6, got {v.value}")
        relay.set_control_mode(int(v.value))

    def trigger(name: str, call: Callable[[], bool]) -> Callable[[Caller, Data | None], Data | None]:
        def method(_c: Caller, v: Data | None) -> None:
            no_data(v, name)
            if not call():
                raise AccessError(DataAccessResult.TEMPORARY_FAILURE, f"{name} is not a transition of control_mode"
                                  f" {relay.control_mode} from {relay.control_state.name.lower()}")
        return method

    return CosemObject(70, 0, DISCONNECT_CONTROL, {
        2: Attribute(get=lambda _c, _s: Data.boolean(relay.output_state)),
        3: Attribute(get=lambda _c, _s: Data.enum(int(relay.control_state))),
        4: Attribute(get=lambda _c, _s: Data.enum(relay.control_mode), set=set_mode),
    }, {
        1: Method(trigger("remote_disconnect", relay.remote_disconnect)),
        2: Method(trigger("remote_reconnect", relay.remote_reconnect)),
    })


def limiter(cosem: MeterCosem, lim: Limiter) -> CosemObject:
    """Limiter IC 71 version 0 (attributes 2 … 11, no methods)."""
    monitored = {"value": (3, Obis(1, 0, 1, 7, 0), 2)}
    actions = {"over": (DISCONNECTOR_SCRIPTS, 1), "under": (DISCONNECTOR_SCRIPTS, 2)}

    def written(fn: Callable[[Data], None]) -> Callable[[Caller, Data], None]:
        def setter(_c: Caller, v: Data) -> None:
            fn(v)
            lim.changed()
        return setter

    def get_monitored(_c: Caller, _s: Selection | None) -> Data:
        ic, ln, attr = monitored["value"]
        return Data.structure([Data.uint16(ic), Data.octets(bytes(ln)), Data.int8(attr)])

    def set_monitored(v: Data) -> None:
        ic_d, ln_d, attr_d = _items(v, 3, "monitored_value")
        key = (_integer(ic_d, "class_id", 0xFFFF), _obis(ln_d, "logical_name"),
               _integer(attr_d, "attribute_index", 127))
        if key not in MONITORABLE:
            known = ", ".join(f"IC {k[0]} {k[1]} attribute {k[2]}" for k in MONITORABLE)
            raise AccessError(DataAccessResult.OTHER_REASON, f"the simulated limiter monitors {known} only")
        monitored["value"] = key
        lim.quantity, lim.resolution = MONITORABLE[key]

    def set_active(v: Data) -> None:
        """threshold_active: written into the threshold of the regime in force (normal or emergency; U)."""
        value = _integer(v, "threshold_active")
        if lim.emergency_active_now():
            lim.threshold_emergency = value
        else:
            lim.threshold_normal = value

    def set_normal(v: Data) -> None:
        lim.threshold_normal = _integer(v, "threshold_normal")

    def set_emergency(v: Data) -> None:
        lim.threshold_emergency = _integer(v, "threshold_emergency")

    def set_over(v: Data) -> None:
        lim.min_over_s = _integer(v, "min_over_threshold_duration")

    def set_under(v: Data) -> None:
        lim.min_under_s = _integer(v, "min_under_threshold_duration")

    def get_profile(_c: Caller, _s: Selection | None) -> Data:
        e = lim.emergency
        when = (NOT_SPECIFIED if e.start_posix is None
                else CosemDateTime.from_datetime(cosem.local(dt.datetime.fromtimestamp(e.start_posix, dt.UTC))))
        return Data.structure([Data.uint16(e.profile_id), when.to_data(), Data.uint32(e.duration_s)])

    def set_profile(v: Data) -> None:
        id_d, when_d, dur_d = _items(v, 3, "emergency_profile")
        profile_id = _integer(id_d, "emergency_profile_id", 0xFFFF)
        duration = _integer(dur_d, "emergency_duration")
        try:
            cdt = CosemDateTime.from_data(when_d)
        except ValueError as exc:
            raise AccessError(DataAccessResult.TYPE_UNMATCHED, f"emergency_activation_time: {exc}") from None
        if all(f is None for f in (cdt.year, cdt.month, cdt.day, cdt.hour, cdt.minute, cdt.second)):
            start = None
        else:
            if cdt.deviation is None:  # the meter's local time
                cdt = CosemDateTime(cdt.year, cdt.month, cdt.day, cdt.weekday, cdt.hour, cdt.minute, cdt.second,
                                    cdt.hundredths, cosem.time_zone_min, cdt.status)
            try:
                start = cdt.to_datetime().timestamp()
            except ValueError as exc:
                raise AccessError(DataAccessResult.OTHER_REASON, f"emergency_activation_time: {exc}; the simulated"
                                  " limiter takes one instant or a date-time not specified at all") from None
        lim.emergency.profile_id, lim.emergency.start_posix, lim.emergency.duration_s = profile_id, start, duration

    def get_groups(_c: Caller, _s: Selection | None) -> Data:
        return Data.array(Data.uint16(g) for g in lim.group_ids)

    def set_groups(v: Data) -> None:
        if v.tag is not Tag.ARRAY:
            raise AccessError(DataAccessResult.TYPE_UNMATCHED, "emergency_profile_group_id_list is an array")
        lim.group_ids = tuple(_integer(g, "emergency_profile_group_id", 0xFFFF) for g in v.items)

    def get_actions(_c: Caller, _s: Selection | None) -> Data:
        return Data.structure([Data.structure([Data.octets(bytes(ln)), Data.uint16(sel)])
                               for ln, sel in (actions["over"], actions["under"])])

    def set_actions(v: Data) -> None:
        items = []
        for part, what in zip(_items(v, 2, "actions"), ("action_over_threshold", "action_under_threshold"),
                              strict=True):
            ln_d, sel_d = _items(part, 2, what)
            items.append((_obis(ln_d, f"{what} script_logical_name"),
                          _integer(sel_d, f"{what} script_selector", 0xFFFF)))
        actions["over"], actions["under"] = items
        lim.over_action, lim.under_action = (SCRIPT_EFFECTS.get(sel) if ln == DISCONNECTOR_SCRIPTS else None
                                             for ln, sel in items)

    return CosemObject(71, 0, LIMITER, {
        2: Attribute(get=get_monitored, set=written(set_monitored)),
        3: Attribute(get=lambda _c, _s: Data.uint32(lim.threshold_now()), set=written(set_active)),
        4: Attribute(get=lambda _c, _s: Data.uint32(lim.threshold_normal), set=written(set_normal)),
        5: Attribute(get=lambda _c, _s: Data.uint32(lim.threshold_emergency), set=written(set_emergency)),
        6: Attribute(get=lambda _c, _s: Data.uint32(lim.min_over_s), set=written(set_over)),
        7: Attribute(get=lambda _c, _s: Data.uint32(lim.min_under_s), set=written(set_under)),
        8: Attribute(get=get_profile, set=written(set_profile)),
        9: Attribute(get=get_groups, set=written(set_groups)),
        10: Attribute(get=lambda _c, _s: Data.boolean(lim.emergency_active_now())),
        11: Attribute(get=get_actions, set=written(set_actions)),
    })
