"""Virtual clock of the simulated bench.

Virtual time is a float of seconds since ``epoch`` (a UTC datetime from the bench file). It never follows the
wall clock: only the world's ``advance`` moves it, so a 72-hour screen can run in seconds and a run is a
deterministic function of its seed and the commands it receives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Listener = Callable[[], object]


class VirtualClock:
    """``now`` in virtual seconds since ``epoch``; listeners are called (without arguments) after every advance."""

    def __init__(self, epoch: datetime) -> None:
        self.epoch = epoch.replace(tzinfo=UTC) if epoch.tzinfo is None else epoch.astimezone(UTC)
        self._now = 0.0
        self._listeners: list[Listener] = []

    @property
    def now(self) -> float:
        return self._now

    def datetime(self) -> datetime:
        """The virtual instant as an aware UTC datetime."""
        return self.epoch + timedelta(seconds=self._now)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener()`` after every advance; returns a function that unsubscribes it."""
        self._listeners.append(listener)

        def _unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return _unsubscribe

    # -- used by the world only ----------------------------------------------------------------
    def _set(self, t: float) -> None:
        if t < self._now:
            raise ValueError("virtual time never goes backwards")
        self._now = t

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()
