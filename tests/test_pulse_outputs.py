"""The run's pulse-output knowledge across kinds (hil.measure.pulse_outputs): what an accuracy point, a sequence
or a check learnt about a meter's test output decides how a later test judged from pulses treats 0 pulses."""

from __future__ import annotations

from hil.core.steps import PositionOutcome
from hil.measure.pulse_outputs import PulseOutputs


def _o(pos: int, pulses: int, verdict: str | None = None, reason: str = "") -> PositionOutcome:
    return PositionOutcome(pos, f"S{pos}", pulses, 0, None, 60.0, verdict, reason)


def test_an_output_silent_at_every_accuracy_point_breaks_a_later_sequence_row() -> None:
    t = PulseOutputs()
    t.after([_o(1, 40), _o(11, 0, "broken", "no pulses from the meter within 63 s")], "accuracy", "acc",
            judged_from_pulses=False)
    t.after([_o(1, 40), _o(11, 0, "broken", "no pulses from the meter within 63 s")], "accuracy", "acc",
            judged_from_pulses=False)
    assert (t.state(1), t.state(11)) == ("works", "dead")
    seq = [_o(1, 5000), _o(11, 0)]
    t.after(seq, "burn_in", "bi")
    assert seq[0].verdict is None  # judged by its kind
    assert seq[1].verdict == "broken" and seq[1].reason == (
        "no pulses: the meter's pulse output gave nothing at every accuracy point of this run (2 point(s)), so "
        "burn_in cannot be judged from pulses")


def test_pulses_in_any_kind_prove_the_output_works_for_a_later_count_test() -> None:
    t = PulseOutputs()
    assert t.state(3) == "unknown"
    t.after([_o(3, 12)], "check", "bi.before")  # an accuracy check around a sequence
    assert t.state(3) == "works"
    count = [_o(3, 0)]
    t.after(count, "starting", "st")  # 0 pulses at Ist from a working output: the count's own verdict stands
    assert count[0].verdict is None


def test_a_silent_pulse_output_check_marks_the_output_dead_and_is_consumed() -> None:
    t = PulseOutputs()
    o = _o(4, 0, "broken", "the pulse output gives no pulses at Iref")
    o.extra["pulse_output_ok"] = False
    t.after([o], "no_load", "nl")
    assert t.state(4) == "dead" and "pulse_output_ok" not in o.extra  # not a results column
    assert "pulse-output check at Iref of test 'nl'" in t.no_pulses[4]
