"""The safe state: what to do on the way out, run on every exit path.

Normal end, exception, Ctrl-C, SIGTERM, lost connection and the end of the pytest session all lead here.
Actions run newest first (LIFO, like teardown), each guarded so one failing action never stops the others, and
they may run more than once (switching an output off twice is harmless).

SIGTERM/SIGHUP are turned into :class:`Terminated` (a ``KeyboardInterrupt``) in the main thread, so the stack
unwinds through ``finally`` blocks and pytest finishes its session (results flushed, reports written) exactly as
after Ctrl-C. The interrupted exchange may have left a half-read reply on a link, so actions that talk to an
instrument reconnect before switching it off.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)


class Terminated(KeyboardInterrupt):
    """The process was asked to stop by a signal (SIGTERM, SIGHUP)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")


class _Critical:
    depth = 0
    pending: int | None = None


_critical = _Critical()


@contextlib.contextmanager
def _hold_sigint() -> Iterator[None]:
    """Ctrl-C (SIGINT) is held like SIGTERM while inside (main thread only; elsewhere signals go to main)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _held(signum: int, frame: FrameType | None) -> None:
        if _critical.pending is None:
            _critical.pending = signum

    previous = signal.signal(signal.SIGINT, _held)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def critical_section() -> Iterator[None]:
    """Hold SIGTERM/SIGHUP/SIGINT until the block ends (e.g. writing a point's results), then stop as asked."""
    _critical.depth += 1
    try:
        with _hold_sigint():
            yield
    finally:
        _critical.depth -= 1
        if _critical.depth == 0 and _critical.pending is not None:
            signum, _critical.pending = _critical.pending, None
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise Terminated(signum)


@dataclass
class ActionResult:
    name: str
    error: BaseException | None = None


@dataclass
class SafeState:
    """A registry of safe-state actions."""

    actions: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    history: list[tuple[str, list[ActionResult]]] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    terminating: int | None = None  # the signal being handled, once one arrived
    _installed: bool = False
    _previous: dict[int, object] = field(default_factory=dict)

    def register(self, name: str, action: Callable[[], None]) -> Callable[[], None]:
        """Add an action; returns a function that removes it again."""
        entry = (name, action)
        with self._lock:
            self.actions.append(entry)

        def _remove() -> None:
            with self._lock:
                if entry in self.actions:
                    self.actions.remove(entry)

        return _remove

    def run(self, reason: str) -> list[ActionResult]:
        """Run every action, newest first; never raises. Returns what each action did.

        Signals that arrive meanwhile (SIGTERM, SIGHUP, Ctrl-C) are held until every action has run: a second
        request to stop must not cut "source off" short."""
        results: list[ActionResult] = []
        with self._lock:
            todo = list(reversed(self.actions))
        _critical.depth += 1
        with _hold_sigint():
            try:
                for name, action in todo:
                    try:
                        action()
                        results.append(ActionResult(name))
                    except BaseException as exc:  # a safe-state action must never stop the next one
                        log.error("safe state (%s): %s failed: %s", reason, name, exc)
                        results.append(ActionResult(name, exc))
            finally:
                _critical.depth -= 1
                _critical.pending = None  # we are stopping anyway: the held signal has been honoured
        self.history.append((reason, results))
        return results

    # -- process-level hooks ----------------------------------------------------------------------
    def install(self) -> None:
        """Run at interpreter exit, and turn SIGTERM/SIGHUP into :class:`Terminated` (main thread only)."""
        if self._installed:
            return
        atexit.register(self.run, "interpreter exit")
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP):
                self._previous[sig] = signal.signal(sig, self._on_signal)
        self._installed = True

    def uninstall(self) -> None:
        if not self._installed:
            return
        atexit.unregister(self.run)
        for sig, prev in self._previous.items():
            signal.signal(sig, prev)  # type: ignore[arg-type]
        self._previous.clear()
        self._installed = False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.terminating is not None:
            return  # already unwinding: a second signal must not interrupt the safe-state actions
        self.terminating = signum
        if _critical.depth > 0:
            _critical.pending = signum  # raised when the critical section ends (results stay whole)
            return
        raise Terminated(signum)


#: environment variable through which ``hil run`` tells its pytest child the guardian's pid
GUARDIAN_ENV = "HIL_GUARDIAN_PID"
_PR_SET_PDEATHSIG = 1


def die_with(guardian_pid: int) -> bool:
    """SIGTERM to this process when ``guardian_pid`` (its parent, ``hil run``) dies, even by SIGKILL, so an orphan
    never goes on driving the bench — the SIGTERM handling switches the source off. Armed by the process itself
    (not in a ``preexec_fn``: the guardian runs threads, and forking with threads must not run Python code before
    exec). Linux only (``prctl``); returns whether it is armed. Raises :class:`Terminated` when the guardian is
    already gone (nobody would watch)."""
    import ctypes
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    if prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False  # refused (e.g. a seccomp filter): run on without it
    if os.getppid() != guardian_pid:  # the guardian died before the signal was armed
        raise Terminated(int(signal.SIGTERM))
    return True
