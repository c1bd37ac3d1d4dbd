"""``hil run``: run a plan through pytest with Allure, on a bench file or on the simulated bench.

The plan runs in a child pytest process; this process is its guardian. Without ``--bench`` it serves the default
simulated bench itself and hands pytest a bench file pointing at it (attached exactly as hardware). It shows the
progress from the results table as rows land, and a summary per meter at the end. If pytest dies in any way —
even SIGKILL, which no handler inside it can catch — the guardian switches the source outputs off from the bench
file and brings ``results.parquet`` up to ``results.csv``. If the guardian itself dies, pytest gets SIGTERM from the
kernel (Linux ``PR_SET_PDEATHSIG``) and stops like after Ctrl-C, source off. ``--resume`` restarts the simulated
bench with the seed and simulated-bench file that ``run.json`` records (asked from the simulator during the run).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hil.benchfile import BenchFile, load_bench_file
from hil.core.plan import load_plan
from hil.core.store import new_run_id
from hil.results import repair_results
from hil.safety import GUARDIAN_ENV
from instruments.drivers.errors import BenchFault

if TYPE_CHECKING:
    from hil.sim_drills import SimDrill

#: exit codes of ``hil run`` (its --help and the README say them)
EXIT_PASS, EXIT_FAIL, EXIT_CONFIG, EXIT_BENCH_FAULT, EXIT_INTERNAL = 0, 1, 2, 3, 4
#: 128 + the signal's number, as shells report it
EXIT_SIGNAL: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}
EXIT_CODES_HELP = """exit codes:
  0    every meter passed
  1    a meter failed (out of its limits, or a failed verdict of the plan)
  2    the plan or the bench configuration was refused (nothing energised)
  3    a bench fault made results broken (no meter failed)
  4    internal error
  130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: results so far kept, source off"""

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PLAN = PROJECT_ROOT / "testplans" / "iec62053-21_2020_class1_3ph_accuracy.yaml"


class BenchRefused(Exception):
    """The bench was refused when it was opened before the run (``code``: exit code 2 or 3)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def check_bench(bench_file: BenchFile, source_file: str, allow_expired_calibration: bool) -> None:
    """Open the bench once in this process, before pytest starts: identities, calibration, ratings; nothing is
    energised and the bench is closed again (safe state). A refusal is a :class:`BenchRefused` naming the bench
    file, the role and the field, what was expected and what the instrument answered."""
    from hil.bench import Bench, BenchConfigurationError

    bench = Bench(bench_file, source_file=source_file, allow_expired_calibration=allow_expired_calibration)
    try:
        bench.connect()
    except BenchConfigurationError as exc:
        raise BenchRefused(str(exc), EXIT_CONFIG) from exc
    except BenchFault as exc:
        raise BenchRefused(f"{source_file}: bench fault while opening the bench: {exc}", EXIT_BENCH_FAULT) from exc
    finally:
        bench.close()


def exit_code(pytest_rc: int, run_dir: Path, signalled: list[int]) -> int:
    """``hil run``'s exit code (:data:`EXIT_CODES_HELP`) from pytest's and the results table."""
    if signalled:
        return EXIT_SIGNAL.get(signalled[0], 128 + signalled[0])
    if pytest_rc in (0, 1):
        verdicts = _verdicts(run_dir)
        if "fail" in verdicts:
            return EXIT_FAIL
        if "broken" in verdicts:
            return EXIT_BENCH_FAULT
        return EXIT_FAIL if pytest_rc == 1 else EXIT_PASS
    if pytest_rc in (2, 4, 5):  # collection refused (plan or bench), usage error, no test in the plan
        return EXIT_CONFIG
    return EXIT_INTERNAL  # pytest's internal error, or pytest killed


def _verdicts(run_dir: Path) -> set[str]:
    import csv

    try:
        with (run_dir / "results.csv").open(newline="", encoding="utf-8") as f:
            return {r.get("verdict", "") for r in csv.DictReader(f)}
    except OSError:
        return set()


def _points_done(run_dir: Path) -> int:
    import csv

    try:
        with (run_dir / "results.csv").open(newline="", encoding="utf-8") as f:
            return len({(r.get("test_id"), r.get("point")) for r in csv.DictReader(f)})
    except OSError:
        return 0


