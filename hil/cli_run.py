"""``hil run`` and ``hil plan show``."""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

from instruments.yamlconfig import ConfigError


def _err(msg: str) -> int:
    print(f"hil: error: {msg}", file=sys.stderr, flush=True)
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    from hil.core.kinds import KindError
    from hil.core.steps import PlanError
    from hil.runner import BenchRefused, run_plan
    from hil.sim_drills import SimDrill, parse_fault
    from hil.standards import StandardsError

    try:
        if not (math.isfinite(args.sim_speed) and args.sim_speed >= 0):
            return _err(f"--sim-speed must be a finite number ≥ 0, got {args.sim_speed}")
        drill = SimDrill(args.sim_speed, [parse_fault(f) for f in args.sim_fault])
    except ValueError as exc:
        return _err(str(exc))
    try:
        return run_plan(
            args.plan, args.bench, args.resume or args.out, seed=args.seed, sim_bench=args.sim_bench,
            allow_expired_calibration=args.allow_expired_calibration, pytest_args=shlex.split(args.pytest_args),
            progress=not args.no_progress, resume=args.resume is not None, drill=drill,
        )
    except BenchRefused as exc:
        _err(str(exc))
        return exc.code
    except (ConfigError, PlanError, KindError, StandardsError, OSError) as exc:
        return _err(str(exc))


def _plan_rows(plan_path: Path, bench: Path | None) -> tuple[Any, list[dict[str, Any]]]:
    from hil.benchfile import load_bench_file
    from hil.core.expand import expand_plan
    from hil.core.plan import load_plan
    from hil.core.steps import EstimateContext
    from hil.standards import StandardsLibrary

    plan = load_plan(plan_path)
    if bench is not None:
        bench_file = load_bench_file(bench)
    else:
        from hil.simbench import simulated_bench

        with simulated_bench() as (_, bench_file):
            pass
    overrides = [plan_path.parent / plan.limits_override] if plan.limits_override else []
    library = StandardsLibrary.load(overrides)
    steps = expand_plan(plan, bench_file, library, plan_path)
    meter = bench_file.positions[0].meter
    ref = bench_file.roles.get("reference")
    # the run asks the error calculator; before anything is connected the bench file says, or it is assumed
    ref_constant, ref_source = 5e6, "assumed (bench file: roles.reference.options.pulse_constant_imp_per_kwh)"
    if ref is not None and "pulse_constant_imp_per_kwh" in ref.options:
        ref_constant, ref_source = float(ref.options["pulse_constant_imp_per_kwh"]), "bench file"
    ctx = EstimateContext(plan.measure, meter.constant_imp_per_kwh, bench_file.limits.phases, ref_constant,
                          ref_source)
    rows = []
    for t in steps:
        spec = t.spec
        row: dict[str, Any] = {
            "test": t.test_id, "kind": t.kind, "point": t.point_id, "voltage_v": spec.voltage_v,
            "current_a": spec.current_a, "pf": spec.pf, "element": spec.element, "limit_pct": t.limit_pct or None,
            "limit": f"{spec.standard} ({spec.limit_status})" if spec.standard else "",
            "limit_table": spec.limit_table,
        }
        est = t.expected(ctx)
        row.update(pulses=est.pulses, expected_s=est.seconds, **est.notes)
        rows.append(row)
    return plan, rows


def cmd_plan_show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hil.core.kinds import KindError
    from hil.core.steps import PlanError
    from hil.standards import StandardsError

    try:
        plan, rows = _plan_rows(args.plan, args.bench)
    except (ConfigError, PlanError, KindError, StandardsError, OSError) as exc:
        return _err(str(exc))
    if args.json:
        print(json.dumps({"plan": plan.plan, "points": rows}, indent=2))
        return 0
    table = Table(title=f"{plan.plan} — {len(rows)} points, ≈ {sum(r['expected_s'] for r in rows) / 60:.1f} min")
    for col in ("test", "point", "U / V", "I / A", "PF", "element", "limit %", "pulses", "≈ s", "limit source"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["test"], r["point"], f"{r['voltage_v']:g}", f"{r['current_a']:g}", r["pf"], r["element"],
                      f"±{r['limit_pct']:g}" if r["limit_pct"] else "", str(r["pulses"] or ""),
                      f"{r['expected_s']:g}", r["limit"])
    # piped into a file or a pager: as wide as the table needs, not folded at 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
    est = next((r for r in rows if r.get("ref_constant_imp_per_kwh")), None)
    if est is not None:
        console.print(f"pulses estimated with a reference constant of {est['ref_constant_imp_per_kwh']:g} imp/kWh "
                      f"({est['ref_constant_source']}); the run uses the error calculator's")
    return 0


def add_run_commands(sub: Any) -> None:
    from hil.runner import EXIT_CODES_HELP

    run = sub.add_parser("run", help="run a test plan through pytest with Allure (default: the demo plan on the "
                                     "simulated bench)",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog=EXIT_CODES_HELP + "\n\nexamples:\n  hil run                                    "
                         "the demo plan on the simulated bench\n  hil run testplans/burn_in_168h_70c.yaml "
                         "--bench benches/lab2.yaml\n  hil run --resume reports/20261207T101500Z-burn_in_168h_70c\n"
                         "  hil run --sim-fault reference:HANG@point=3   a drill: the reference hangs in point 3")
    run.add_argument("plan", nargs="?", type=Path, help="plan YAML (default: the IEC 62053-21 class 1 accuracy plan)")
    run.add_argument("--bench", type=Path, help="bench file (default: the simulated bench, served by this process)")
    run.add_argument("--out", type=Path, help="run directory (default: reports/<run-id>)")
    run.add_argument("--seed", type=int, help="seed of the simulated bench")
    run.add_argument("--sim-bench", type=Path, help="simulated-bench YAML when no --bench is given")
    run.add_argument("--allow-expired-calibration", action="store_true",
                     help="run with an expired (or undated) reference calibration: every result is marked")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="continue an interrupted run in RUN_DIR (plan and seed from its run.json)")
    run.add_argument("--pytest-args", default="", help="extra pytest arguments, as one quoted string")
    run.add_argument("--sim-speed", type=float, default=0.0, metavar="X",
                     help="simulated bench only: let virtual time run at X × wall time, to watch a run (not "
                          "deterministic; default 0: time moves only as the plan needs it)")
    run.add_argument("--sim-fault", action="append", default=[], metavar="SPEC",
                     help="simulated bench only, repeatable: a drill fault ENDPOINT:KIND[:ARG]@point=N (inside the "
                          "N-th measured point) or ENDPOINT:KIND[:ARG]@t=SECONDS (virtual time), e.g. "
                          "reference:HANG@point=3 (kinds: docs/simulation-control.md)")
    run.set_defaults(func=cmd_run)

    plan = sub.add_parser("plan", help="inspect plans")
    plan_sub = plan.add_subparsers(dest="plan_command", required=True)
    show = plan_sub.add_parser("show", help="the expanded points with limits, pulses and expected durations",
                               epilog="example: hil plan show testplans/iec62053-21_2020_class1_3ph_accuracy.yaml")
    show.add_argument("plan", type=Path, help="plan YAML")
    show.add_argument("--bench", type=Path, help="bench file (default: the simulated bench)")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=cmd_plan_show)
