"""``hil report [RUN_DIR]``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hil.cli import EXIT_CONFIG, EXIT_NO_HTML, main
from hil.reporting import find_allure
from tests.reporting import rundir


@pytest.fixture
def work(run_dir: Path, tmp_path: Path) -> Path:
    d = tmp_path / "reports" / rundir.RUN_ID
    shutil.copytree(run_dir, d)
    return d


def test_report_prints_the_summary_and_the_path_of_index_html(work: Path, capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    if shutil.which("node") is None or find_allure() is None:
        pytest.skip("Node.js or the project's Allure 3 is missing (install nodejs/npm, then `npm ci`)")
    assert main(["report", str(work)]) == 0
    out = capsys.readouterr().out.splitlines()
    index = Path(out[-1])
    assert index == work.resolve() / "allure-report" / "index.html" and index.is_file()
    verdicts = {line.split()[1]: line.split()[2] for line in out[2:-1]}
    assert verdicts == {"MTR-0001": "PASS", "MTR-0002": "FAIL", "MTR-0003": "BROKEN"}
    assert (work / "plots" / "MTR-0002.png").is_file() and (work / "plots" / "summary.png").is_file()


def test_report_defaults_to_reports_latest_and_still_plots_without_node(
        work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (work.parent / "latest").symlink_to(work.name)
    monkeypatch.chdir(work.parent.parent)
    monkeypatch.setenv("PATH", str(work.parent / "no-bin"))
    assert main(["report"]) == EXIT_NO_HTML
    captured = capsys.readouterr()
    assert "npm ci" in captured.err
    assert "MTR-0002" in captured.out
    assert {p.name for p in (work / "plots").iterdir()} == {"MTR-0001.png", "MTR-0002.png", "MTR-0003.png",
                                                            "summary.png"}
    assert (work / "allure-results" / "environment.properties").is_file()
    assert not (work / "allure-report").exists()


def test_report_on_a_missing_or_empty_directory_is_a_clear_error(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope")]) == EXIT_CONFIG
    assert "does not exist" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == EXIT_CONFIG
    assert "no results.parquet or results.csv" in capsys.readouterr().err