def simulated_faults(bench_file: BenchFile, source_file: str) -> list[str]:
    """One line per fault the simulated bench injected from its schedule during the run, asked from the simulation
    itself (whoever started it and scheduled them); nothing on a real bench."""
    if "simulation" not in bench_file.roles:
        return []
    from hil.bench import Bench
    from hil.sim_drills import describe_fired
    from instruments.simulators.fault_schedule import ScheduledFault

    bench = Bench(bench_file, source_file=source_file)
    try:
        log = json.loads(bench.driver_for("simulation").fault_schedule())
        return [describe_fired(ScheduledFault(**f)) for f in log["fired"]]
    except Exception as exc:  # the guardian reports; it must not crash
        return [f"simulation: its fault log could not be read: {exc}"]
    finally:
        bench.close()


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
def _bench_for_run(bench: Path | None, run_dir: Path, sim_bench: Path | None, seed: int | None,
                   expect_sha256: str | None = None, drill: SimDrill | None = None,
                   ) -> Iterator[tuple[Path, BenchFile]]:
    """The bench file of the run; without ``bench``, the simulated bench served here (``expect_sha256``: the
    configuration digest it must have, for a resumed run; ``drill``: its speed and scheduled faults)."""
    if bench is not None:
        if drill:
            raise OSError("--sim-speed and --sim-fault drive the simulated bench: not with --bench")
        yield bench, load_bench_file(bench)
        return
    from hil.simbench import simulated_bench
    from instruments.simulators.control import config_sha256

    path = run_dir / "bench.yaml"
    with simulated_bench(sim_bench, seed=seed, write_to=path) as (rb, bench_file):
        if expect_sha256 is not None and rb.call(lambda: config_sha256(rb.bench.config)) != expect_sha256:
            raise OSError(f"the simulated-bench file {sim_bench or 'default'} is not the one of the interrupted "
                          "run (its configuration's SHA-256 differs from run.json's sim_bench_sha256): cannot "
                          "resume on the same bench")
        for f in drill.faults if drill else []:
            try:
                rb.call(rb.bench.schedule_fault, f)
            except (KeyError, ValueError) as exc:
                raise OSError(f"--sim-fault {f.endpoint}:{f.kind}: {exc.args[0]}") from None
        if drill and drill.speed > 0:
            rb.call(rb.bench.set_speed, drill.speed)
        yield path, bench_file


#: prctl(2) option: the signal the calling process gets when its parent dies
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


@dataclass(frozen=True)
class ResumeRecord:
    """What ``run.json`` says about the bench of an interrupted run."""

    plan: Path
    simulated: bool | None  # None: a run.json that does not say
    bench_file: str | None
    seed: int | None
    sim_bench: str | None  # absolute path, "default" (the packaged file) or None (not recorded)
    sim_bench_sha256: str | None


def resume_record(run_dir: Path) -> ResumeRecord:
    """The plan file and the bench of an interrupted run (from its ``run.json``)."""
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    plans = meta.get("plans") or []
    if not plans:
        raise OSError(f"{run_dir / 'run.json'} names no plan: cannot resume")
    return ResumeRecord(Path(plans[0]["file"]), meta.get("simulated"), meta.get("bench_file"), meta.get("seed"),
                        meta.get("sim_bench"), meta.get("sim_bench_sha256"))


def resume_simulation(rec: ResumeRecord, run_dir: Path, seed: int | None, sim_bench: Path | None,
                      warn: Callable[[str], None]) -> tuple[int, Path | None]:
    """The seed and simulated-bench file (None: the packaged one) to restart an interrupted run's simulated bench
    with: the ones ``run.json`` records; OSError when it cannot say or the caller asks for others."""
    where = run_dir / "run.json"
    if rec.simulated is False:
        raise OSError(f"{where}: the run was on the bench file {rec.bench_file}, not a simulated bench: give --bench")
    if seed is not None and rec.seed is not None and seed != rec.seed:
        raise OSError(f"--seed {seed} is not the seed of the interrupted run ({rec.seed}, {where}): a resumed run "
                      "continues on the same simulated bench")
    run_seed = rec.seed if rec.seed is not None else seed
    if run_seed is None:
        raise OSError(f"{where} records no seed of the simulated bench: cannot restart the same bench (give "
                      "--seed N, and --sim-bench FILE, if you know them)")
    if sim_bench is not None:
        return run_seed, sim_bench  # checked against the recorded configuration digest when served
    if rec.sim_bench == "default":
        return run_seed, None
    if rec.sim_bench:
        path = Path(rec.sim_bench)
        if not path.is_file():
            raise OSError(f"the simulated-bench file of the interrupted run is gone: {path} ({where}); give "
                          "--sim-bench FILE with the same configuration")
        return run_seed, path
    warn(f"{where} does not say which simulated-bench file the run used: resuming on the packaged default "
         "(give --sim-bench FILE if it was another)")
    return run_seed, None


