"""The standards library stands alone: importing it loads no bench, driver, simulator or pytest code."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("pytest", "_pytest", "instruments.simulators", "instruments.drivers", "instruments.scpi",
             "hil.bench", "hil.simbench", "hil.pytest_plugin", "hil.cli", "pyvisa")


def test_import_pulls_in_nothing_of_the_bench() -> None:
    code = (
        "import sys, hil.standards as s\n"
        "s.generate_load_points(s.MeterRating(standard='IEC 62053-21', edition='2020', class_index='1', "
        "elements=3, un_v=230, constant_imp_per_kwh=1000, imin_a=0.25, itr_a=0.5, imax_a=60))\n"
        f"print('\\n'.join(m for m in sys.modules if m.startswith({FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
