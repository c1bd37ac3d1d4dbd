"""``hil results ...``: the lab-wide results dataset (hil.dataset) from the command line.

``publish RUN_DIR…`` adds runs (``hil run`` publishes each run itself); ``type``, ``serial``, ``broken``, ``spc``
answer the common questions; ``sql`` anything else over the view ``results``. Tables print for people, or CSV with
``--csv``. An empty dataset or a bad query is one ``hil: error:`` line, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from hil.cli_reliability import _err


def _show(df: pd.DataFrame, csv: bool) -> None:
    if csv:
        df.to_csv(sys.stdout, index=False)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*[str(c) for c in df.columns])
    for row in df.itertuples(index=False):
        table.add_row(*["" if pd.isna(v) else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    (Console() if sys.stdout.isatty() else Console(width=220)).print(table)


def cmd_results(args: argparse.Namespace) -> int:
    import duckdb

    from hil.dataset import ResultsDB, dataset_root, publish, spc_plot

    root = dataset_root(args.dataset)
    try:
        if args.results_command == "publish":
            for run in args.runs:
                if not (run / "results.csv").exists() and not (run / "results.parquet").exists():
                    return _err(f"{run}: not a run directory (no results.csv / results.parquet)")
                path = publish(run, root)
                print(f"{run}: {'no rows' if path is None else path}")
            return 0
        db = ResultsDB(root)
        if args.results_command == "sql":
            df = db.sql(args.query)
        elif args.results_command == "type":
            df = db.type_errors(args.meter_type)
        elif args.results_command == "serial":
            df = db.serial_history(args.serial)
        elif args.results_command == "broken":
            df = db.broken_rate()
        else:
            df = db.spc(args.meter_type)
            if args.plot is not None and not df.empty:
                spc_plot(df, args.plot, f"X̄ chart · {args.meter_type}")
                print(f"plot: {args.plot}", file=sys.stderr)
    except FileNotFoundError as exc:
        return _err(str(exc))
    except duckdb.Error as exc:
        return _err(f"query refused: {str(exc).splitlines()[0]}")
    _show(df, args.csv)
    return 0


def add_results_commands(sub: Any) -> None:
    res = sub.add_parser("results", help="query the lab-wide results dataset across runs (DuckDB)",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="examples:\n  hil results type ACME-3P-60           error per point and batch\n"
                                "  hil results spc ACME-3P-60 --plot spc.png\n"
                                "  hil results serial MHS2600000009\n"
                                "  hil results sql \"SELECT bench, count(*) FROM results GROUP BY bench\"")
    res.add_argument("--dataset", type=Path, help="dataset directory (default: $METERHIL_DATASET, else "
                                                   "reports/dataset)")
    res.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    rs = res.add_subparsers(dest="results_command", required=True)
    p = rs.add_parser("publish", help="add run directories to the dataset (replaces a run published before)")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    q = rs.add_parser("sql", help="any SQL over the view `results` (columns of results.parquet + bench, date, run)")
    q.add_argument("query")
    t = rs.add_parser("type", help="a meter type's error per test point and batch (run)")
    t.add_argument("meter_type")
    s = rs.add_parser("serial", help="one meter's history across runs and benches")
    s.add_argument("serial")
    rs.add_parser("broken", help="broken rows per bench")
    c = rs.add_parser("spc", help="X̄ control chart per test point of a meter type (ISO 7870-2, 3 sigma)")
    c.add_argument("meter_type")
    c.add_argument("--plot", type=Path, help="write the chart as PNG")
    res.set_defaults(func=cmd_results)
