"""hil.reliability stands alone: importing and using it loads no bench, driver, simulator, CLI or pytest code."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("pytest", "_pytest", "instruments.simulators", "instruments.drivers", "instruments.scpi",
             "hil.bench", "hil.simbench", "hil.pytest_plugin", "hil.cli", "hil.runner", "pyvisa")


def test_import_pulls_in_nothing_of_the_bench() -> None:
    code = (
        "import sys, hil.reliability as r\n"
        "d = r.LifeData.of([100.0, 200.0, 300.0, 400.0], [1, 1, 0, 1])\n"
        "r.weibull_plot_png(d, r.fit_weibull(d)); r.mtbf_lower_bound(1000, 1, 0.9)\n"
        f"print('\\n'.join(m for m in sys.modules if m.startswith({FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_module_imports_the_analytics_lazily() -> None:
    # `hil --help` must not pay for scipy and matplotlib
    code = "import sys, hil.cli_reliability\nprint('scipy' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
