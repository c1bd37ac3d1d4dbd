"""Reporting of a run: plots, tables, Allure side files and the Allure 3 HTML report.

Reporting reads the run directory (``results.parquet``/``results.csv``, ``run.json``, ``allure-results/``); it never
talks to instruments. Entry point for a finished run: :func:`report_run`.
"""

from __future__ import annotations

from hil.reporting.allure_files import write_allure_files, write_global_attachments
from hil.reporting.html import build_report, find_allure
from hil.reporting.plots import error_curve_png, summary_png, write_plots
from hil.reporting.run import ReportOutcome, report_run
from hil.reporting.tables import (
    MeterSummary,
    meter_summaries,
    point_table,
    point_table_csv,
    point_table_html,
    summary_html,
    summary_text,
)

__all__ = [
    "MeterSummary",
    "ReportOutcome",
    "build_report",
    "error_curve_png",
    "find_allure",
    "meter_summaries",
    "point_table",
    "point_table_csv",
    "point_table_html",
    "report_run",
    "summary_html",
    "summary_png",
    "summary_text",
    "write_allure_files",
    "write_global_attachments",
    "write_plots",
]
