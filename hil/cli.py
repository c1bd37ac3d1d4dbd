"""``hil`` command line."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hil import __version__
from instruments.yamlconfig import ConfigError

if TYPE_CHECKING:
    from instruments.simulators.world.config import SimBenchConfig

EXIT_CONFIG = 2
EXIT_PORT_IN_USE = 3


def _err(msg: str) -> None:
    print(f"hil: error: {msg}", file=sys.stderr, flush=True)


def _warn(msg: str) -> None:
    print(f"hil: warning: {msg}", file=sys.stderr, flush=True)


def is_loopback(host: str) -> bool:
    """``host`` names this machine's loopback interface only (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _sim_args_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the ``hil sim`` arguments, checked before any server starts; None if nothing."""
    if args.seed is not None and args.seed < 0:
        return f"--seed must be a whole number ≥ 0, got {args.seed}"
    if not (math.isfinite(args.speed) and args.speed >= 0):
        return f"--speed must be a finite number ≥ 0, got {args.speed}"
    out: Path | None = args.write_bench
    if out is not None:
        folder = out.parent
        if out.is_dir():
            return f"--write-bench {out}: is a directory, give a file name"
        if not folder.is_dir():
            return f"--write-bench {out}: directory {folder} does not exist"
        if not os.access(folder, os.W_OK):
            return f"--write-bench {out}: directory {folder} is not writable"
    return None


async def _serve_sim(args: argparse.Namespace, config: SimBenchConfig) -> int:
    from hil.benchfile import dump_bench_file
    from hil.simbench import bench_file_for
    from instruments.simulators.bench import SimulatedBench
    from instruments.simulators.control import set_sim_file
    from instruments.simulators.net import PortInUseError

    bench = SimulatedBench(config, seed=args.seed, host=args.host)
    set_sim_file(bench, args.bench)  # a run attached to it records which file it simulates (SIMulation:FILE?)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await bench.start()
    except PortInUseError as exc:
        _err(str(exc))
        return EXIT_PORT_IN_USE
    try:
        if args.write_bench:
            try:
                dump_bench_file(bench_file_for(bench), args.write_bench)
            except OSError as exc:  # checked before starting, but the folder may have changed since
                _err(f"--write-bench {args.write_bench}: {exc.strerror or exc}")
                return EXIT_CONFIG
        for rec in bench.describe():
            print(json.dumps(rec), flush=True)
        if args.speed:
            bench.set_speed(args.speed)
        print(
            f"hil sim: bench {config.name!r} seed {bench.seed} ready, {len(bench.endpoints)} endpoints"
            + (f", bench file {args.write_bench}" if args.write_bench else "")
            + " (SIGINT/SIGTERM to stop)",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
    finally:
        await bench.stop()
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from instruments.simulators.world.config import load_sim_bench

    problem = _sim_args_problem(args)
    if problem is not None:
        _err(problem)
        return EXIT_CONFIG
    try:
        config = load_sim_bench(args.bench)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    except (OSError, UnicodeDecodeError) as exc:  # e.g. a binary file where YAML was expected
        _err(f"cannot read bench file {args.bench}: {exc}")
        return EXIT_CONFIG
    host = args.host or config.network.host
    if not is_loopback(host):
        where = "--host" if args.host else "network.host of the bench file"
        _warn(
            f"serving on {host} ({where}), not loopback: the simulated instruments and the simulation control"
            " endpoint (time, truth, fault injection) are reachable from the network"
        )
    return asyncio.run(_serve_sim(args, config))


EXIT_NO_HTML = 4  # hil report: plots and tables written, but no HTML (no Node / no local Allure)


def cmd_report(args: argparse.Namespace) -> int:
    """``hil report [RUN_DIR]``: plots, summary and the Allure 3 HTML report of a run (reads the run directory only)."""
    from hil.reporting import report_run, summary_text

    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        _err(f"run directory {run_dir} does not exist (give RUN_DIR, or run `hil run` first)")
        return EXIT_CONFIG
    try:
        outcome = report_run(run_dir.resolve())
    except (OSError, ValueError) as exc:
        _err(str(exc))
        return EXIT_CONFIG
    print(summary_text(outcome.summaries), end="")
    print(f"plots: {outcome.plots.summary.parent}", file=sys.stderr)
    if outcome.index_html is None:
        return EXIT_NO_HTML
    print(outcome.index_html)
    return 0


def _add_report_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = sub.add_parser("report", help="build the plots and the Allure HTML report of a run")
    rep.add_argument("run_dir", nargs="?", type=Path, default=Path("reports/latest"), metavar="RUN_DIR",
                     help="run directory (default: reports/latest)")
    rep.set_defaults(func=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hil", description="MeterHIL: hardware-in-the-loop tests for electricity meters")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command")

    sim = sub.add_parser("sim", help="serve a simulated meter-test bench on loopback")
    sim.add_argument("--bench", type=Path, help="simulated-bench YAML (default: the packaged default bench)")
    sim.add_argument("--seed", type=int, help="random seed (default: the bench file's)")
    sim.add_argument("--write-bench", type=Path, metavar="OUT", help="write a bench file pointing at the servers")
    sim.add_argument(
        "--host", help="address to bind (default: the bench file's network.host, 127.0.0.1); warns if not loopback"
    )
    sim.add_argument(
        "--speed", type=float, default=0.0,
        help="free-running virtual clock, virtual seconds per wall second (default 0: advance on request only)",
    )
    sim.set_defaults(func=cmd_sim)
    _add_report_command(sub)
    from hil.cli_bench import add_bench_commands
    from hil.cli_kinds import add_kinds_command
    from hil.cli_reliability import add_reliability_commands
    from hil.cli_results import add_results_commands
    from hil.cli_run import add_run_commands
    from hil.cli_sts import add_sts_commands

    add_run_commands(sub)
    add_kinds_command(sub)
    add_bench_commands(sub)
    add_reliability_commands(sub)
    add_results_commands(sub)
    add_sts_commands(sub)
    return p


EXIT_INTERNAL = 4


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `hil` alone: what it can do
        parser.print_help()
        return 0
    try:
        rc: int = args.func(args)
    except BrokenPipeError:  # output piped into `head` and the like: the reader left, nothing went wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at interpreter exit
        return 0
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # a bug of ours: say so in one line and give its own exit code
        import traceback

        traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL
    return rc


if __name__ == "__main__":
    sys.exit(main())
