"""A meter's time-keeping beyond its crystal: time zone, daylight saving time, and the time-of-use schedule that
picks the tariff register (Clock IC 8, Activity Calendar IC 20, Special Days Table IC 11, Script Table IC 9 of the
Blue Book; served over DLMS by ``instruments.simulators.dlms.clock_object`` and ``calendar_objects``).

Until a calendar is active, DST is enabled, a passive calendar awaits its activation time or a tariff script was
run by hand, the meter runs its fixed schedule exactly as :class:`~instruments.simulators.world.meter.Meter` always
did (``tariff1_hours`` of its clock's UTC day) and this object stays out of the way (``engaged`` is False). Once
engaged it plans the tariff itself: the tariff now and the next instant anything changes — a calendar switch
evaluated on the local wall clock (DST included: :mod:`.calendar`), a DST switch (:mod:`.dst`, logged as an
event), the passive calendar's activation time — and hands the world that instant as ``next_tariff_switch`` (in
virtual time, through the meter's clock rate), so a switch is exact on the virtual clock like the fixed one. At the
switch the planned tariff is set as planned: no clock is re-read and rounded.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from instruments.simulators.world import dst
from instruments.simulators.world.calendar import Calendar, SpecialDay
from instruments.simulators.world.events import EventCode

if TYPE_CHECKING:
    from instruments.simulators.world.config import MeterTypeConfig
    from instruments.simulators.world.meter import Meter

_DAY_S = 86400.0
#: tariff registers a script selector may drive (1.0.1.8.n.255)
MAX_TARIFF = 4
#: STATUS_DST of the Clock status (Blue Book 4.1.6.1) and of the load profile status (bit 3)
CLOCK_STATUS_DST = 0x80
PROFILE_STATUS_DST = 0x08


def dst_settings(config: MeterTypeConfig) -> dst.DstSettings:
    """The Clock's DST rule from the meter type's ``dlms`` section (and its fault ``dst_rule_wrong``)."""
    d = config.dlms

    def rule(r: Any) -> dst.SwitchRule:
        day = {"last": dst.LAST, "second_last": dst.SECOND_LAST}.get(r.day, r.day)
        h, m, *s = (int(x) for x in r.time.split(":"))
        return dst.SwitchRule(r.month, day, r.weekday, h, m, s[0] if s else 0)

    return dst.DstSettings(d.time_zone_min, d.dst_enabled, d.dst_deviation_min, rule(d.dst_begin),
                           rule(d.dst_end), config.behaviour.dst_rule_wrong)


class TimeOfUse:
    def __init__(self, meter: Meter, settings: dst.DstSettings) -> None:
        self.meter = meter
        self.settings = settings
        #: None: no calendar was ever activated (the fixed schedule runs)
        self.active: Calendar | None = None
        self.passive = Calendar()
        self.special: dict[int, SpecialDay] = {}
        #: activate_passive_calendar_time as the meter's clock instant (None: no activation pending)
        self.activation_posix: float | None = None
        #: as written (12 octets), for reading back
        self.activation_octets = bytes([0xFF] * 9) + b"\x80\x00\xff"
        #: a tariff script run by hand: its tariff until the schedule's next change
        self.forced: int | None = None
        self._forced_until = math.inf
        self._next_posix = math.inf
        self._next_change = math.inf
        self._next_dst = math.inf

    # -- local time -------------------------------------------------------------------------------
    @property
    def time_zone_min(self) -> int:
        return self.settings.time_zone_min

    def deviation(self, posix: float) -> int:
        """UTC − local in minutes at the meter-clock instant ``posix``, DST included."""
        s = self.settings
        return dst.deviation(s, posix) if s.enabled else s.time_zone_min

    def deviation_now(self) -> int:
        return self.deviation(self.meter.meter_posix())

    def dst_active(self, posix: float) -> bool:
        return dst.active(self.settings, posix)

    def local(self, utc: dt.datetime) -> dt.datetime:
        """An instant of the meter's clock as its local time (aware, offset = −deviation)."""
        dev = self.deviation(utc.timestamp())
        return utc.astimezone(dt.timezone(dt.timedelta(minutes=-dev)))

    def clock_status(self, posix: float) -> int:
        return CLOCK_STATUS_DST if self.settings.enabled and self.dst_active(posix) else 0

    def profile_status(self, posix: float) -> int:
        return PROFILE_STATUS_DST if self.settings.enabled and self.dst_active(posix) else 0

    def to_posix(self, local: dt.datetime, deviation_min: int | None) -> float:
        """A naive local time of the meter (with its deviation, or the one in force then) as a clock instant."""
        if deviation_min is not None:
            return dst.posix_of(local, deviation_min)
        s = self.settings
        if s.enabled:
            summer = dst.posix_of(local, s.time_zone_min - s.deviation_min)
            if self.dst_active(summer):
                return summer
        return dst.posix_of(local, s.time_zone_min)

    # -- settings written by a client --------------------------------------------------------------
    def configure(self, **changes: Any) -> None:
        """Change time zone or DST rule (fields of :class:`~.dst.DstSettings`); a change of the DST state it causes
        now is logged (event 3), and the tariff is planned again."""
        m = self.meter
        posix = m.meter_posix()
        was, before = self.dst_active(posix), self.deviation(posix)
        self.settings = replace(self.settings, **changes)
        if self.dst_active(posix) != was:
            m.events.record(EventCode.DST_CHANGE, posix=posix, deviation_min=before)
        m._init_tariff()

    def set_time_zone(self, minutes: int) -> None:
        if minutes != self.settings.time_zone_min:
            self.configure(time_zone_min=minutes)

    # -- calendar written by a client ---------------------------------------------------------------
    def set_passive(self, calendar: Calendar) -> None:
        self.passive = calendar

    def set_activation(self, posix: float | None, octets: bytes) -> None:
        self.activation_posix = posix
        self.activation_octets = octets
        self.meter._init_tariff()

    def activate(self) -> None:
        """activate_passive_calendar (method 1): the passive tables become the active ones now."""
        self._activate(self.meter.meter_posix())
        self.meter._init_tariff()

    def _activate(self, posix: float) -> None:
        self.active = self.passive
        self.activation_posix = None
        self.forced = None
        regs = self.meter.registers
        for actions in self.active.days.values():
            for a in actions:
                regs.setdefault(f"1.8.{a.selector}", 0.0)
        self.meter.events.record(EventCode.TOU_ACTIVATED, posix=posix)

    def set_special_days(self, days: dict[int, SpecialDay]) -> None:
        self.special = dict(days)
        if self.active is not None:
            self.meter._init_tariff()

    def run_script(self, tariff: int) -> None:
        """A tariffication script executed by hand: its tariff now, until the schedule next changes."""
        self.meter.registers.setdefault(f"1.8.{tariff}", 0.0)
        self.forced = tariff
        self._forced_until = math.inf
        self.meter._init_tariff()

    # -- planning (called by the meter) --------------------------------------------------------------
    @property
    def engaged(self) -> bool:
        return (self.active is not None or self.settings.enabled or self.activation_posix is not None
                or self.forced is not None)

    def init_tariff(self) -> None:
        """The meter's clock was started or set, or the schedule changed: plan from the clock now."""
        self._plan(self.meter.meter_posix())

    def switch(self) -> None:
        """The world reached ``next_tariff_switch``: do what was planned for that instant, plan the next one."""
        posix = self._next_posix
        if posix == self._next_dst:
            on = self.dst_active(posix)
            s = self.settings
            before = s.time_zone_min - (0 if on else s.deviation_min)
            self.meter.events.record(EventCode.DST_CHANGE, posix=posix, deviation_min=before)
        if self.forced is not None and posix >= self._forced_until:
            self.forced = None
        self._plan(posix)

    def _plan(self, posix: float) -> None:
        m = self.meter
        if self.activation_posix is not None and self.activation_posix <= posix:
            self._activate(posix)
        underlying = self._underlying_at(posix)
        change, _ = self._change_after(posix, underlying)
        if self.forced is not None and self._forced_until == math.inf:
            self._forced_until = change
        m.tariff = self.forced if self.forced is not None else underlying
        self._next_change = change
        self._next_dst = dst.next_transition(self.settings, posix)
        activation = self.activation_posix if self.activation_posix is not None else math.inf
        self._next_posix = min(change, self._next_dst, activation)
        m.next_tariff_switch = m._virtual_at(self._next_posix) if math.isfinite(self._next_posix) else math.inf

    def _underlying_at(self, posix: float) -> int:
        """The tariff the schedule (calendar, else the fixed one) gives at ``posix``."""
        if self.active is None:
            return self._fixed(posix)[0]
        selector = self.active.selector_at(dst.local_of(posix, self.deviation(posix)), self.special.values())
        return self.meter.tariff if selector is None else selector

    def _fixed(self, posix: float) -> tuple[int, float]:
        """The fixed schedule (tariff 1 from ``tariff1_hours[0]`` to ``[1]`` of the clock's UTC day, else 2): the
        tariff at ``posix`` and when it next changes (as the meter's own planning does it)."""
        m = self.meter
        tod = posix % _DAY_S
        start, end = m._t1_start_s, m._t1_end_s
        if tod < start:
            return 2, posix + start - tod
        if tod < end:
            return 1, posix + end - tod
        return 2, posix + _DAY_S + start - tod

    def _change_after(self, posix: float, current: int) -> tuple[float, int | None]:
        """The first instant after ``posix`` at which the schedule gives a tariff other than ``current``."""
        if self.active is None:
            return self._fixed(posix)[1], None
        calendar, specials = self.active, tuple(self.special.values())
        p = posix
        for _ in range(8):  # a DST switch at most every few months: a year ahead is a handful of stretches
            dev = self.deviation(p)
            edge = dst.next_transition(self.settings, p)
            found = calendar.next_change(dst.local_of(p, dev), current, specials)
            candidate = math.inf if found is None else dst.posix_of(found[0], dev)
            if candidate < edge:
                return candidate, None if found is None else found[1]
            if not math.isfinite(edge):
                return math.inf, None
            p = edge
            selector = calendar.selector_at(dst.local_of(p, self.deviation(p)), specials)
            if selector is not None and selector != current:
                return p, selector
        return p, None

    def truth(self) -> dict[str, Any]:
        posix = self.meter.meter_posix()
        return {
            "time_zone_min": self.settings.time_zone_min,
            "dst_enabled": self.settings.enabled,
            "dst_active": self.dst_active(posix),
            "deviation_min": self.deviation(posix),
            "calendar_active": None if self.active is None else self.active.name.decode("latin-1"),
            "calendar_passive": self.passive.name.decode("latin-1"),
            "activation_posix": self.activation_posix,
            "next_tariff_switch_posix": self._next_posix if math.isfinite(self._next_posix) else None,
        }
