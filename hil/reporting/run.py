"""Everything reporting does for a finished (or interrupted) run, in one call: :func:`report_run`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from hil.reporting.allure_files import write_allure_files, write_global_attachments
from hil.reporting.html import build_report
from hil.reporting.plots import PlotFiles, write_plots
from hil.reporting.tables import MeterSummary, meter_summaries, summary_html, summary_text
from hil.results import read_results


@dataclass(frozen=True)
class ReportOutcome:
    run_dir: Path
    summaries: list[MeterSummary]
    plots: PlotFiles
    summary_html: Path
    allure_files: list[Path]
    index_html: Path | None  # None: the HTML report could not be built (no Node / no local Allure)


def report_run(run_dir: str | Path, *, html: bool = True, out: TextIO | None = None) -> ReportOutcome:
    """Plots, summary table, Allure side files and global attachments, then (``html``) the Allure 3 HTML report.

    Reads only the run directory. Raises ``FileNotFoundError`` if it holds no results table.
    """
    d = Path(run_dir)
    if not ((d / "results.parquet").exists() or (d / "results.csv").exists()):
        raise FileNotFoundError(f"{d}: no results.parquet or results.csv (not a run directory?)")
    frame = read_results(d)
    summaries = meter_summaries(frame)
    plots = write_plots(d, frame)
    table = d / "summary.html"
    table.write_text(summary_html(summaries, caption=f"Summary per meter — {d.name}"), encoding="utf-8")
    (d / "summary.txt").write_text(summary_text(summaries), encoding="utf-8")
    files = write_allure_files(d)
    attachments = [("Summary per meter", table, "text/html"), ("All meters: error / limit", plots.summary, "image/png")]
    attachments += [(f"Error curve {serial}", path, "image/png") for serial, path in plots.meters.items()]
    files.append(write_global_attachments(d, attachments))
    index = build_report(d, out=out) if html else None
    return ReportOutcome(d, summaries, plots, table, files, index)
