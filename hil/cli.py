"""``hil`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from hil import __version__
from instruments.yamlconfig import ConfigError

EXIT_CONFIG = 2
EXIT_PORT_IN_USE = 3


def _err(msg: str) -> None:
    print(f"hil: error: {msg}", file=sys.stderr, flush=True)


async def _serve_sim(args: argparse.Namespace) -> int:
    from hil.benchfile import dump_bench_file
    from hil.simbench import bench_file_for
    from instruments.simulators.bench import SimulatedBench
    from instruments.simulators.net import PortInUseError
    from instruments.simulators.world.config import load_sim_bench

    config = load_sim_bench(args.bench)
    bench = SimulatedBench(config, seed=args.seed, host=args.host)
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
            dump_bench_file(bench_file_for(bench), args.write_bench)
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
    try:
        return asyncio.run(_serve_sim(args))
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_CONFIG


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hil", description="MeterHIL: hardware-in-the-loop tests for electricity meters")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("sim", help="serve a simulated meter-test bench on loopback")
    sim.add_argument("--bench", type=Path, help="simulated-bench YAML (default: the packaged default bench)")
    sim.add_argument("--seed", type=int, help="random seed (default: the bench file's)")
    sim.add_argument("--write-bench", type=Path, metavar="OUT", help="write a bench file pointing at the servers")
    sim.add_argument("--host", help="address to bind (default 127.0.0.1)")
    sim.add_argument(
        "--speed", type=float, default=0.0,
        help="free-running virtual clock, virtual seconds per wall second (default 0: advance on request only)",
    )
    sim.set_defaults(func=cmd_sim)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
