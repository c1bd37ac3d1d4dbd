"""The meter's supply control switch (its relay) and what drives it: the disconnect control's state machine
(IEC 62056-6-2:2021 4.5.8 "Disconnect control", DLMS UA Blue Book) and the load limiter (4.5.9 "Limiter").

Physics. The switch is in the meter's current path. On a meter test bench with an isolating current transformer
per position, an open switch makes that position's current zero and nothing else: its meter registers no energy
(a creeping meter creeps, as at no load), its test output gives no pulses, its current and power registers read 0,
its voltage circuit stays energised (port and clock run), and the other positions and the reference standard in
the primary circuit are not affected. The switch keeps its state through a power failure (a latching relay).

Fault ``relay_stuck_closed`` (welded contacts): the control logic runs as it should — control_state goes to
disconnected and output_state to false, the meter *believes* it opened — but the contacts stay closed and the
current keeps flowing. Only the bench's truth shows it: the position keeps registering and pulsing.

States and transitions (Blue Book 4.5.8, state diagram and table of transitions; the letters and the method
texts agree in DLMS UA derived documents, e.g. the MetCom MCS301 manual table 44 and the Gurux/Renesas method
descriptions "ready_for_reconnection if a direct remote reconnection is disabled (control_mode = 1, 3, 5, 6),
connected if enabled (2, 4)" — status C for the letters and the mode table):

====  =================  ========================  ========================
 tr    trigger            from                      to
====  =================  ========================  ========================
 a     remote_reconnect   disconnected (0)          connected (1)
 b     remote_disconnect  connected (1)             disconnected (0)
 c     remote_disconnect  ready_for_reconnection    disconnected (0)
 d     remote_reconnect   disconnected (0)          ready_for_reconnection
 e     manual_reconnect   ready_for_reconnection    connected (1)
 f     manual_disconnect  connected (1)             ready_for_reconnection
 g     local_disconnect   connected (1)             ready_for_reconnection
 h     local_reconnect    ready_for_reconnection    connected (1)
====  =================  ========================  ========================

Our interpretations (status U, no primary text at hand): a trigger that leaves the state where it already is
(remote_disconnect when disconnected, remote_reconnect when connected, or in modes 1/3/5/6 when ready) succeeds
and changes nothing; a remote trigger the control mode forbids from the present state is refused (the DLMS layer
answers temporary-failure; peers such as Gurux's server answer success and do nothing); writing control_mode 0
connects ("the object is always in the connected state"); the manual trigger is one button that disconnects (f)
from connected and reconnects (e) from ready_for_reconnection.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any, Protocol


class ControlState(IntEnum):
    """control_state (attribute 3); output_state is true in ``CONNECTED`` only."""

    DISCONNECTED = 0
    CONNECTED = 1
    READY_FOR_RECONNECTION = 2


class Trigger(Enum):
    REMOTE_DISCONNECT = "remote_disconnect"
    REMOTE_RECONNECT = "remote_reconnect"
    MANUAL_DISCONNECT = "manual_disconnect"
    MANUAL_RECONNECT = "manual_reconnect"
    LOCAL_DISCONNECT = "local_disconnect"
    LOCAL_RECONNECT = "local_reconnect"


_D, _C, _R = ControlState.DISCONNECTED, ControlState.CONNECTED, ControlState.READY_FOR_RECONNECTION
#: Blue Book 4.5.8 state diagram: transition letter → (trigger, from, to)
TRANSITIONS: dict[str, tuple[Trigger, ControlState, ControlState]] = {
    "a": (Trigger.REMOTE_RECONNECT, _D, _C),
    "b": (Trigger.REMOTE_DISCONNECT, _C, _D),
    "c": (Trigger.REMOTE_DISCONNECT, _R, _D),
    "d": (Trigger.REMOTE_RECONNECT, _D, _R),
    "e": (Trigger.MANUAL_RECONNECT, _R, _C),
    "f": (Trigger.MANUAL_DISCONNECT, _C, _R),
    "g": (Trigger.LOCAL_DISCONNECT, _C, _R),
    "h": (Trigger.LOCAL_RECONNECT, _R, _C),
}
#: Blue Book 4.5.8 control_mode (IC 70 version 0): the transitions each mode allows (disconnection; reconnection)
CONTROL_MODES: dict[int, frozenset[str]] = {
    0: frozenset(),  # none: always connected
    1: frozenset("bcfg" + "de"),
    2: frozenset("bcfg" + "ae"),
    3: frozenset("bcg" + "de"),
    4: frozenset("bcg" + "ae"),
    5: frozenset("bcfg" + "deh"),
    6: frozenset("bcg" + "deh"),
}
#: control mode of a new meter: every disconnection trigger, reconnection remote to ready_for_reconnection and then
#: manual, so a remote command never re-energises an installation without someone there (our choice)
DEFAULT_CONTROL_MODE = 1

#: the threshold a new limiter has: the largest double-long-unsigned, which no (clipped) value exceeds (disarmed)
NO_THRESHOLD = 2**32 - 1
#: the shortest time a condition must hold before the limiter acts, also for a min duration of 0 s: a real meter
#: needs at least one measuring period, and zero on both sides would toggle forever at one instant (U)
MIN_HOLD_S = 1.0


class SupplySwitch:
    """The relay and its disconnect control logic. ``awake``: the meter's electronics run (a button press or a
    limiter of a dead or unpowered meter does nothing); ``virtual_at``: virtual time of an instant of the meter's
    clock (UTC POSIX); ``meter_posix``: the meter's clock now."""

    def __init__(self, stuck_closed: bool, virtual_at: Callable[[float], float], meter_posix: Callable[[], float],
                 awake: Callable[[], bool]) -> None:
        self.stuck_closed = stuck_closed
        self.control_mode = DEFAULT_CONTROL_MODE
        self.control_state = ControlState.CONNECTED
        #: the contacts (the truth): closed unless opened, and never opened when stuck
        self.contacts_closed = True
        #: contact operations actually made (open or close; welded contacts make none)
        self.operations = 0
        #: the transitions made so far, in order (letters a … h)
        self.transitions: list[str] = []
        self._awake = awake
        self.limiter = Limiter(self, virtual_at, meter_posix)
        #: something else holds the switch open (a payment meter out of credit): no transition to connected
        self.hold_open: Callable[[], bool] = lambda: False

    # -- state ---------------------------------------------------------------------------------------
    @property
    def output_state(self) -> bool:
        """What the meter believes of its output (attribute 2): true = connected."""
        return self.control_state is ControlState.CONNECTED

    @property
    def conducting(self) -> bool:
        """Current flows through the meter (the contacts are closed)."""
        return self.contacts_closed

    def _drive(self) -> None:
        want = self.output_state or self.stuck_closed
        if want != self.contacts_closed:
            self.contacts_closed = want
            self.operations += 1

    def fire(self, trigger: Trigger) -> str | None:
        """Make the transition of ``trigger`` from the present state if the control mode allows it; its letter."""
        allowed = CONTROL_MODES[self.control_mode]
        for letter, (trig, src, dst) in TRANSITIONS.items():
            if trig is trigger and src is self.control_state and letter in allowed:
                if dst is ControlState.CONNECTED and self.hold_open():
                    return None
                self.control_state = dst
                self.transitions.append(letter)
                self._drive()
                return letter
        return None

    # -- triggers --------------------------------------------------------------------------------------
    def remote_disconnect(self) -> bool:
        """Method 1 (b, c): False if the control mode refuses it (already disconnected: True, nothing changes)."""
        if self.control_state is ControlState.DISCONNECTED:
            return True
        return self.fire(Trigger.REMOTE_DISCONNECT) is not None

    def remote_reconnect(self) -> bool:
        """Method 2 (a in modes 2 and 4, d in modes 1, 3, 5, 6): False if the control mode refuses it; connected,
        or ready_for_reconnection where that is all a remote reconnection does: True, nothing changes."""
        state = self.control_state
        if state is ControlState.CONNECTED:
            return True
        if state is ControlState.READY_FOR_RECONNECTION and "d" in CONTROL_MODES[self.control_mode]:
            return True
        return self.fire(Trigger.REMOTE_RECONNECT) is not None

    def press_button(self) -> str | None:
        """The customer presses the meter's button: manual_disconnect (f) from connected, manual_reconnect (e) from
        ready_for_reconnection, as the control mode allows; the transition made (None: nothing happens)."""
        if not self._awake():
            return None
        if self.control_state is ControlState.CONNECTED:
            return self.fire(Trigger.MANUAL_DISCONNECT)
        if self.control_state is ControlState.READY_FOR_RECONNECTION:
            return self.fire(Trigger.MANUAL_RECONNECT)
        return None

    def local_disconnect(self) -> str | None:
        return self.fire(Trigger.LOCAL_DISCONNECT)

    def local_reconnect(self) -> str | None:
        return self.fire(Trigger.LOCAL_RECONNECT)

    def set_control_mode(self, mode: int) -> None:
        if mode not in CONTROL_MODES:
            raise ValueError(f"control_mode is 0 … 6, got {mode}")
        self.control_mode = mode
        if mode == 0 and self.control_state is not ControlState.CONNECTED:
            self.control_state = ControlState.CONNECTED
            self._drive()

    def truth(self) -> dict[str, Any]:
        return {"relay_closed": self.contacts_closed, "relay_operations": self.operations}


