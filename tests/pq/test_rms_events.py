"""hil.pq.rms, hil.pq.events and hil.pq.aggregation against hand formulas (IEC 61000-4-30 Ed. 3 + A1, 4.5, 5.2,
5.4, 5.5).

At fs = 10 kS/s and 50 Hz a cycle is 200 samples and Urms(1/2) value j covers samples [100·j, 100·j + 200). A sine
sampled from a zero crossing has mean square A²/2 over any whole half cycle of samples (Σ sin²(πm/100), m = 0..99,
is exactly 50), so a window made of one half cycle at amplitude a and one at b has RMS sqrt((a² + b²)/2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hil.pq import Aggregate, Event, aggregate, detect_events, rms_10_12_cycle, rms_aggregate, rms_half_cycle

FS = 10_000.0
V = 230.0
HALF_S = 0.01


def _sine(cycles: int, f1: float = 50.0, fs: float = FS) -> np.ndarray:
    t = np.arange(round(cycles * fs / f1)) / fs
    return math.sqrt(2) * V * np.sin(2 * np.pi * f1 * t)


def _scaled(scale: float, a: int, b: int, cycles: int = 20) -> np.ndarray:
    """A 230 V sine with samples [a, b) multiplied by ``scale``."""
    x = _sine(cycles)
    x[a:b] *= scale
    return x


def _mix(a: float, b: float) -> float:
    return math.sqrt((a * a + b * b) / 2)


def test_urms_half_of_a_two_cycle_dip_to_50_percent() -> None:
    # dip to 50 % over cycles 5 and 6: samples [1000, 1400), starting at a zero crossing
    u = rms_half_cycle(_scaled(0.5, 1000, 1400), FS, 50.0)
    expected = np.full(39, V)  # (4000 - 200) / 100 + 1 values
    expected[[9, 13]] = _mix(V, V / 2)
    expected[10:13] = V / 2
    np.testing.assert_allclose(u, expected, rtol=1e-9)


def test_urms_half_60_hz_and_window_count() -> None:
    u = rms_half_cycle(_sine(30, 60.0, 12_000.0), 12_000.0, 60.0)  # 200 samples per cycle again
    assert u.shape == (59,)
    np.testing.assert_allclose(u, V, rtol=1e-9)
    # 60 Hz at 10 kS/s: 83.33 samples per half cycle, windows of 166 or 167 samples, (10000 - 166.67)/83.33 + 1
    assert rms_half_cycle(np.ones(10_000), FS, 60.0).shape == (119,)


def test_urms_half_polyphase_shape() -> None:
    x = np.vstack([_sine(4), 0.5 * _sine(4), np.zeros(800)])
    u = rms_half_cycle(x, FS, 50.0)
    assert u.shape == (3, 7)
    np.testing.assert_allclose(u[1], V / 2, rtol=1e-9)
    np.testing.assert_allclose(u[2], 0.0)


def test_rms_10_12_cycle() -> None:
    t = np.arange(10_000) / FS
    x = _sine(50) + math.sqrt(2) * 11.5 * np.sin(2 * np.pi * 250 * t)
    np.testing.assert_allclose(rms_10_12_cycle(x, FS, 50.0), math.hypot(V, 11.5), rtol=1e-9)
    assert rms_10_12_cycle(x[:9999], FS, 50.0).shape == (4,)  # trailing part-interval dropped
    assert rms_10_12_cycle(np.ones(12_000), 12_000.0, 60.0).shape == (5,)  # 12 cycles of 60 Hz = 200 ms


def test_detect_two_cycle_dip() -> None:
    u = rms_half_cycle(_scaled(0.5, 1000, 1400), FS, 50.0)
    (ev,) = detect_events(u, V, 50.0)
    assert ev.kind == "dip"
    assert ev.extreme_v == pytest.approx(115.0, rel=1e-9) and ev.extreme_pct == pytest.approx(50.0, rel=1e-9)
    # first value below 207 V: j = 9 (window [90 ms, 110 ms)); first ≥ 211.6 V: j = 14
    assert ev.start_s == pytest.approx(9 * HALF_S) and ev.duration_s == pytest.approx(5 * HALF_S)
    assert abs(ev.duration_s - 0.04) <= HALF_S + 1e-12
    assert not ev.open_ended


def test_detect_swell_to_120_percent() -> None:
    u = rms_half_cycle(_scaled(1.2, 1000, 1600), FS, 50.0)
    assert _mix(V, 1.2 * V) > 1.1 * V  # the straddling windows count (254.05 V > 253 V)
    (ev,) = detect_events(u, V, 50.0)
    assert ev.kind == "swell" and ev.start_s == pytest.approx(0.09) and ev.duration_s == pytest.approx(0.07)
    assert ev.extreme_v == pytest.approx(1.2 * V, rel=1e-9) and ev.extreme_pct == pytest.approx(120.0, rel=1e-9)


def test_detect_interruption_supersedes_its_dip() -> None:
    u = rms_half_cycle(_scaled(0.0, 1000, 1600), FS, 50.0)
    (ev,) = detect_events(u, V, 50.0)
    # below 11.5 V: j = 10..14 (all-zero windows); j = 15 is sqrt(230²/2) = 162.6 V ≥ 16.1 V
    assert ev == Event("interruption", pytest.approx(0.10), pytest.approx(0.05), 0.0, 0.0)  # type: ignore[arg-type]
    both = detect_events(u, V, 50.0, interruptions_supersede_dips=False)
    assert [e.kind for e in both] == ["dip", "interruption"]
    assert both[0].start_s == pytest.approx(0.09) and both[0].duration_s == pytest.approx(0.07)
    assert both[0].extreme_v == 0.0


def test_hysteresis_dip_recovering_to_91_percent_stays_a_dip() -> None:
    u = np.array([V] * 10 + [0.8 * V] * 5 + [0.91 * V] * 5 + [0.915 * V] * 3 + [230 * 92 / 100] * 4 + [V] * 3)
    (ev,) = detect_events(u, V, 50.0)
    assert ev.kind == "dip" and ev.start_s == pytest.approx(0.10)
    assert ev.duration_s == pytest.approx(13 * HALF_S)  # ends at the first value equal to 92 %
    assert ev.extreme_pct == pytest.approx(80.0)
    # without the recovery the dip runs to the end of the record
    (open_ev,) = detect_events(u[:23], V, 50.0)
    assert open_ev.open_ended and open_ev.duration_s == pytest.approx(13 * HALF_S)
    # values between 90 % and 92 % start nothing
    assert detect_events(np.full(20, 0.91 * V), V, 50.0) == []


def test_polyphase_dip_starts_on_first_channel_and_ends_on_last() -> None:
    a = np.full(30, V)
    b = np.full(30, V)
    c = np.full(30, V)
    a[10:15] = 115.0
    b[12:20] = 0.7 * V
    (ev,) = detect_events(np.vstack([a, b, c]), V, 50.0)
    assert ev.kind == "dip" and ev.start_s == pytest.approx(0.10) and ev.duration_s == pytest.approx(0.10)
    assert ev.extreme_v == 115.0


def test_polyphase_interruption_needs_all_channels() -> None:
    a, b, c = np.full(30, V), np.full(30, V), np.full(30, V)
    a[10:15] = 0.0
    (ev,) = detect_events(np.vstack([a, b, c]), V, 50.0)
    assert ev.kind == "dip" and ev.extreme_v == 0.0
    b[11:14] = c[12:16] = 0.0  # all below 5 % on j = 12, 13 only; ends at j = 14 (a, b back)
    evs = detect_events(np.vstack([a, b, c]), V, 50.0)
    assert [e.kind for e in evs] == ["interruption"]
    assert evs[0].start_s == pytest.approx(0.12) and evs[0].duration_s == pytest.approx(0.02)
    polyphase_both = detect_events(np.vstack([a, b, c]), V, 50.0, interruptions_supersede_dips=False)
    assert [e.kind for e in polyphase_both] == ["dip", "interruption"]
    assert polyphase_both[0].duration_s == pytest.approx(0.06)  # j = 10..15 (c back at 16)


def test_custom_thresholds_and_60_hz_time_base() -> None:
    u = np.array([120.0] * 6 + [100.0] * 6 + [120.0] * 6)
    (ev,) = detect_events(u, 120.0, 60.0, dip_threshold_pct=85)
    assert ev.start_s == pytest.approx(6 / 120) and ev.duration_s == pytest.approx(6 / 120)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([],), {}, "urms_half is empty"),
        (([1.0, math.nan],), {}, "urms_half contains NaN"),
        (([-1.0, 230.0],), {}, "negative"),
        ((np.zeros((2, 2, 2)),), {}, "urms_half must be"),
        (([230.0], 0.0), {}, "declared_v"),
        (([230.0],), {"dip_threshold_pct": 120}, "thresholds"),
        (([230.0],), {"hysteresis_pct": -1}, "hysteresis_pct"),
    ],
)
def test_detect_events_bad_input(args: tuple[object, ...], kwargs: dict[str, object], match: str) -> None:
    full = [*args, *[V, 50.0][len(args) - 1 :]]  # urms_half [, declared_v], then the defaults
    with pytest.raises(ValueError, match=match):
        detect_events(*full, **kwargs)  # type: ignore[arg-type]


def test_rms_bad_input() -> None:
    with pytest.raises(ValueError, match="shorter than one cycle"):
        rms_half_cycle(np.ones(150), FS, 50.0)
    with pytest.raises(ValueError, match=r"fs=100\.0 Hz is too low"):
        rms_half_cycle(np.ones(150), 100.0, 50.0)
    with pytest.raises(ValueError, match="samples contains NaN"):
        rms_10_12_cycle(np.full(3000, np.nan), FS, 50.0)
    with pytest.raises(ValueError, match="f_nominal"):
        rms_half_cycle(np.ones(400), FS, 0.0)


def test_rms_aggregate_of_1_2_3() -> None:
    assert rms_aggregate([1.0, 2.0, 3.0]) == pytest.approx(math.sqrt(14 / 3), rel=1e-15)
    with pytest.raises(ValueError, match="values is empty"):
        rms_aggregate([])


def test_aggregate_150_cycle_blocks() -> None:
    v = np.arange(1.0, 31.0)
    out = aggregate(v, "150/180-cycle")
    assert [a.count for a in out] == [15, 15]
    assert out[0].value == pytest.approx(math.sqrt(sum(i * i for i in range(1, 16)) / 15))
    assert math.isnan(out[0].start_s)


def test_aggregate_10_min_by_clock_and_resynchronised_150_cycle() -> None:
    # 10/12-cycle values every 0.2 s from 599.0 s to 601.2 s: 5 before the 600 s tick, 7 after
    t = 599.0 + 0.2 * np.arange(12)
    v = np.array([1.0] * 5 + [2.0] * 7)
    ten = aggregate(v, "10-min", t)
    assert ten == [Aggregate(0.0, 600.0, 1.0, 5), Aggregate(600.0, 1200.0, 2.0, 7)]
    blocks = aggregate(v, "150/180-cycle", t)
    assert [(b.count, b.value) for b in blocks] == [(5, 1.0), (7, 2.0)]
    assert blocks[1].start_s == pytest.approx(600.0) and blocks[1].end_s == pytest.approx(601.4)


def test_aggregate_2_h() -> None:
    v = np.array([3.0] * 12 + [4.0] * 12)
    assert [a.value for a in aggregate(v, "2-h")] == [3.0, 4.0]
    t = 600.0 * np.arange(24) + 3600.0  # starts 1 h into a 2-h interval
    out = aggregate(v, "2-h", t)
    assert [(a.start_s, a.count) for a in out] == [(0.0, 6), (7200.0, 12), (14400.0, 6)]
    assert out[1].value == pytest.approx(math.sqrt((6 * 9 + 6 * 16) / 12))


def test_aggregate_bad_input() -> None:
    with pytest.raises(ValueError, match="timestamps_s is required"):
        aggregate([1.0], "10-min")
    with pytest.raises(ValueError, match="kind must be"):
        aggregate([1.0], "1-h")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one time stamp per value"):
        aggregate([1.0, 2.0], "10-min", [0.0])
    with pytest.raises(ValueError, match="non-decreasing"):
        aggregate([1.0, 2.0], "10-min", [1.0, 0.0])
