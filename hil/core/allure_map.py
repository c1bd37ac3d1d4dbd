"""Allure mapping of every kind's results: suite = serial, feature = kind, story = step; attachments."""

from __future__ import annotations

import os
from typing import Any

import pytest

from hil.core.steps import Attachment


class quiet:
    """Plots drawn without a display."""

    def __enter__(self) -> None:
        os.environ.setdefault("MPLBACKEND", "Agg")

    def __exit__(self, *exc: object) -> None:
        return None


def attach(body: str | bytes, name: str, kind: str) -> None:
    try:
        import allure
    except ImportError:  # pragma: no cover - allure-pytest is a dependency
        return
    types = {"text": allure.attachment_type.TEXT, "csv": allure.attachment_type.CSV,
             "png": allure.attachment_type.PNG}
    allure.attach(body, name=name, attachment_type=types[kind])


def attach_all(attachments: list[Attachment]) -> None:
    for a in attachments:
        attach(a.body, a.name, a.kind)


def position_labels(item: pytest.Item, bench_name: str, serial: str, feature: str, story: str, position: int,
                    row: dict[str, Any] | None) -> None:
    """A position's result: suite = its serial, feature = the kind, story = the step."""
    import allure

    dyn: Any = allure.dynamic  # allure-pytest's helpers are untyped
    dyn.suite(serial)
    dyn.feature(feature)
    dyn.story(story)
    dyn.title(f"{story} — position {position} ({serial})")
    allure.dynamic.parameter("bench", bench_name)
    allure.dynamic.parameter("position", position)
    allure.dynamic.parameter("serial", serial)
    if row is not None:
        allure.dynamic.parameter("point", row["point"])
        desc = (f"error {row['error_pct']:+.4f} % (limit ±{row['limit_pct']:g} %, U = "
                f"{row['uncertainty_pct'] if row['uncertainty_pct'] is not None else '—'} %, "
                f"{row['decision_rule']}); limit: {row['standard']} {row['limit_table']} ({row['limit_status']})"
                if row["error_pct"] is not None else row["reason"])
        if row.get("calibration_override"):
            desc += "\n\nWARNING: the reference standard's calibration had expired (run under override)."
        dyn.description(desc)


def plan_labels(bench_name: str, suite: str, feature: str, story: str, title: str, description: str) -> None:
    """A result of the whole plan (not of one position), e.g. an analysis of the run's rows."""
    import allure

    dyn: Any = allure.dynamic
    dyn.suite(suite)
    dyn.feature(feature)
    dyn.story(story)
    dyn.title(title)
    allure.dynamic.parameter("bench", bench_name)
    dyn.description(description)
