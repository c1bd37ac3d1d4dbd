"""Fixtures of the reporting tests: one realistic run directory, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reporting import rundir


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run: results, run.json and allure-results (read-only for the tests)."""
    return rundir.build(tmp_path_factory.mktemp("reports") / rundir.RUN_ID)
