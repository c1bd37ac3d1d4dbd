"""Allure side files of a run: ``environment.properties``, ``executor.json``, ``categories.json``, global attachments.

They are written into ``<run_dir>/allure-results/`` from ``run.json`` (and the results table), after or during the
run; allure-pytest writes the test results themselves. Allure 2 reads all three side files; Allure 3 reads the
environment and the executor from them and takes the categories from its configuration, which
:func:`allure3_categories` fills from the same rules (see :mod:`hil.reporting.html`).

Category rules: a message regex has to work in both report generators — Allure 2 matches it against the whole
message (Java ``matches``), Allure 3 searches it (JavaScript ``RegExp.test``) — hence ``[\\s\\S]*`` on both sides and
no inline flags. Allure 3 puts a result in the first category that matches, Allure 2 in every one.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_DIR = "allure-results"
ALL_STATUSES: tuple[str, ...] = ("failed", "broken", "passed", "skipped")

# exception names of bench and instrument faults (instruments.drivers.errors, hil.bench) and the reason prefix the
# measurement gives a point lost to a bench fault; reporting must not import the drivers, so they are named here
_FAULT_NAMES = (
    "bench fault", "BenchFault", "InstrumentConnectionError", "InstrumentTimeout", "InstrumentError", "ReplyError",
    "EspecError", "SimServError", "MeterRefused", "BccError", "BenchConfigurationError", "CalibrationExpired",
    "IdentityMismatch", "VisaIOError", "ConnectionError", "TimeoutError",
)
_NO_RESULT = ("no pulses", "without a result", "was not measured", "meter port", "no answer from the meter")


def _anywhere(words: Iterable[str]) -> str:
    return r"[\s\S]*(?:" + "|".join(words) + r")[\s\S]*"


@dataclass(frozen=True)
class Category:
    """A category of results: which statuses it takes, and optionally which messages."""

    name: str
    statuses: tuple[str, ...]
    message_regex: str | None = None
    description: str = ""
    group_by_status: bool = False

    def allure2(self) -> dict[str, Any]:
        """The ``categories.json`` form."""
        d: dict[str, Any] = {"name": self.name, "matchedStatuses": list(self.statuses)}
        if self.message_regex is not None:
            d["messageRegex"] = self.message_regex
        if self.description:
            d["description"] = self.description
        return d

    def allure3(self) -> dict[str, Any]:
        """The ``categories`` entry of an Allure 3 configuration."""
        matcher: dict[str, Any] = {"statuses": list(self.statuses)}
        if self.message_regex is not None:
            matcher["message"] = self.message_regex
        d: dict[str, Any] = {"name": self.name, "matchers": matcher}
        if self.group_by_status:
            d["groupBy"] = ["status"]
        return d


CALIBRATION_OVERRIDE = Category(
    "Calibration override: reference standard out of calibration", ALL_STATUSES,
    description="The run was made with --allow-expired-calibration: no verdict of this run is valid for sign-off.",
    group_by_status=True,
)
BENCH_FAULT = Category(
    "Bench or instrument fault", ("broken",), _anywhere(_FAULT_NAMES),
    description="An instrument or its link misbehaved; the meter was not judged (Allure: broken).",
)
METER_NO_RESULT = Category(
    "Meter gives no result (no pulses, dead meter)", ("broken",), _anywhere(_NO_RESULT),
    description="The meter under test produced nothing to measure; not a bench fault.",
)
SEQUENCE_FAILURE = Category(
    "Meter failed during a stress sequence", ("failed",),
    _anywhere([r"failed \((?:dead|no_pulses|port_silent|drift)\) between"]),
    description="The meter stopped working or drifted during burn-in, cycling, an environmental test or power "
                "cycling; failure time and mode are in the result (failed).",
)
ERROR_SHIFT = Category(
    "Error shift beyond the limit (checks before / after a sequence)", ("failed",),
    _anywhere([r"shift [-+][0-9.]+ % \(after"]),
    description="The meter's error moved more than the plan's max_shift_pct between the checks before and after.",
)
RELIABILITY_TARGET = Category(
    "Reliability target not demonstrated", ("failed",), _anywhere(["NOT demonstrated"]),
    description="A reliability_analysis of the run's failures did not reach its MTBF target.",
)
FUNCTION_FAILURE = Category(
    "Meter function failed (clock, tariff switching)", ("failed",),
    _anywhere([r"(?:drift|offset after setting|switch \d+→\d+) [-+][0-9.]+ s(?:/day)? outside",
               r"no switch to tariff", r"did not advance by the sum of the tariff registers",
               r"registered nothing before", r"no energy in the tariff registers"]),
    description="A functional check over the meter's port (docs/functional.md): its clock drifts or cannot be set "
                "within the limit, or its tariff registers do not follow its time-of-use schedule (failed).",
)
METER_OUT_OF_LIMITS = Category(
    "Meter out of limits", ("failed",),
    description="Meter non-conformance: the error at a load point is outside the limit of its class (failed).",
)


def categories(calibration_override: bool = False) -> list[Category]:
    """The categories of a run, most specific first (Allure 3 takes the first match)."""
    rules = [BENCH_FAULT, METER_NO_RESULT, SEQUENCE_FAILURE, ERROR_SHIFT, RELIABILITY_TARGET, FUNCTION_FAILURE,
             METER_OUT_OF_LIMITS]
    # every result of a run under a calibration override is suspect: that comes before anything else
    return [CALIBRATION_OVERRIDE, *rules] if calibration_override else rules


def allure3_categories(run_meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [c.allure3() for c in categories(bool(run_meta.get("calibration_override")))]


# -- run metadata -------------------------------------------------------------------------------------------------
def read_run_json(run_dir: str | Path) -> dict[str, Any]:
    """``run.json`` of a run ({} when it is missing: a run killed before writing it still gets a report)."""
    p = Path(run_dir) / "run.json"
    if not p.exists():
        return {}
    data = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a JSON object")
    return data


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "–"
    return str(value)


def flatten(meta: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested run metadata as flat ``a.b.c`` keys with text values; lists of objects are numbered ``a.1.b``."""
    out: dict[str, str] = {}
    for key, value in meta.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            if all(not isinstance(v, Mapping | list | tuple) for v in value):
                out[name] = shlex.join(map(str, value)) if key == "command_line" else ", ".join(map(_scalar, value))
            else:
                for i, v in enumerate(value, 1):
                    if isinstance(v, Mapping):
                        out.update(flatten(v, f"{name}.{i}."))
                    else:
                        out[f"{name}.{i}"] = _scalar(v)
        else:
            out[name] = _scalar(value)
    return out


