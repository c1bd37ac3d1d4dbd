"""Weibull probability plot: plotting positions by hand (Johnson's adjusted ranks, Bernard) and a real PNG."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from matplotlib.image import imread

from hil.reliability import LifeData, fit_weibull, median_ranks, weibull_plot_png


def test_adjusted_ranks_by_hand() -> None:
    # sorted: 10 F, 20 S, 30 F, 40 F (n = 4)
    # ranks: 0 + 5/(1+4) = 1; 1 + (5−1)/(1+2) = 7/3; 7/3 + (5−7/3)/(1+1) = 11/3
    data = LifeData.of([40.0, 10.0, 30.0, 20.0], [1, 1, 1, 0])
    hours, f = median_ranks(data)
    assert list(hours) == [10.0, 30.0, 40.0]
    assert f == pytest.approx([(r - 0.3) / 4.4 for r in (1.0, 7 / 3, 11 / 3)])


def test_complete_sample_is_plain_bernard() -> None:
    _, f = median_ranks(LifeData.of([5.0, 1.0, 3.0], [1, 1, 1]))
    assert f == pytest.approx([(i - 0.3) / 3.4 for i in (1, 2, 3)])


def test_tie_failure_ranks_before_censored() -> None:
    # a unit censored at 20 h was seen working at 20 h, so the failure at 20 h comes first
    _, f = median_ranks(LifeData.of([20.0, 20.0, 30.0], [0, 1, 1]))
    assert f[0] == pytest.approx((1 - 0.3) / 3.4)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_png_with_fit_and_censored_units() -> None:
    rng = np.random.default_rng(9)
    t = 2000.0 * rng.weibull(1.5, 30)
    data = LifeData.of(np.minimum(t, 2500.0), t < 2500.0)
    png = weibull_plot_png(data, fit_weibull(data))
    assert png_size(png) == (800, 600)
    pixels = imread(io.BytesIO(png))
    assert pixels.std() > 0.05  # something is drawn, not a blank canvas
    plain = weibull_plot_png(data)  # data only, no fit line
    assert png_size(plain) == (800, 600) and plain != png