@dataclass
class EmergencyProfile:
    """emergency_profile (attribute 8): id, activation time on the meter's clock (UTC POSIX; None: not specified),
    duration in seconds."""

    profile_id: int = 0
    start_posix: float | None = None
    duration_s: int = 0


class Limiter:
    """The load limiter (Blue Book 4.5.9): the monitored value compared with threshold_active; above it for at least
    min_over_threshold_duration → action_over_threshold (here: the switch's local disconnect, g), then below it for
    at least min_under_threshold_duration → action_under_threshold (local reconnect, h, where the mode allows it).

    Values are compared as the monitored register shows them: its value in units of ``resolution`` (W per unit;
    0.1 for a register with scaler −1), rounded and clipped to a double-long-unsigned. The demand is constant over
    an integration segment of the world, so the limiter looks at it when a segment starts (:meth:`observe`) and
    tells the world the instant it will act (or the threshold changes) if nothing changes: the world ends the
    segment there and calls :meth:`act`. A disarmed limiter (no threshold set) is never looked at."""

    def __init__(self, switch: SupplySwitch, virtual_at: Callable[[float], float],
                 meter_posix: Callable[[], float]) -> None:
        self._switch = switch
        self._virtual_at = virtual_at
        self._meter_posix = meter_posix
        #: "import" or "export" active power
        self.quantity = "import"
        self.resolution = 0.1
        self.threshold_normal = NO_THRESHOLD
        self.threshold_emergency = NO_THRESHOLD
        self.min_over_s = 0
        self.min_under_s = 0
        self.emergency = EmergencyProfile()
        self.group_ids: tuple[int, ...] = ()
        #: what the scripts of action_over / action_under do to the switch: "disconnect", "reconnect" or None
        self.over_action: str | None = "disconnect"
        self.under_action: str | None = "reconnect"
        #: the over action ran and the under action has not yet
        self.tripped = False
        self.over_actions = 0
        self.under_actions = 0
        self._over_since: float | None = None
        self._under_since: float | None = None
        self.deadline = math.inf

    # -- configuration ----------------------------------------------------------------------------------
    def changed(self) -> None:
        """A parameter was written: the conditions are looked at afresh from the next segment on."""
        self._over_since = self._under_since = None
        self.deadline = math.inf

    @property
    def armed(self) -> bool:
        if self.threshold_normal < NO_THRESHOLD:
            return True
        return self.threshold_emergency < NO_THRESHOLD and self._window() is not None

    def _window(self) -> tuple[float, float] | None:
        """Virtual (start, end) of the emergency profile, if it can activate (its id is in the group list)."""
        e = self.emergency
        if e.start_posix is None or e.duration_s <= 0 or e.profile_id not in self.group_ids:
            return None
        return self._virtual_at(e.start_posix), self._virtual_at(e.start_posix + e.duration_s)

    def emergency_active_at(self, t: float) -> bool:
        w = self._window()
        return w is not None and w[0] <= t < w[1]

    def emergency_active_now(self) -> bool:
        """emergency_profile_active (attribute 10), by the meter's clock now."""
        e = self.emergency
        if e.start_posix is None or e.duration_s <= 0 or e.profile_id not in self.group_ids:
            return False
        now = self._meter_posix()
        return e.start_posix <= now < e.start_posix + e.duration_s

    def threshold_at(self, t: float) -> int:
        return self.threshold_emergency if self.emergency_active_at(t) else self.threshold_normal

    def threshold_now(self) -> int:
        """threshold_active (attribute 3)."""
        return self.threshold_emergency if self.emergency_active_now() else self.threshold_normal

    def value(self, power_w: float) -> int:
        """The monitored register's value at ``power_w`` (registered power, + import)."""
        p = power_w if self.quantity == "import" else -power_w
        return max(0, min(math.floor(max(p, 0.0) / self.resolution + 0.5), NO_THRESHOLD))

    # -- evaluation on the virtual clock ------------------------------------------------------------------
    def pause(self) -> None:
        """The meter is down: its limiter does not run, the conditions start afresh when it is back."""
        self.changed()

    def observe(self, t: float, power_w: float) -> float:
        """The demand from ``t`` on is ``power_w`` (until the next segment): the instant the limiter acts or its
        threshold changes, if nothing else changes (inf: never)."""
        thr = self.threshold_at(t)
        v = self.value(power_w)
        if v > thr:
            self._under_since = None
            if self._over_since is None:
                self._over_since = t
        elif v < thr:
            self._over_since = None
            if self._under_since is None:
                self._under_since = t
        else:
            self._over_since = self._under_since = None
        end = math.inf
        if not self.tripped and self._over_since is not None:
            end = self._over_since + max(float(self.min_over_s), MIN_HOLD_S)
        elif self.tripped and self._under_since is not None:
            end = self._under_since + max(float(self.min_under_s), MIN_HOLD_S)
        w = self._window()
        if w is not None:
            for edge in w:
                if t < edge < end:
                    end = edge
        self.deadline = end
        return end

    def act(self, t: float) -> str | None:
        """At ``t`` (≥ the deadline :meth:`observe` gave): run the action whose condition has held long enough;
        the switch transition it made (None: none, e.g. an emergency edge or a mode that forbids it)."""
        self.deadline = math.inf
        over, under = self._over_since, self._under_since
        if not self.tripped and over is not None and t >= over + max(float(self.min_over_s), MIN_HOLD_S):
            self.tripped = True
            self.over_actions += 1
            return self._run(self.over_action)
        if self.tripped and under is not None and t >= under + max(float(self.min_under_s), MIN_HOLD_S):
            self.tripped = False
            self.under_actions += 1
            return self._run(self.under_action)
        return None

    def _run(self, action: str | None) -> str | None:
        if action == "disconnect":
            return self._switch.local_disconnect()
        if action == "reconnect":
            return self._switch.local_reconnect()
        return None


class _Limited(Protocol):
    """What the world's hooks need of a meter."""

    relay: SupplySwitch

    @property
    def port_alive(self) -> bool: ...
    @property
    def temperature(self) -> float: ...
    def power(self, state: Any, temperature_c: float) -> float: ...


def limiter_deadline(meters: Iterable[_Limited], state: Any, t: float) -> float:
    """Called by the world when a segment starts at ``t`` with the source ``state``: the armed limiters look at
    their meter's demand; the earliest instant one of them acts (inf: none)."""
    end = math.inf
    for m in meters:
        lim = m.relay.limiter
        if not lim.armed:
            continue
        if not m.port_alive:
            lim.pause()
            continue
        end = min(end, lim.observe(t, m.power(state, m.temperature)))
    return end


def limiter_act(meters: Iterable[_Limited], t: float) -> None:
    """Called by the world at the end of a segment that ended at a limiter's instant."""
    for m in meters:
        lim = m.relay.limiter
        if lim.deadline <= t:
            lim.act(t)
