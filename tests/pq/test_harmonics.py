"""hil.pq.harmonics against hand formulas (IEC 61000-4-7 Ed. 2 + A1, 3.2–3.4, 5.6, 5.7).

Expectations come from the signal's construction (an RMS amplitude ``A`` of a sine is ``A``; a tone on DFT bin
``k`` of a synchronised rectangular window lands in bin ``k`` only) or from the closed-form DFT of a sinusoid
(Dirichlet kernel), never from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hil.pq import (
    harmonic_groups,
    harmonic_subgroups,
    interharmonic_centred_subgroups,
    interharmonic_groups,
    thd,
    thd_from_groups,
)

FS = 10_000.0
V = 230.0


def _tones(f_nominal: float, seconds: float, tones: list[tuple[float, float, float]], dc: float = 0.0) -> np.ndarray:
    """Sum of sines: (frequency Hz, RMS volts, phase rad)."""
    t = np.arange(round(seconds * FS)) / FS
    x = np.full_like(t, dc)
    for f, rms, ph in tones:
        x += math.sqrt(2) * rms * np.sin(2 * np.pi * f * t + ph)
    return x


@pytest.mark.parametrize("f1", [50.0, 60.0])
def test_groups_of_fundamental_5th_7th(f1: float) -> None:
    x = _tones(f1, 1.0, [(f1, V, 0.0), (5 * f1, 0.05 * V, 0.4), (7 * f1, 0.03 * V, -1.1)])
    g = harmonic_groups(x, FS, f1)
    assert g.shape == (51,)
    expected = np.zeros(51)
    expected[1], expected[5], expected[7] = V, 0.05 * V, 0.03 * V
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-9 * V)
    np.testing.assert_allclose(harmonic_subgroups(x, FS, f1), expected, rtol=1e-9, atol=1e-9 * V)
    assert thd(x, FS, f1) == pytest.approx(math.sqrt(5**2 + 3**2), rel=1e-9)
    assert thd(x, FS, f1, groups=False) == pytest.approx(math.sqrt(5**2 + 3**2), rel=1e-9)
    assert thd_from_groups(expected) == pytest.approx(math.sqrt(34), rel=1e-12)


def test_thd_max_order_excludes_higher_orders() -> None:
    x = _tones(50.0, 0.4, [(50.0, V, 0.0), (3 * 50.0, 0.04 * V, 0.0), (45 * 50.0, 0.02 * V, 0.0)])
    assert thd(x, FS, 50.0) == pytest.approx(4.0, rel=1e-9)  # H = 40: the 45th is out
    assert thd(x, FS, 50.0, max_order=50) == pytest.approx(math.sqrt(4**2 + 2**2), rel=1e-9)


def test_dc_is_order_zero_and_2d_input_is_per_channel() -> None:
    a = _tones(50.0, 0.4, [(50.0, V, 0.0)], dc=10.0)
    b = _tones(50.0, 0.4, [(50.0, 100.0, 1.0), (150.0, 7.0, 0.0)])
    g = harmonic_groups(np.vstack([a, b]), FS, 50.0)
    assert g.shape == (2, 51)
    assert g[0, 0] == pytest.approx(10.0, rel=1e-9)
    assert g[0, 1] == pytest.approx(V, rel=1e-9)
    assert g[1, 1] == pytest.approx(100.0, rel=1e-9) and g[1, 3] == pytest.approx(7.0, rel=1e-9)


def test_groups_are_rms_averaged_over_windows() -> None:
    # 5th harmonic present in the first 200 ms window only (of two): RMS average = sqrt((A² + 0)/2)
    x = _tones(50.0, 0.4, [(50.0, V, 0.0)])
    x[:2000] += _tones(50.0, 0.2, [(250.0, 20.0, 0.0)])
    assert harmonic_groups(x, FS, 50.0)[5] == pytest.approx(20.0 / math.sqrt(2), rel=1e-9)


def test_bin_centred_interharmonic_285_hz() -> None:
    # 285 Hz = bin 57 of the 5 Hz grid: between orders 5 (bin 50) and 6 (bin 60), not adjacent to either
    x = _tones(50.0, 0.6, [(50.0, V, 0.0), (285.0, 4.0, 0.7)])
    ig, isg = interharmonic_groups(x, FS, 50.0), interharmonic_centred_subgroups(x, FS, 50.0)
    exp = np.zeros(51)
    exp[5] = 4.0
    np.testing.assert_allclose(ig, exp, atol=1e-9 * V)
    np.testing.assert_allclose(isg, exp, atol=1e-9 * V)
    # no harmonic *subgroup* sees it (bins 49..51, 59..61) ...
    sg = harmonic_subgroups(x, FS, 50.0)
    np.testing.assert_allclose(np.delete(sg, 1), 0.0, atol=1e-9 * V)
    # ... but the harmonic *group* 6 (bins 55..65, ±25 Hz around 300 Hz) holds it whole: the groups tile the spectrum
    g = harmonic_groups(x, FS, 50.0)
    assert g[6] == pytest.approx(4.0, rel=1e-9)
    np.testing.assert_allclose(np.delete(g, [1, 6]), 0.0, atol=1e-9 * V)


def test_bin_adjacent_interharmonic_is_outside_the_centred_subgroup() -> None:
    x = _tones(50.0, 0.4, [(50.0, V, 0.0), (255.0, 3.0, 0.0)])  # bin 51, next to the 5th harmonic's bin
    assert interharmonic_groups(x, FS, 50.0)[5] == pytest.approx(3.0, rel=1e-9)
    assert interharmonic_centred_subgroups(x, FS, 50.0)[5] == pytest.approx(0.0, abs=1e-9 * V)
    assert harmonic_subgroups(x, FS, 50.0)[5] == pytest.approx(3.0, rel=1e-9)


def _dirichlet_cos_rms(m: int, k0: float, rms: float) -> np.ndarray:
    """RMS spectral components C_k (k = 0..m/2) of sqrt2·rms·cos(2π·k0·i/m), i = 0..m-1, by the closed form
    X_k = (A/2)·(D(k0 - k) + D(-k0 - k)), D(d) = (1 - e^{j2πd}) / (1 - e^{j2πd/m})."""
    k = np.arange(m // 2 + 1)

    def d(delta: np.ndarray) -> np.ndarray:
        out: np.ndarray = (1 - np.exp(2j * np.pi * delta)) / (1 - np.exp(2j * np.pi * delta / m))
        return out

    amp = math.sqrt(2) * rms
    x = amp / 2 * (d(k0 - k) + d(-k0 - k))
    c: np.ndarray = math.sqrt(2) * np.abs(x) / m
    return c


def test_interharmonic_287_5_hz_is_not_bin_centred_and_leaks() -> None:
    # 287.5 Hz is half-way between bins 57 and 58 of a 200 ms window (57.5 cycles): a rectangular window leaks it
    # over the whole spectrum. Most of it is in interharmonic group 5 (bins 51..59), but not all, and the harmonic
    # groups 5 and 6 see some of it (group 6, 275..325 Hz, holds the bulk).
    m = 2000
    x = math.sqrt(2) * 10.0 * np.cos(2 * np.pi * 287.5 * np.arange(m) / FS)
    c2 = _dirichlet_cos_rms(m, 57.5, 10.0) ** 2
    ig5 = math.sqrt(c2[51:60].sum())
    isg5 = math.sqrt(c2[52:59].sum())
    g5 = math.sqrt(c2[45] / 2 + c2[46:55].sum() + c2[55] / 2)
    g6 = math.sqrt(c2[55] / 2 + c2[56:65].sum() + c2[65] / 2)
    assert interharmonic_groups(x, FS, 50.0)[5] == pytest.approx(ig5, rel=1e-9)
    assert interharmonic_centred_subgroups(x, FS, 50.0)[5] == pytest.approx(isg5, rel=1e-9)
    g = harmonic_groups(x, FS, 50.0)
    assert g[5] == pytest.approx(g5, rel=1e-9) and g[6] == pytest.approx(g6, rel=1e-9)
    assert 9.0 < ig5 < 10.0 and g5 > 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"samples": np.array([])}, "samples is empty"),
        ({"samples": np.array([1.0, np.nan] * 2000)}, "samples contains NaN"),
        ({"samples": np.zeros((2, 2, 4000))}, "samples must be"),
        ({"samples": np.zeros(1999)}, "shorter than one 10-cycle window"),
        ({"fs": 5000.0}, "fs=5000.0 Hz is too low for harmonic groups up to order 50"),
        ({"fs": 10_001.0}, "whole number of samples"),
        ({"fs": float("nan")}, "fs must be"),
        ({"f_nominal": 55.0}, "f_nominal must be 50 or 60"),
        ({"max_order": 51}, "max_order"),
    ],
)
def test_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"samples": np.zeros(4000), "fs": FS, "f_nominal": 50.0} | kwargs
    with pytest.raises(ValueError, match=match):
        harmonic_groups(**args)  # type: ignore[arg-type]


def test_low_fs_is_enough_for_lower_max_order() -> None:
    fs = 5000.0
    t = np.arange(2000) / fs
    x = math.sqrt(2) * V * np.sin(2 * np.pi * 50 * t) + math.sqrt(2) * 9.2 * np.sin(2 * np.pi * 250 * t)
    assert harmonic_groups(x, fs, 50.0, max_order=40)[5] == pytest.approx(9.2, rel=1e-9)
    assert thd(x, fs, 50.0) == pytest.approx(4.0, rel=1e-9)


def test_thd_errors() -> None:
    with pytest.raises(ValueError, match="fundamental"):
        thd(np.zeros(4000), FS, 50.0)
    with pytest.raises(ValueError, match="samples must be 1-D"):
        thd(np.zeros((3, 4000)), FS, 50.0)
    with pytest.raises(ValueError, match="max_order"):
        thd_from_groups(np.ones(51), max_order=1)


def test_pq_imports_only_numpy_scipy_stdlib() -> None:
    import ast
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "hil" / "pq"
    for name in ("__init__", "harmonics", "rms", "events", "unbalance", "aggregation"):
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for mod in mods:
                top = mod.split(".")[0]
                assert top in {"numpy", "scipy", "hil", "__future__"} or top in sys.stdlib_module_names, (name, mod)
                if top == "hil":
                    assert mod.startswith("hil.pq"), (name, mod)
