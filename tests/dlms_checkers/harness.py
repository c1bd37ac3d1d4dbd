"""Run the DLMS checker scripts as subprocesses (our code; imports no third-party DLMS package).

Tests use it like::

    from tests.dlms_checkers.harness import require_checkers, run_client, server

    require_checkers("gurux_server.py", "dlmscosem_client.py")
    with server("gurux_server.py") as port:
        doc = run_client("dlmscosem_client.py", {"port": port, "ops": [...]})

The scripts run under ``$DLMS_CHECKER_PYTHON`` when set (an interpreter that has the checker
packages, e.g. a separate venv), else under this interpreter (where the test-only extra ``dlms-check``
installs them: ``pip install -e ".[dlms-check]"``).

Tests (or their fixtures) that need a checker call :func:`require_checkers` first: when the
interpreter cannot import a checker's package the test **fails**, naming the extra to install, so that
CI never passes by skipping the interoperability tests. Set ``MHL_ALLOW_MISSING_CHECKERS=1`` to skip
them instead (a machine without the packages, on purpose).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: The distribution each script needs (import name, distribution name).
NEEDS = {
    "gurux_client.py": ("gurux_dlms", "gurux-dlms"),
    "gurux_payment.py": ("gurux_dlms", "gurux-dlms"),
    "gurux_server.py": ("gurux_dlms", "gurux-dlms"),
    "dlmscosem_client.py": ("dlms_cosem", "dlms-cosem"),
    "pydlms_client.py": ("pydlms", "pydlms-client"),
    "third_party_server.py": ("pydlms", "pydlms-client"),
}


#: the test-only extra of pyproject.toml that installs every checker package
EXTRA = "dlms-check"
#: set to 1 to skip (instead of fail) tests whose checker packages are missing
ALLOW_MISSING = "MHL_ALLOW_MISSING_CHECKERS"


def python() -> str:
    return os.environ.get("DLMS_CHECKER_PYTHON") or sys.executable


@functools.cache
def checker_available(script: str) -> bool:
    """Whether the checker interpreter can import what ``script`` needs."""
    module = NEEDS[script][0]
    probe = subprocess.run([python(), "-c", f"import {module}"], capture_output=True, timeout=60, check=False)
    return probe.returncode == 0


def missing_checkers(*scripts: str) -> list[str]:
    """The distributions (``gurux-dlms`` ...) that the checker interpreter lacks for ``scripts``."""
    return sorted({NEEDS[s][1] for s in scripts if not checker_available(s)})


def require_checkers(*scripts: str) -> None:
    """Fail the calling test (skip it with ``MHL_ALLOW_MISSING_CHECKERS=1``) unless the checker interpreter
    can run every one of ``scripts``."""
    import pytest

    missing = missing_checkers(*scripts)
    if not missing:
        return
    where = f"$DLMS_CHECKER_PYTHON={os.environ['DLMS_CHECKER_PYTHON']}" if os.environ.get("DLMS_CHECKER_PYTHON") \
        else f"this interpreter ({sys.executable})"
    message = (f"DLMS checker packages missing in {where}: {', '.join(missing)}. Install the test-only extra: "
               f"pip install -e \".[{EXTRA}]\" (or point DLMS_CHECKER_PYTHON at an interpreter that has them); "
               f"set {ALLOW_MISSING}=1 to skip these tests instead")
    if os.environ.get(ALLOW_MISSING) == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def run_client(script: str, config: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """Run a checker client with ``config``; its JSON document, with ``"exit"`` (its exit code) added."""
    proc = subprocess.run(
        [python(), str(HERE / script), "-"],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        doc: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"{script} printed no JSON (exit {proc.returncode}): {proc.stderr[-2000:]}") from None
    doc["exit"] = proc.returncode
    return doc


@contextmanager
def server(script: str, *args: str, startup: float = 30.0) -> Iterator[int]:
    """Start a checker server on a free port; yields the port, stops the server afterwards."""
    proc = subprocess.Popen(
        [python(), str(HERE / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = _readline(proc, startup)
        if not line.startswith("READY "):
            raise RuntimeError(f"{script} did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line of ``proc`` within ``timeout`` seconds ("" if it exited or stayed silent)."""
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return ""
    return proc.stdout.readline().strip()
