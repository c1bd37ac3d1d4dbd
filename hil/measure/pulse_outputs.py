"""Whose pulse output is known to work or known dead in this run (a run service every kind that counts pulses
shares, :func:`pulse_outputs`).

A test judged from pulses (starting, no-load, a sequence…) that sees 0 pulses means something only from an output
that can pulse: any step where the meter pulsed proves it works; an accuracy point where it gave nothing at every
point so far, or a count test's pulse-output check at Iref that stayed silent, proves it dead — and then a test of
that meter judged from pulses is broken, not passed."""

from __future__ import annotations

from typing import Any

from hil.core.steps import PositionOutcome


def pulse_outputs(run: Any) -> PulseOutputs:
    """The run's tracker (a :class:`hil.core.run.RunContext` service)."""
    return run.service(PulseOutputs)  # type: ignore[no-any-return]


class PulseOutputs:
    def __init__(self, run: Any = None) -> None:
        self.no_pulses: dict[int, str] = {}  # position -> why its pulse output is considered dead
        self._dead_counts: dict[int, int] = {}
        self._pulsed: set[int] = set()

    def state(self, position: int) -> str:
        """``works`` (it pulsed earlier in this run), ``dead`` (silent where it had to pulse) or ``unknown``."""
        return "works" if position in self._pulsed else "dead" if position in self.no_pulses else "unknown"

    def judge_from_pulses(self, outcomes: list[PositionOutcome], kind: str) -> None:
        """A test judged from pulses cannot judge a known-dead output that gave none: broken, and why."""
        for o in outcomes:
            if o.verdict is None and o.mut_pulses == 0 and o.position in self.no_pulses:
                o.verdict, o.reason = "broken", (f"no pulses: the meter's pulse output gave nothing"
                                                 f" {self.no_pulses[o.position]}, so {kind} cannot be judged"
                                                 " from pulses")

    def after(self, outcomes: list[PositionOutcome], kind: str, test_id: str, judged_from_pulses: bool = True) -> None:
        """A step's outcomes, as every pulse-counting step reports them: judged (a known-dead output giving none
        is broken) unless the step is not judged from pulses (accuracy: its own "no pulses"), then learnt from."""
        if judged_from_pulses:
            self.judge_from_pulses(outcomes, kind)
        self.track(outcomes, kind, test_id)

    def track(self, outcomes: list[PositionOutcome], kind: str, test_id: str) -> None:
        """Learn from a step's outcomes (``extra["pulse_output_ok"]`` of a pulse-output check is consumed here: not
        a results column)."""
        for o in outcomes:
            checked = o.extra.pop("pulse_output_ok", None)
            if checked is False:
                self.no_pulses[o.position] = f"in the pulse-output check at Iref of test {test_id!r}"
            elif kind == "accuracy" and o.position not in self._pulsed and o.verdict == "broken" \
                    and o.mut_pulses == 0 and o.reason.startswith("no pulses"):
                n = self._dead_counts[o.position] = self._dead_counts.get(o.position, 0) + 1
                self.no_pulses[o.position] = f"at every accuracy point of this run ({n} point(s))"
            elif kind == "accuracy" or o.mut_pulses > 0 or checked:
                self._pulsed.add(o.position)  # it pulsed once: a later count test judges it normally
                self.no_pulses.pop(o.position, None)
