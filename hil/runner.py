"""``hil run``: run a plan through pytest with Allure, on a bench file or on the simulated bench.

The plan runs in a child pytest process; this process is its guardian. Without ``--bench`` it serves the default
simulated bench itself and hands pytest a bench file pointing at it (attached exactly as hardware). It shows the
progress from the results table as rows land, and a summary per meter at the end. If pytest dies in any way —
even SIGKILL, which no handler inside it can catch — the guardian switches the source outputs off from the bench
file.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hil.benchfile import BenchFile, load_bench_file
from hil.plans.model import load_plan
from hil.plans.session import new_run_id
from instruments.drivers.errors import BenchFault

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PLAN = PROJECT_ROOT / "testplans" / "iec62053-21_2020_class1_3ph_accuracy.yaml"


def guard_outputs_off(bench_file: BenchFile, source_file: str) -> str:
    """Switch the source off using only the bench file (the guardian's last resort)."""
    from hil.bench import Bench, source_off

    if "source" not in bench_file.roles:
        return "no source role"
    bench = Bench(bench_file, source_file=source_file)
    try:
        src = bench.driver_for("source")
        try:
            source_off(src)  # the bench's own safe state: a running dip program is aborted first
        except BenchFault:
            if src.is_on():
                return "OUTPUT STILL ON"
            raise
        return "outputs off"
    except Exception as exc:  # the guardian reports; it must not crash
        return f"could not switch the source off ({source_file}): {exc}"
    finally:
        bench.close()  # nothing armed: only closes the link


@contextlib.contextmanager
def _bench_for_run(bench: Path | None, run_dir: Path, sim_bench: Path | None, seed: int | None
                   ) -> Iterator[tuple[Path, BenchFile]]:
    if bench is not None:
        yield bench, load_bench_file(bench)
        return
    from hil.simbench import simulated_bench

    path = run_dir / "bench.yaml"
    with simulated_bench(sim_bench, seed=seed, write_to=path) as (_, bench_file):
        yield path, bench_file


def _count_rows(run_dir: Path) -> int:
    p = run_dir / "results.csv"
    try:
        with p.open("rb") as f:
            return max(0, sum(1 for _ in f) - 1)
    except OSError:
        return 0


def _link_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    with contextlib.suppress(OSError):
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name)


def resume_plan(run_dir: Path) -> tuple[Path, int | None]:
    """The plan file and the simulated bench's seed of an interrupted run (from its ``run.json``)."""
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    plans = meta.get("plans") or []
    if not plans:
        raise OSError(f"{run_dir / 'run.json'} names no plan: cannot resume")
    return Path(plans[0]["file"]), meta.get("seed")


def run_plan(plan: Path | None, bench: Path | None, out: Path | None, *, seed: int | None = None,
             sim_bench: Path | None = None, allow_expired_calibration: bool = False,
             pytest_args: list[str] | None = None, progress: bool = True, resume: bool = False) -> int:
    """Run ``plan``; with ``resume``, continue the interrupted run in ``out`` (plan and seed from its run.json
    unless given): completed points are kept, a sequence continues from its checkpoint."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if resume:
        if out is None or not (out / "run.json").exists():
            raise OSError(f"--resume needs the run directory of an interrupted run (with run.json): {out}")
        plan_file, run_seed = resume_plan(out)
        plan = plan or plan_file
        seed = seed if seed is not None else run_seed
    plan_path = (plan or DEFAULT_PLAN).resolve()
    plan_model = load_plan(plan_path)  # bad plans fail here, before anything is energised
    run_id = new_run_id(plan_path.stem)
    run_dir = (out or Path("reports") / run_id).resolve()
    if not resume and ((run_dir / "results.csv").exists() or (run_dir / "checkpoint.json").exists()):
        raise OSError(f"run directory {run_dir} already holds results: give a new --out (or --resume it)")
    run_dir.mkdir(parents=True, exist_ok=True)
    if out is None:
        _link_latest(run_dir)

    with _bench_for_run(bench, run_dir, sim_bench, seed) as (bench_path, bench_file):
        from hil.plans.expand import expand_plan
        from hil.standards import StandardsLibrary

        overrides = [plan_path.parent / plan_model.limits_override] if plan_model.limits_override else []
        tasks = expand_plan(plan_model, bench_file, StandardsLibrary.load(overrides))
        expected_rows = sum(len(t.positions) for t in tasks)
        cmd = [sys.executable, "-m", "pytest", str(plan_path), "--bench", str(bench_path), "--run-dir", str(run_dir),
               "--alluredir", str(run_dir / "allure-results"), "-p", "no:cacheprovider", "-q", "-rN",
               "--rootdir", str(plan_path.parent)]
        if allow_expired_calibration:
            cmd.append("--allow-expired-calibration")
        if resume:
            cmd += ["--resume"]
        if seed is not None and bench is None:
            cmd += ["--sim-seed", str(seed)]
        cmd += pytest_args or []
        console.print(f"[bold]hil run[/] {plan_model.plan}\n  bench {bench_file.name} ({bench_path})\n"
                      f"  run   {run_dir}")
        log = (run_dir / "pytest.log").open("a" if resume else "w", encoding="utf-8")
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=plan_path.parent,
                                 start_new_session=True)

        def _forward(signum: int, frame: Any) -> None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

        old = {s: signal.signal(s, _forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console, disable=not progress, transient=True) as bar:
                t = bar.add_task("results", total=expected_rows)
                while child.poll() is None:
                    bar.update(t, completed=_count_rows(run_dir))
                    time.sleep(0.2)
                bar.update(t, completed=_count_rows(run_dir))
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            rc = child.wait()
            log.close()
            # whatever happened in the child (even a signal during its own safe state), the outputs end off
            state = guard_outputs_off(bench_file, str(bench_path))
            if rc not in (0, 1):
                console.print(f"[yellow]pytest ended with {rc}: guardian switched the source off: {state}[/]")
    _print_summary(console, run_dir)
    console.print(f"results: {run_dir / 'results.parquet'}  log: {run_dir / 'pytest.log'}")
    return rc


def _print_summary(console: Any, run_dir: Path) -> None:
    """The summary per meter (verdict, worst point), and the report's side files and plots."""
    from rich.table import Table

    from hil.reporting import meter_summaries, report_run
    from hil.results import read_results

    if not (run_dir / "results.parquet").exists() and not (run_dir / "results.csv").exists():
        console.print("[red]no results were written[/]")
        return
    report_run(run_dir, html=False)  # plots, summary, Allure side files: `hil report` adds the HTML
    table = Table(title="per meter")
    for col in ("position", "serial", "verdict", "points", "worst point"):
        table.add_column(col)
    for m in meter_summaries(read_results(run_dir)):
        worst = (f"{m.worst_point}: {m.worst_error_pct:+.3f} % / ±{m.worst_limit_pct:g} %"
                 if m.worst_point is not None and m.worst_error_pct is not None and m.worst_limit_pct else
                 (m.worst_point or ""))
        style = {"pass": "green", "fail": "red", "broken": "yellow"}.get(m.verdict, "")
        table.add_row(str(m.position), m.serial, f"[{style}]{m.verdict}[/]" if style else m.verdict, str(m.points),
                      worst)
    console.print(table)
