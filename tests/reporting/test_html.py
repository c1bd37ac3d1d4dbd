"""The Allure 3 HTML report: built by the local Allure, and opened in headless Chromium showing meters and verdicts.

Without Node.js or the project's Allure (``npm ci``) the tests that need them skip with the reason; the tests of
what happens then run always.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from hil.reporting import ReportOutcome, build_report, find_allure, report_run
from tests.reporting import rundir
from tests.reporting.browser import Node, dump_dom, parse_dom


def _need_allure() -> None:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed, so Allure 3 cannot run (install nodejs and npm, then `npm ci`)")
    if find_allure() is None:
        pytest.skip("the project's Allure 3 is not installed: run `npm ci` in the project folder")


def _expected_statuses() -> Counter[str]:
    """Allure statuses of the generated run: one per row, plus one per meter (its most severe verdict)."""
    status = {"pass": "passed", "fail": "failed", "broken": "broken"}
    rows = rundir.rows()
    out = Counter(status[r["verdict"]] for r in rows)
    for serial in rundir.METERS:
        verdicts = {r["verdict"] for r in rows if r["serial"] == serial}
        out[status["fail" if "fail" in verdicts else "broken" if "broken" in verdicts else "pass"]] += 1
    return out


def _expected_per_meter() -> dict[str, Counter[str]]:
    status = {"pass": "passed", "fail": "failed", "broken": "broken"}
    out: dict[str, Counter[str]] = {}
    for serial in rundir.METERS:
        mine = [r["verdict"] for r in rundir.rows() if r["serial"] == serial]
        c = Counter(status[v] for v in mine)
        c[status["fail" if "fail" in mine else "broken" if "broken" in mine else "pass"]] += 1
        out[serial] = c
    return out


_STATUS_CLASS = re.compile(r"_(passed|failed|broken|skipped)__")


def _sections(dom: Node) -> dict[str, Counter[str]]:
    """Title → result count per status of every tree section shown (its status bar)."""
    out: dict[str, Counter[str]] = {}
    for section in dom.find_all("tree-section"):
        bar: Counter[str] = Counter()
        for node in section.iter():
            if "status-bar-item" not in node.attrs.get("class", ""):
                continue
            m = next((m for m in map(_STATUS_CLASS.search, node.classes()) if m), None)
            if m:
                bar[m.group(1)] += int(node.text().strip())
        out[section.find_all("tree-section-title")[0].text().strip()] = bar
    return out


@pytest.fixture(scope="module")
def report(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ReportOutcome:
    _need_allure()
    work = tmp_path_factory.mktemp("html") / rundir.RUN_ID
    shutil.copytree(run_dir, work)
    out = io.StringIO()
    outcome = report_run(work, out=out)
    assert outcome.index_html is not None, out.getvalue()
    return outcome


def test_build_report_writes_a_single_file_allure_report(report: ReportOutcome) -> None:
    index = report.index_html
    assert index == report.run_dir / "allure-report" / "index.html"
    assert index.stat().st_size > 10_000
    summary = json.loads((index.parent / "summary.json").read_text(encoding="utf-8"))
    expected = _expected_statuses()
    assert expected == Counter({"passed": 26, "failed": 2, "broken": 2})  # 27 points + 3 meters, worked by hand
    assert summary["stats"]["total"] == sum(expected.values())
    assert {k: summary["stats"].get(k, 0) for k in expected} == dict(expected)
    assert summary["meta"]["singleFile"] is True
    assert summary["name"] == f"MeterHIL {rundir.RUN_ID}"
    config = json.loads((report.run_dir / "allurerc.json").read_text(encoding="utf-8"))
    assert config["categories"][0]["name"] == "Bench or instrument fault"
    assert config["plugins"]["awesome"]["options"]["groupBy"] == ["suite", "feature", "story"]


def test_rebuilding_replaces_the_report(report: ReportOutcome) -> None:
    stale = report.run_dir / "allure-report" / "stale.txt"
    stale.write_text("old", encoding="utf-8")
    assert build_report(report.run_dir, out=io.StringIO()) == report.index_html
    assert not stale.exists()


@pytest.mark.timeout(1200)  # may first install Debian's chromium
def test_the_report_opened_in_chromium_shows_meters_and_verdicts(report: ReportOutcome, tmp_path: Path) -> None:
    assert report.index_html is not None
    dom = parse_dom(dump_dom(report.index_html.as_uri(), tmp_path / "profile"))
    assert dom.find_all("report-title"), "the Allure app did not render (no report title)"

    # totals in the header
    expected = _expected_statuses()
    for status, n in expected.items():
        (item,) = dom.find_all(f"metadata-item-{status}")
        assert item.find_all("metadata-value")[0].text().strip() == str(n)

    # one tree section per meter (suite = serial) with its results counted by status
    sections = _sections(dom)
    for serial, counts in _expected_per_meter().items():
        assert serial in sections, f"meter {serial} not shown; sections: {sorted(sections)}"
        assert sections[serial] == counts, f"{serial}: shown {dict(sections[serial])}, expected {dict(counts)}"

    # the failed and broken results are listed by name with their status
    leaves = {leaf.find_all("tree-leaf-title")[0].text().strip(): leaf for leaf in dom.find_all("tree-leaf")}
    failed = "Imax PF 1 — position 2 (MTR-0002)"
    broken = "Itr PF 0.5L — position 3 (MTR-0003)"
    for title, status in ((failed, "failed"), (broken, "broken")):
        assert title in leaves, f"{title!r} not listed; leaves: {sorted(leaves)}"
        assert leaves[title].find_all(f"tree-leaf-status-{status}")

    # run-wide attachments: the summary table and the plots of all meters
    (tab,) = dom.find_all("nav-tab-globalAttachments")
    assert re.search(rf"\b{2 + len(rundir.METERS)}\b", tab.text())


@pytest.mark.timeout(1200)  # may first install Debian's chromium
def test_the_categories_tab_sorts_dead_meters_and_non_conformance(report: ReportOutcome, tmp_path: Path) -> None:
    assert report.index_html is not None
    dom = parse_dom(dump_dom(report.index_html.as_uri() + "#categories", tmp_path / "profile"))
    sections = _sections(dom)
    # the failed point and its meter's verdict; the point without pulses and its meter's verdict
    assert sections.get("Meter out of limits") == Counter({"failed": 2}), sections
    assert sections.get("Meter gives no result (no pulses, dead meter)") == Counter({"broken": 2}), sections
    assert "Bench or instrument fault" not in sections  # no bench fault in this run


def test_without_node_build_report_says_how_to_install_and_returns_none(
        run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "run"
    shutil.copytree(run_dir, work)
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    out = io.StringIO()
    assert build_report(work, out=out) is None
    msg = out.getvalue()
    assert "Node.js" in msg and "npm ci" in msg and "scripts/bootstrap" in msg
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before  # nothing else touched


def test_without_the_local_allure_build_report_says_so(run_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    shutil.copytree(run_dir, work)
    out = io.StringIO()
    assert build_report(work, allure=tmp_path / "no" / "allure", node="node", out=out) is None
    assert "node_modules/.bin/allure" in out.getvalue() and "npm ci" in out.getvalue()
    assert not (work / "allure-report").exists()


def test_without_allure_results_there_is_nothing_to_build(tmp_path: Path) -> None:
    out = io.StringIO()
    assert build_report(tmp_path, out=out) is None
    assert "no Allure results" in out.getvalue()


def _fake_allure(folder: Path, version: str) -> Path:
    cli = folder / "node_modules" / ".bin" / "allure"
    cli.parent.mkdir(parents=True)
    cli.write_text("#!/usr/bin/env node\n", encoding="utf-8")
    pkg = folder / "node_modules" / "allure" / "package.json"
    pkg.parent.mkdir(parents=True)
    pkg.write_text(json.dumps({"name": "allure", "version": version}), encoding="utf-8")
    return cli


def test_find_allure_looks_in_the_given_folder_and_its_parents(tmp_path: Path) -> None:
    cli = _fake_allure(tmp_path / "lab", "3.18.0")
    deep = tmp_path / "lab" / "reports" / "run-1"
    deep.mkdir(parents=True)
    assert find_allure(deep) == cli


def test_find_allure_passes_over_an_allure_2_cli(tmp_path: Path) -> None:
    _fake_allure(tmp_path / "outer", "3.18.0")
    _fake_allure(tmp_path / "outer" / "old", "2.30.0")  # e.g. a stray Allure 2 install nearer to the run
    assert find_allure(tmp_path / "outer" / "old") == tmp_path / "outer" / "node_modules" / ".bin" / "allure"
