"""The HTML report of a run, built by the project's local Allure 3 (npm package ``allure``, see package.json).

``build_report(run_dir)`` runs ``node node_modules/.bin/allure generate <run_dir>/allure-results -o
<run_dir>/allure-report`` with a configuration written next to the results (``<run_dir>/allurerc.json``). The report
is a single self-contained ``index.html`` (Allure 3 "awesome" report in single-file mode): it opens from the file
system with a double click, with no web server — a multi-file Allure report cannot load its data over ``file://``.
Without Node or without the local Allure it says how to install them and returns None; nothing else is affected.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from hil.reporting.allure_files import RESULTS_DIR, allure3_categories, read_run_json

REPORT_DIR = "allure-report"
CONFIG_FILE = "allurerc.json"
#: Allure groups the results tree by these labels: meter serial → test type → load point
GROUP_BY = ("suite", "feature", "story")
INSTALL_HINT = (
    "install it once in the project folder with `npm ci` (or run scripts/bootstrap, which does it when npm is"
    " available); Node.js comes from your system's packages, e.g. `apt-get install nodejs npm`"
)
_ALLURE_BIN = Path("node_modules") / ".bin" / "allure"
#: the project folder when installed from a checkout (editable install): hil/reporting/html.py → ../../..
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _candidates(start: Path) -> Iterable[Path]:
    start = start.resolve()
    yield from (start, *start.parents)
    yield from (_PROJECT_ROOT, *_PROJECT_ROOT.parents)


def _is_allure3(folder: Path) -> bool:
    """``folder/node_modules`` holds the npm package ``allure`` at major version 3 or later (not Allure 2's
    ``allure-commandline``, whose CLI is also called ``allure`` but takes other options)."""
    try:
        meta = json.loads((folder / "node_modules" / "allure" / "package.json").read_text(encoding="utf-8"))
        return int(str(meta.get("version", "0")).split(".")[0]) >= 3
    except (OSError, ValueError, AttributeError):
        return False


def find_allure(start: str | Path | None = None) -> Path | None:
    """The local Allure 3 CLI, ``node_modules/.bin/allure``: in ``start`` (default: the current directory) or a
    parent, else in the project folder or a parent; None if there is none."""
    for folder in _candidates(Path(start) if start is not None else Path.cwd()):
        cli = folder / _ALLURE_BIN
        if cli.is_file() and _is_allure3(folder):
            return cli
    return None


def allure_config(run_meta: Mapping[str, Any]) -> dict[str, Any]:
    """The Allure 3 configuration of a run's report."""
    run_id = run_meta.get("run_id")
    name = f"MeterHIL {run_id}" if run_id else "MeterHIL"
    return {
        "name": name,
        "categories": allure3_categories(run_meta),
        "plugins": {
            "awesome": {
                "options": {"reportName": name, "singleFile": True, "groupBy": list(GROUP_BY)},
            },
        },
    }


def _say(out: TextIO, msg: str) -> None:
    print(f"hil report: {msg}", file=out, flush=True)


def build_report(run_dir: str | Path, *, allure: str | Path | None = None, node: str | None = None,
                 timeout_s: float = 600.0, out: TextIO | None = None) -> Path | None:
    """Build ``<run_dir>/allure-report/index.html`` from ``<run_dir>/allure-results``; its path, or None.

    ``allure``/``node`` default to :func:`find_allure` and the ``node`` on PATH. Messages go to ``out``
    (default stderr). A failure to build is reported, never raised: the run's results stay as they are.
    """
    stream = out if out is not None else sys.stderr
    d = Path(run_dir)
    results = d / RESULTS_DIR
    if not results.is_dir() or not any(results.iterdir()):
        _say(stream, f"no Allure results in {results}: nothing to build the HTML report from")
        return None
    node_exe = node if node is not None else shutil.which("node")
    if not node_exe:
        _say(stream, f"Node.js (`node`) is not installed, so the HTML report cannot be built; {INSTALL_HINT}."
                     f" The results, plots and Allure results in {d} are complete without it.")
        return None
    cli = Path(allure) if allure is not None else find_allure()
    if cli is None or not cli.is_file():
        _say(stream, f"the project's Allure 3 (node_modules/.bin/allure) is not installed; {INSTALL_HINT}."
                     f" The results, plots and Allure results in {d} are complete without it.")
        return None
    config = d / CONFIG_FILE
    config.write_text(json.dumps(allure_config(read_run_json(d)), indent=2, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    report = d / REPORT_DIR
    if report.exists():  # a stale report must not survive a failed rebuild looking current
        shutil.rmtree(report)
    cmd = [node_exe, str(cli), "generate", "--config", str(config.resolve()), str(results.resolve()),
           "-o", str(report.resolve())]
    env = dict(os.environ, NO_COLOR="1", FORCE_COLOR="0")
    try:
        proc = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _say(stream, f"Allure could not build the HTML report: {exc}")
        return None
    index = report / "index.html"
    if proc.returncode != 0 or not index.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        _say(stream, f"Allure failed (exit {proc.returncode}) building the HTML report:\n{tail}")
        return None
    return index
