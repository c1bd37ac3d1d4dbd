"""Allure mapping of every kind's results: suite = serial, feature = kind, story = step; attachments."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

import pytest

from hil.core.steps import Attachment


class quiet:
    """Plots drawn without a display."""

    def __enter__(self) -> None:
        os.environ.setdefault("MPLBACKEND", "Agg")

    def __exit__(self, *exc: object) -> None:
        return None


def attach(body: str | bytes, name: str, kind: str, shared: bool = False) -> None:
    """Attach ``body`` to the running Allure result. ``shared``: content every position of a point carries (its
    transcript, its table) is stored once — the file is named by the content's SHA-256, so every position's result
    links the same file instead of a copy each (a 48-position bench: one file, not 48)."""
    try:
        import allure
    except ImportError:  # pragma: no cover - allure-pytest is a dependency
        return
    types = {"text": allure.attachment_type.TEXT, "csv": allure.attachment_type.CSV,
             "png": allure.attachment_type.PNG}
    reporter = _reporter() if shared else None
    if reporter is None:
        allure.attach(body, name=name, attachment_type=types[kind])
        return
    data = body.encode("utf-8") if isinstance(body, str) else body
    digest = uuid.UUID(hashlib.sha256(data).hexdigest()[:32])
    reporter.attach_data(str(digest), data, name=name, attachment_type=types[kind])


def _reporter() -> Any:
    """allure-pytest's reporter (its ``attach_data`` takes the attachment's uuid, which names the file)."""
    from allure_commons import plugin_manager

    for plugin in plugin_manager.get_plugins():
        logger = getattr(plugin, "allure_logger", None)
        if logger is not None and hasattr(logger, "attach_data"):
            return logger
    return None


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
