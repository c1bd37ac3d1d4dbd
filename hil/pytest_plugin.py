"""pytest plugin of MeterHIL (entry point ``meterhil``).

Options: ``--bench FILE`` (a bench file; without it the default simulated bench is served in-process),
``--allow-expired-calibration``, ``--sim-bench FILE`` / ``--sim-seed N`` (the simulated bench used without
``--bench``).

Fixtures: ``bench`` (session-wide :class:`hil.bench.Bench`), ``simulated_bench`` (the in-process simulator, when
one runs), ``safe_state`` (the session's :class:`hil.safety.SafeState`).

Safety: SIGTERM/SIGHUP become a ``KeyboardInterrupt`` so pytest unwinds and tears down like after Ctrl-C; the
bench's safe state (source outputs off first) runs at the end of the session and at interpreter exit.
The SCPI transcript of each test is attached to its report (Allure attachment when Allure is on).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hil.core.bench_life import SAFE_STATE_KEY
from hil.safety import GUARDIAN_ENV, SafeState, die_with

_SAFE_STATE = SAFE_STATE_KEY
_SIM = pytest.StashKey[Any]()
_BENCH = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meterhil")
    group.addoption("--bench", default=None, help="bench file (default: the simulated bench, served in-process)")
    group.addoption(
        "--allow-expired-calibration", action="store_true", default=False,
        help="run even if the reference standard's calibration has expired (every result is marked)",
    )
    group.addoption("--sim-bench", default=None, help="simulated-bench YAML used when no --bench is given")
    group.addoption("--sim-seed", type=int, default=None, help="seed of the simulated bench")
    group.addoption("--run-dir", default=None, help="run directory for results (default: reports/<run-id>)")
    group.addoption(
        "--resume", action="store_true", default=False,
        help="continue the interrupted run in --run-dir: completed points are kept, a sequence continues from "
             "its checkpoint",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """YAML test plans (a top-level ``plan:`` key) are collected directly."""
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    from hil.core.collect import collect_plan_file

    return collect_plan_file(file_path, parent)


#: the session's safe state, for the one hook that is not given the config
_session_safe: list[SafeState] = []


def pytest_configure(config: pytest.Config) -> None:
    safe = SafeState()
    safe.install()
    config.stash[_SAFE_STATE] = safe
    _session_safe[:] = [safe]
    guardian = os.environ.get(GUARDIAN_ENV)
    if guardian:  # run by `hil run`: stop (source off) when it dies, before anything is energised
        die_with(int(guardian))


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Ctrl-C, SIGTERM or SIGHUP: outputs off now, before pytest finishes the session (its reports, Allure files
    and plots take seconds); the session end runs the safe state again, which is harmless (every action is)."""
    for safe in _session_safe:
        safe.run(f"interrupted: {excinfo.value}")


def pytest_unconfigure(config: pytest.Config) -> None:
    safe = config.stash.get(_SAFE_STATE, None)
    if safe is not None:
        safe.run("pytest session end")
        safe.uninstall()
    _session_safe.clear()


@pytest.fixture(scope="session")
def safe_state(pytestconfig: pytest.Config) -> SafeState:
    return pytestconfig.stash[_SAFE_STATE]


@pytest.fixture(scope="session")
def simulated_bench(pytestconfig: pytest.Config) -> Iterator[Any]:
    """The in-process simulated bench (a :class:`instruments.simulators.bench.RunningBench`)."""
    from instruments.simulators.bench import RunningBench, SimulatedBench

    sim = SimulatedBench.from_file(pytestconfig.getoption("--sim-bench"), seed=pytestconfig.getoption("--sim-seed"))
    with RunningBench(sim) as running:
        yield running


@pytest.fixture(scope="session")
def bench(request: pytest.FixtureRequest, safe_state: SafeState) -> Any:
    """The bench of this session: ``--bench FILE``, or the simulated bench served in-process. Opened once (its
    identities, calibration and ratings checked), closed with the safe state at the end of the session."""
    from hil.core.session import run_session

    b = run_session(request.config).bench
    request.config.stash[_BENCH] = b
    return b


@pytest.fixture(scope="session")
def meters(bench: Any) -> list[Any]:
    """The meters under test, one per position: ``.position``, ``.spec`` (nameplate), ``.port`` (driver)."""
    return [bench.meter(p) for p in bench.positions]


@pytest.fixture
def load_point(bench: Any, request: pytest.FixtureRequest) -> Any:
    """``load_point(current, pf, element=...)`` measures one accuracy point on every position; the limit comes from
    the standards library (module attributes ``STANDARD``, ``EDITION``, ``CLASS`` choose the table; default
    IEC 62053-21:2020), the verdict from the framework; rows go to the run's results."""
    from hil.core.session import run_session
    from hil.kinds.accuracy.python_api import LoadPointRunner

    mod = request.module
    return LoadPointRunner(
        run_session(request.config), getattr(mod, "STANDARD", "IEC 62053-21"), str(getattr(mod, "EDITION", "2020")),
        getattr(mod, "CLASS", None), getattr(mod, "DECISION_RULE", "simple"),
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    b = item.config.stash.get(_BENCH, None)
    mark = b.transcript.mark() if b is not None else None
    yield
    b = item.config.stash.get(_BENCH, None)
    if b is None:
        return
    from instruments.drivers.transcript import Transcript

    text = Transcript.render(b.transcript.since(mark or 0))
    if not text:
        return
    item.add_report_section("call", "scpi transcript", text)
    with contextlib.suppress(Exception):  # Allure is optional: attach only when its plugin is active
        import allure

        allure.attach(text, name="SCPI transcript", attachment_type=allure.attachment_type.TEXT)