#: keys shown first in the environment, in this order (the rest follow alphabetically)
_ENV_FIRST = ("run_id", "bench", "calibration_override", "plan.name", "plans.1.name", "seed", "software_version",
              "started_at", "finished_at")


def environment(run_meta: Mapping[str, Any]) -> dict[str, str]:
    """The Allure environment of a run: every field of ``run.json``, flattened."""
    flat = flatten(run_meta)
    first = [k for k in _ENV_FIRST if k in flat]
    return {k: flat[k] for k in [*first, *sorted(k for k in flat if k not in first)]}


def _escape(text: str, key: bool) -> str:
    """Java ``.properties`` escaping (what both Allure 2 and Allure 3 parse): ASCII only, ``\\uXXXX`` beyond."""
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\f":
            out.append("\\f")
        elif ch in "=:" or (ch in "#!" and i == 0):
            out.append("\\" + ch)
        elif ch == " " and (key or i == 0):
            out.append("\\ ")
        elif 0x20 <= ord(ch) < 0x7F:
            out.append(ch)
        else:  # non-ASCII: UTF-16 code units, as Java writes them
            data = ch.encode("utf-16-be")
            out.extend(f"\\u{int.from_bytes(data[j:j + 2], 'big'):04x}" for j in range(0, len(data), 2))
    return "".join(out)


def properties_text(values: Mapping[str, str]) -> str:
    return "".join(f"{_escape(k, True)}={_escape(v, False)}\n" for k, v in values.items())


def executor(run_meta: Mapping[str, Any]) -> dict[str, Any]:
    """``executor.json``: who built the results (shown in the report's header and trend)."""
    run_id = str(run_meta.get("run_id", "unknown run"))
    plans = [p.get("name") for p in run_meta.get("plans", []) if isinstance(p, Mapping)]
    plan = run_meta.get("plan")
    if isinstance(plan, Mapping):
        plans.insert(0, plan.get("name"))
    what = ", ".join(str(p) for p in plans if p) or "plan"
    bench = run_meta.get("bench")
    bench_name = bench.get("name") if isinstance(bench, Mapping) else bench
    return {
        "name": f"MeterHIL {run_meta.get('software_version', '')}".strip(),
        "type": "meterhil",
        "buildName": f"{run_id}: {what} on {bench_name or 'bench'}",
        "reportName": f"MeterHIL {run_id}",
    }


def write_allure_files(run_dir: str | Path, run_meta: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``environment.properties``, ``executor.json`` and ``categories.json`` into ``run_dir/allure-results``."""
    meta = read_run_json(run_dir) if run_meta is None else run_meta
    out = Path(run_dir) / RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    env = out / "environment.properties"
    env.write_text(properties_text(environment(meta)), encoding="ascii")
    exe = out / "executor.json"
    exe.write_text(json.dumps(executor(meta), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    cat = out / "categories.json"
    rules = [c.allure2() for c in categories(bool(meta.get("calibration_override")))]
    cat.write_text(json.dumps(rules, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [env, exe, cat]


GLOBALS_FILE = "meterhil-globals.json"


def write_global_attachments(run_dir: str | Path, attachments: Iterable[tuple[str, Path, str]]) -> Path:
    """Run-wide attachments (Allure 3 "Global attachments"): ``(name, file, MIME type)``, copied into the results.

    Used for the summary table and the plots of all meters, which belong to no single test result.
    """
    out = Path(run_dir) / RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, (name, path, mime) in enumerate(attachments, 1):
        source = f"meterhil-global-{i:03d}-attachment{Path(path).suffix}"
        (out / source).write_bytes(Path(path).read_bytes())
        entries.append({"name": name, "source": source, "type": mime})
    target = out / GLOBALS_FILE
    target.write_text(json.dumps({"attachments": entries, "errors": []}, indent=2, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    return target