def run_plan(plan: Path | None, bench: Path | None, out: Path | None, *, seed: int | None = None,
             sim_bench: Path | None = None, allow_expired_calibration: bool = False,
             pytest_args: list[str] | None = None, progress: bool = True, resume: bool = False,
             drill: SimDrill | None = None) -> int:
    """Run ``plan``; with ``resume``, continue the interrupted run in ``out`` (plan from its run.json unless given;
    without ``bench``, the simulated bench restarted with the seed and file run.json records): completed points are
    kept, a sequence continues from its checkpoint."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # piped (CI, a log file): as wide as a line needs, paths and reasons not folded at 80 columns
    console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)
    expect_sha256: str | None = None
    if resume:
        if out is None or not (out / "run.json").exists():
            raise OSError(f"--resume needs the run directory of an interrupted run (with run.json): {out}")
        rec = resume_record(out)
        plan = plan or rec.plan
        if bench is None:  # the simulated bench is restarted as it was
            seed, sim_bench = resume_simulation(rec, out, seed, sim_bench,
                                                lambda m: console.print(f"[yellow]{m}[/]"))
            expect_sha256 = rec.sim_bench_sha256
    plan_path = (plan or DEFAULT_PLAN).resolve()
    plan_model = load_plan(plan_path)  # bad plans fail here, before anything is energised
    run_id = new_run_id(plan_path.stem)
    run_dir = (out or Path("reports") / run_id).resolve()
    if not resume and ((run_dir / "results.csv").exists() or (run_dir / "checkpoint.json").exists()):
        raise OSError(f"run directory {run_dir} already holds results: give a new --out (or --resume it)")
    made = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume:
        _repair(console, run_dir)  # a point the kill left out of the Parquet is not measured again

    with _bench_for_run(bench, run_dir, sim_bench, seed, expect_sha256, drill) as (bench_path, bench_file):
        from hil.core.expand import expand_plan
        from hil.standards import StandardsLibrary

        overrides = [plan_path.parent / plan_model.limits_override] if plan_model.limits_override else []
        try:  # plan against bench, then the bench itself: refused before pytest starts, nothing energised
            tasks = expand_plan(plan_model, bench_file, StandardsLibrary.load(overrides), plan_path)
            check_bench(bench_file, str(bench) if bench is not None else "<simulated bench>",
                        allow_expired_calibration)
        except Exception:
            if made:  # a refused run leaves no half-made run directory behind
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        if out is None:
            _link_latest(run_dir)
        expected_rows = sum(len(t.positions) for t in tasks)
        expected_points = sum(1 for t in tasks if t.positions)
        cmd = [sys.executable, "-m", "pytest", str(plan_path), "--bench", str(bench_path), "--run-dir", str(run_dir),
               "--alluredir", str(run_dir / "allure-results"), "-p", "no:cacheprovider", "-q", "-rN", "--tb=short",
               # a stop signal inside a hook wrapper is ours (hil.safety), not news for the lab's log
               "-W", "ignore::pluggy.PluggyTeardownRaisedWarning",
               "--rootdir", str(plan_path.parent)]
        if allow_expired_calibration:
            cmd.append("--allow-expired-calibration")
        if resume:
            cmd += ["--resume"]
        cmd += pytest_args or []
        served = "" if bench is not None else \
            f"\n  simulated: seed {'of the file' if seed is None else seed}, file {sim_bench or 'default'}"
        console.print(f"[bold]hil run[/] {plan_model.plan}\n  bench {bench_file.name} ({bench_path}){served}\n"
                      f"  run   {run_dir}")
        log = (run_dir / "pytest.log").open("a" if resume else "w", encoding="utf-8")
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=plan_path.parent,
                                 start_new_session=True,
                                 # the child arms "SIGTERM when the guardian dies" itself (hil.safety.die_with)
                                 env={**os.environ, GUARDIAN_ENV: str(os.getpid())})

        signalled: list[int] = []

        def _forward(signum: int, frame: Any) -> None:
            signalled.append(signum)
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

        old = {s: signal.signal(s, _forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console, disable=not progress, transient=True) as bar:
                t = bar.add_task("results", total=expected_rows)
                lines = _ProgressLines(console, expected_rows, enabled=not console.is_terminal)
                while child.poll() is None:
                    n = _count_rows(run_dir)
                    bar.update(t, completed=n)
                    lines.update(n)
                    time.sleep(0.2)
                bar.update(t, completed=_count_rows(run_dir))
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            rc = child.wait()
            log.close()
            # whatever happened in the child (even a signal during its own safe state), the outputs end off
            state = guard_outputs_off(bench_file, str(bench_path))
            _repair(console, run_dir)  # a kill between the CSV and the Parquet write of a point
            if signalled:
                console.print(f"[yellow]interrupted by {signal.Signals(signalled[0]).name} after "
                              f"{_points_done(run_dir)} of {expected_points} points: results so far kept, "
                              f"source: {state}[/]", highlight=False)
            elif rc not in (0, 1):
                console.print(f"[yellow]pytest ended with {rc}: guardian switched the source off: {state}[/]")
                why = _child_reason(run_dir / "pytest.log")
                if why:
                    console.print(why, style="red", markup=False)
            for line in simulated_faults(bench_file, str(bench_path)):
                console.print(line, style="yellow", markup=False, highlight=False, soft_wrap=True)
    _print_summary(console, run_dir)
    console.print(f"results: {run_dir / 'results.parquet'}  log: {run_dir / 'pytest.log'}", soft_wrap=True)
    _publish(console, run_dir)
    return exit_code(rc, run_dir, signalled)


def _publish(console: Any, run_dir: Path) -> None:
    """The run's rows into the lab-wide dataset ($METERHIL_DATASET, else ``dataset/`` beside the run directory:
    reports/dataset for runs in reports/); a failure is said, never the run's exit code."""
    from hil.dataset import DATASET_ENV, publish

    root = Path(os.environ[DATASET_ENV]) if os.environ.get(DATASET_ENV) else run_dir.parent / "dataset"
    try:
        path = publish(run_dir, root)
    except Exception as exc:  # the results stay in the run directory: `hil results publish` can add them later
        console.print(f"[yellow]dataset: not published to {root}: {exc}[/]", soft_wrap=True)
        return
    if path is not None:
        console.print(f"dataset: {path}", soft_wrap=True, highlight=False)


