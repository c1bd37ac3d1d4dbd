"""``hil bench check FILE``: open a bench without a plan and say, per role, whether it may be used."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any


def _check_roles(bench_file: Any, source: str, today: dt.date) -> tuple[list[list[str]], list[str]]:
    """Rows (role, driver, resource, identity, calibration, verdict) and the refusals, one line each."""
    from hil.bench import Bench, calibration_status, identity_matches, reference_calibration_problem
    from instruments.drivers.errors import BenchFault

    bench = Bench(bench_file, source_file=source, today=today)
    rows, refusals = [], []
    simulated = "simulation" in bench_file.roles
    try:
        for role, binding in bench_file.roles.items():
            status = calibration_status(binding, today)
            cal = binding.calibration
            due = cal.due.isoformat() if cal is not None and cal.due is not None else "—"
            problems = []
            why = reference_calibration_problem(binding, today, not simulated) if role == "reference" else None
            if why is not None:  # the rule the run applies (hil.bench)
                problems.append(f"{source}: roles.reference.calibration: {why}")
            try:
                idn = str(bench.driver_for(role).identify())
            except BenchFault as exc:
                idn = "no answer"
                problems.append(f"{source}: roles.{role}.resource: {binding.resource} does not answer: {exc}")
            if idn != "no answer" and not identity_matches(idn, binding.idn):
                problems.append(f"{source}: roles.{role}.idn: expected an instrument matching {binding.idn!r}, it "
                                f"identifies as {idn!r}")
            rows.append([role, binding.driver, binding.resource, idn, f"{status} (due {due})",
                         "refused" if problems else "ok"])
            refusals += problems
        for pos in bench_file.positions:
            if pos.port is None and pos.dlms is None:
                rows.append([f"meter{pos.position}", "—", "—", pos.meter.serial, "—", "no port"])
                continue
            for field, binding, suffix in (("port", pos.port, ""), ("dlms", pos.dlms, "-dlms")):
                if binding is None:
                    continue
                # a meter's port answers only while the meter is supplied, and a check energises nothing: the link
                # is opened (the probe, serial server or simulator is there), the dialogue is the run's
                try:
                    bench._make_port(pos.position, pos.meter, binding, suffix).transport.open()
                    ident, verdict = "reachable (answers when the meter is powered)", "ok"
                except (BenchFault, OSError) as exc:
                    ident, verdict = "not reachable", "refused"
                    refusals.append(f"{source}: positions[{pos.position - 1}].{field}.resource: meter"
                                    f" {pos.meter.serial} at {binding.resource} is not reachable: {exc}")
                rows.append([f"meter{pos.position}{suffix}", binding.driver, binding.resource, ident,
                             f"{pos.meter.serial} {pos.meter.meter_class}", verdict])
    finally:
        bench.close()
    return rows, refusals


def cmd_bench_check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hil.benchfile import load_bench_file
    from instruments.yamlconfig import ConfigError

    try:
        bench_file = load_bench_file(args.file)
    except ConfigError as exc:
        print(f"hil: error: {exc}", file=sys.stderr)
        return 2
    rows, refusals = _check_roles(bench_file, str(args.file), dt.date.today())
    lim = bench_file.limits
    console = Console(width=None if sys.stdout.isatty() else 200)
    table = Table(title=f"bench {bench_file.name} ({args.file}): limits {lim.max_voltage_v:g} V, "
                        f"{lim.max_current_a:g} A, {lim.phases} phase(s)")
    for col in ("role", "driver", "resource", "identity", "calibration / meter", "check"):
        table.add_column(col)
    for r in rows:
        table.add_row(*r, style="red" if r[-1] == "refused" else "")
    console.print(table)
    for line in refusals:
        print(f"hil: error: {line}", file=sys.stderr)
    return 2 if refusals else 0


def add_bench_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser("bench", help="check a bench file against the instruments it names")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    check = bench_sub.add_parser(
        "check", help="open a bench without a plan: identities, calibration and due dates, limits, meter ports",
        description="Opens every role of the bench file (nothing is energised) and prints a table; exit 2 when any "
                    "role is refused (wrong identity, no answer, reference calibration expired or undated).",
        epilog="example: hil sim --write-bench reports/sim.yaml & hil bench check reports/sim.yaml")
    check.add_argument("file", type=Path, help="bench file")
    check.set_defaults(func=cmd_bench_check)
