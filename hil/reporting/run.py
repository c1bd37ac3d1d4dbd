"""Everything reporting does for a finished (or interrupted) run, in one call: :func:`report_run`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from hil.reporting.allure_files import write_allure_files, write_global_attachments
from hil.reporting.html import build_report
from hil.reporting.plots import PlotFiles, write_plots
from hil.reporting.sequence_data import sequence_tests
from hil.reporting.sequence_tables import SUMMARY_HTML, interruption_lines, write_sequence_tables
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
    sequence_tables: list[Path] = field(default_factory=list)  # reliability.csv, sequence_summary.csv/.html


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
    seq_tables = write_sequence_tables(d, frame)
    gaps = interruption_lines(d, sequence_tests(frame))  # a resumed sequence says so under the summary
    (d / "summary.txt").write_text(summary_text(summaries) + "".join(f"{g}\n" for g in gaps), encoding="utf-8")
    files = write_allure_files(d)
    attachments = [("Summary per meter", table, "text/html"), ("All meters: error / limit", plots.summary, "image/png")]
    attachments += [(f"Error curve {serial}", path, "image/png") for serial, path in plots.meters.items()]
    attachments += [(title, path, "image/png") for title, path in plots.sequences.items()]
    attachments += [("Stress sequences: summary per meter", p, "text/html") for p in seq_tables
                    if p.name == SUMMARY_HTML]
    files.append(write_global_attachments(d, attachments))
    index = build_report(d, out=out) if html else None
    return ReportOutcome(d, summaries, plots, table, files, index, seq_tables)