class _ProgressLines:
    """When the console is not a terminal (CI, a log file): a line when a point's rows land, and one a minute
    while nothing lands (a long sequence), instead of a progress bar."""

    def __init__(self, console: Any, total: int, enabled: bool) -> None:
        self.console, self.total, self.enabled = console, total, enabled
        self.rows, self.since = 0, time.monotonic()
        self.started = self.since

    def update(self, rows: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if rows != self.rows or now - self.since >= 60.0:
            what = "results" if rows != self.rows else "running, no new results"
            self.console.print(f"{time.strftime('%H:%M:%S')} {what}: {rows} of {self.total} rows "
                               f"({now - self.started:.0f} s)", highlight=False, soft_wrap=True)
            self.rows, self.since = rows, now


def _child_reason(log: Path) -> str:
    """Why pytest stopped, from the end of its log: a ``pytest.exit`` reason (``!!! … Exit: reason !!!``), else
    its last error lines (``E   …``); empty when the log says neither."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-200:]
    except OSError:
        return ""
    for line in reversed(lines):
        text = line.strip().strip("!").strip()
        if line.startswith("!") and ":" in text and "Exit" in text.split(":", 1)[0]:
            return text.split(":", 1)[1].strip()
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return "\n".join(errors[-3:])


def _repair(console: Any, run_dir: Path) -> None:
    try:
        added = repair_results(run_dir)
    except Exception as exc:  # the guardian reports; it must not crash before switching the source off
        console.print(f"[red]could not repair {run_dir / 'results.parquet'} from results.csv: {exc}[/]")
        return
    if added:
        console.print(f"[yellow]results.parquet was {added} row(s) behind results.csv (pytest was killed between "
                      "the two writes of a point): rebuilt from the CSV[/]")


def _print_summary(console: Any, run_dir: Path) -> None:
    """The summary per meter (verdict, worst point, a broken meter's reason), and the report's side files and
    plots."""
    from rich.table import Table
    from rich.text import Text

    from hil.reporting import report_run
    from hil.reporting.tables import CONSOLE_COLUMNS, console_summary

    if not (run_dir / "results.parquet").exists() and not (run_dir / "results.csv").exists():
        console.print("[red]no results were written[/]")
        return
    # plots, summary.txt/.html, Allure side files (`hil report` adds the HTML); the same summaries are printed
    outcome = report_run(run_dir, html=False)
    table = Table(title="per meter")
    for col in CONSOLE_COLUMNS:
        table.add_column(col)
    verdict_col = CONSOLE_COLUMNS.index("verdict")
    for cells in console_summary(outcome.summaries):
        style = {"pass": "green", "fail": "red", "broken": "yellow"}.get(cells[verdict_col], "")
        # Text, not markup: a reason may hold "[...]"
        table.add_row(*(Text(c, style=style if i == verdict_col else "") for i, c in enumerate(cells)))
    console.print(table)
