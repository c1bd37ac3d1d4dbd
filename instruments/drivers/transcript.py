"""SCPI transcript: every command and reply with its time, per instrument, kept for the report."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Direction = Literal["write", "query", "reply", "read", "error", "event"]
#: a transcript line's text, or a function that makes it when the transcript is read
Text = str | Callable[[], str]


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    t: float  # wall clock, seconds since the Unix epoch
    instrument: str
    direction: Direction
    text: str
    elapsed_s: float | None = None  # for replies: time since the command was sent

    def line(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.t)) + f".{int(self.t * 1000) % 1000:03d}"
        arrow = {"write": ">>", "query": ">>", "reply": "<<", "read": "<<", "error": "!!", "event": "--"}
        took = f"  ({self.elapsed_s * 1000:.1f} ms)" if self.elapsed_s is not None else ""
        return f"{stamp} {self.instrument:<18} {arrow[self.direction]} {self.text}{took}"


class Transcript:
    """An append-only log shared by the instruments of a bench.

    ``mark()`` / ``since(mark)`` cut out what happened during one test, so the report attaches the transcript
    to the test where it happened. Bounded: the oldest entries are dropped past ``max_entries`` (a multi-day
    sequence must not grow without limit); marks stay valid because they count absolute positions.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        # plain tuples on the hot path (every command and reply); entries are built when read
        self._entries: deque[tuple[float, str, Direction, Text, float | None]] = deque(maxlen=max_entries)
        self._total = 0  # entries ever added (marks count these)
        self.listeners: list[Callable[[TranscriptEntry], None]] = []

    def add(self, instrument: str, direction: Direction, text: Text, elapsed_s: float | None = None) -> None:
        """``text`` may be a function giving it: a binary protocol's decoded message is then made only when the
        transcript is read (a report, a listener), not on every exchange."""
        raw = (time.time(), instrument, direction, text, elapsed_s)
        self._entries.append(raw)
        self._total += 1
        if self.listeners:
            entry = _entry(raw)
            for listener in self.listeners:
                listener(entry)

    def mark(self) -> int:
        return self._total

    def since(self, mark: int) -> list[TranscriptEntry]:
        n = len(self._entries)
        return [_entry(raw) for raw in itertools.islice(self._entries, max(0, n - (self._total - mark)), n)]

    @property
    def entries(self) -> list[TranscriptEntry]:
        return [_entry(raw) for raw in self._entries]

    @staticmethod
    def render(entries: list[TranscriptEntry]) -> str:
        return "\n".join(e.line() for e in entries) + ("\n" if entries else "")


def _entry(raw: tuple[float, str, Direction, Text, float | None]) -> TranscriptEntry:
    t, instrument, direction, text, elapsed = raw
    return TranscriptEntry(t, instrument, direction, text if isinstance(text, str) else text(), elapsed)
